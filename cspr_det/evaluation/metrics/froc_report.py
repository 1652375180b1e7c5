"""Text table, CSV, JSON and plot of a DeepLesion FROC report (the dict
built by ``evaluate_froc_records``)."""
import csv
import json
import os
import os.path as osp
from typing import List

import numpy as np

from .coco_ap50 import AP50_LABEL
from .deeplesion_strata import fmt_number


def protocol_line(report: dict) -> str:
    """One line stating the protocol and counts of a report."""
    p = report['protocol']
    line = (f"DeepLesion FROC: {report['num_images']} images, "
            f"{report['num_lesions']} lesions, noisy={p['noisy']}")
    if p['noisy'] == 'drop':
        line += (f" ({report['dropped_noisy_lesions']} noisy lesions and "
                 f"{report['dropped_images']} images dropped)")
    line += (f"; {p['overlap'].upper()} >= {fmt_number(p['iou_thr'])}"
             f"{' (+1 pixel widths)' if p['plus_one'] else ''}; "
             f"exact rates read the {p['exact_rate']} point; last observed "
             f"FP rate {report['max_fps']:.3f}/image, sensitivities beyond "
             'it clamped; strata share the FP axis of all images')
    return line


def strata_count_lines(report: dict) -> List[str]:
    """One line per binned stratum group (size, slice interval) giving the
    lesion count of every bin, empty bins and unknown values included."""
    lines = []
    titles = dict(
        size='lesions per long-diameter bin',
        interval='lesions per slice-interval bin')
    for group, counts in report.get('strata_counts', {}).items():
        text = ', '.join(f"{c['name']}: {c['num_lesions']}"
                         for c in counts['bins'])
        lines.append(f'{titles.get(group, group)}: {text}; unknown: '
                     f"{counts['unknown']}")
    return lines


def format_table(report: dict) -> str:
    """The per-stratum sensitivity table of a report, as text."""
    from terminaltables import AsciiTable

    fps = report['protocol']['fps']
    header = ['stratum', 'lesions'] + [f'sens@{fmt_number(f)}' for f in fps]
    header.append('mean(0.5-4)')
    table = [header]
    for r in report['rows']:
        cells = [r['name'], str(r['num_lesions'])]
        cells += [f'{s:.4f}' for s in r['sens']]
        cells.append(f"{r['mean_sens']:.4f}")
        table.append(cells)
    marks = [fmt_number(f) for f, c in zip(fps, report['clamped']) if c]
    lines = [protocol_line(report), AsciiTable(table).table]
    if marks:
        lines.append('clamped (beyond the last observed FP rate): @' +
                     ', @'.join(marks))
    lines += strata_count_lines(report)
    if report.get('ap50') is not None:
        p = report['protocol']
        differs = (
            p['overlap'] != 'iou' or p['plus_one']
            or float(p['iou_thr']) != 0.5)
        lines.append(f"{AP50_LABEL}: {report['ap50']:.4f}" +
                     (" (COCO's matching, not the FROC's overlap rule above)"
                      if differs else ''))
    return '\n'.join(lines)


def write_report_files(report: dict,
                       out_dir: str,
                       curve_png: bool = True) -> List[str]:
    """Write ``froc.json``, ``froc.csv`` and ``froc_curve.png`` to
    ``out_dir`` and return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    json_path = osp.join(out_dir, 'froc.json')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=1, default=float)
    paths.append(json_path)
    csv_path = osp.join(out_dir, 'froc.csv')
    fps = report['protocol']['fps']
    with open(csv_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['group', 'stratum', 'num_lesions', 'num_found'] +
                        [f'sens@{fmt_number(v)}' for v in fps] + ['mean_sens'])
        for r in report['rows']:
            writer.writerow(
                [r['group'], r['name'], r['num_lesions'], r['num_found']] +
                [f'{s:.6f}' for s in r['sens']] + [f"{r['mean_sens']:.6f}"])
    paths.append(csv_path)
    if curve_png:
        paths.append(plot_curve(report, osp.join(out_dir, 'froc_curve.png')))
    return paths


def plot_curve(report: dict, path: str) -> str:
    """Plot the report's FROC curve (log FP axis, the reported rates marked)
    to a PNG file with matplotlib's Agg backend; return ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fps = np.asarray(report['protocol']['fps'])
    overall = report['rows'][0]
    x = np.asarray(report['curve']['fps'])
    y = np.asarray(report['curve']['sens'])
    low = min(fps.min(), 0.125) / 2
    fig = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    # extend the last point flat to the right edge (clamping)
    xs = np.append(np.maximum(x, low), max(fps.max(), x[-1]) * 1.2)
    ax.plot(
        xs, np.append(y, y[-1]), drawstyle='steps-post', lw=1.5, label='FROC')
    ax.plot(fps, overall['sens'], 'o', label='reported rates')
    for f, s in zip(fps, overall['sens']):
        ax.annotate(
            f'{s:.3f}', (f, s),
            textcoords='offset points',
            xytext=(0, -14),
            ha='center',
            fontsize=8)
    ax.set_xscale('log')
    ax.set_xlim(low, max(fps.max(), 1) * 1.2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('false positives per image')
    ax.set_ylabel('sensitivity')
    p = report['protocol']
    ax.set_title(
        f"DeepLesion FROC (noisy={p['noisy']}, "
        f"{p['overlap'].upper()}>={fmt_number(p['iou_thr'])}), "
        f"mean {overall['mean_sens']:.4f}",
        fontsize=10)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(path)
    return path
