"""Report of the DeepLesion 3D benchmark: table, JSON, CSV and curve PNG of
:func:`cspr_det.evaluation.functional.froc3d` results."""
import csv
import io
import json
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional

import numpy as np

from ..functional.froc3d import stratum_froc3d
from ..functional.froc_curve import curve_corners

__all__ = ['froc3d_summary', 'froc3d_table', 'write_froc3d_report']


def froc3d_summary(result: Dict,
                   strata: Optional[Dict[str, np.ndarray]] = None) -> Dict:
    """JSON-ready summary of a :func:`froc3d` result (and strata)."""
    cx, cy = curve_corners(
        result['curve_fps'],
        result['curve_sens'],
        max_fps=float(max(result['fps'])) * 2)
    out = dict(
        mode=result['mode'],
        overlap=result['overlap'],
        iou_thr=result['iou_thr'],
        plus_one=result['plus_one'],
        exact_rate=result['exact_rate'],
        fps=[float(v) for v in result['fps']],
        sens=[float(v) for v in result['sens']],
        clamped=[bool(v) for v in result['clamped']],
        mean_sens=float(result['mean_sens']),
        num_subvolumes=int(result['num_subvolumes']),
        num_lesions=int(result['num_lesions']),
        num_detections=int(result['num_detections']),
        num_fp=int(result['num_fp']),
        num_found=int(result['num_found']),
        max_fps=float(result['max_fps']),
        curve=dict(fps=[float(v) for v in cx], sens=[float(v) for v in cy]),
        strata={})
    for name, mask in (strata or {}).items():
        st = stratum_froc3d(result, mask)
        out['strata'][name] = dict(
            num_lesions=int(st['num_lesions']),
            num_found=int(st['num_found']),
            sens=[float(v) for v in st['sens']],
            mean_sens=float(st['mean_sens']))
    return out


def froc3d_table(summary: Dict, title: str = '') -> str:
    """Fixed-width text table: one row for all lesions, one per stratum."""
    fps = summary['fps']
    head = f'{"lesions":<22}{"n":>6} ' + ''.join(f'{f:>7g}'
                                                 for f in fps) + f'{"mean":>8}'
    lines = [title] if title else []
    lines += [
        f'{summary["mode"]} FROC, {summary["overlap"].upper()} >= '
        f'{summary["iou_thr"]:g}, sensitivity at FPs per sub-volume '
        f'({summary["num_subvolumes"]} sub-volumes, '
        f'{summary["num_detections"]} boxes)', head
    ]

    def row(name, n, sens, mean):
        cells = ''.join(f'{100 * s:>7.1f}' if s == s else f'{"-":>7}'
                        for s in sens)
        m = f'{100 * mean:>8.2f}' if mean == mean else f'{"-":>8}'
        return f'{name:<22}{n:>6} {cells}{m}'

    lines.append(
        row('all', summary['num_lesions'], summary['sens'],
            summary['mean_sens']))
    for name, st in summary['strata'].items():
        lines.append(row(name, st['num_lesions'], st['sens'], st['mean_sens']))
    if any(summary['clamped']):
        lines.append(f'(rates beyond {summary["max_fps"]:.3g} FPs per '
                     'sub-volume read the final sensitivity)')
    return '\n'.join(lines)


def _atomic(path: str, data: bytes) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _plot(summaries: Dict[str, Dict], path: str) -> None:
    import matplotlib  # noqa: F401  (optional plotting back end)
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    lo = min(s['fps'][0] for s in summaries.values()) / 2
    hi = max(s['fps'][-1] for s in summaries.values()) * 2
    for name, s in summaries.items():
        # rate 0 at the left edge of the log axis; the final sensitivity
        # holds beyond the last observed rate (how the table reads it)
        x = np.maximum(np.append(s['curve']['fps'], hi), lo)
        y = np.append(s['curve']['sens'], s['curve']['sens'][-1])
        ax.plot(x, y, label=f'{name} (mean {100 * s["mean_sens"]:.1f} %)')
    ax.set_xscale('log', base=2)
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('FPs per sub-volume')
    ax.set_ylabel('sensitivity')
    ax.grid(True, alpha=0.3)
    ax.legend(loc='lower right')
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format='png')
    plt.close(fig)
    _atomic(path, buf.getvalue())


def write_froc3d_report(summaries: Dict[str, Dict],
                        out_dir: str,
                        extra: Optional[Dict] = None) -> List[str]:
    """Write ``froc3d.json`` (all summaries and ``extra``), ``froc3d.csv``
    (one row per mode and stratum) and ``froc3d_curve.png``.

    Args:
        summaries: ``{'3D': summary, 'P3D': summary}`` from
            :func:`froc3d_summary`.
        out_dir: Output folder.
        extra: More JSON content (settings, failed sub-volumes).

    Returns:
        list: The written files.
    """
    doc = dict(results=summaries, **(extra or {}))
    jpath = osp.join(out_dir, 'froc3d.json')
    _atomic(jpath, json.dumps(doc, indent=1).encode('utf-8'))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    first = next(iter(summaries.values()))
    writer.writerow(['mode', 'lesions', 'num_lesions'] +
                    [f'sens@{f:g}' for f in first['fps']] + ['mean_sens'])
    for mode, s in summaries.items():
        writer.writerow([mode, 'all', s['num_lesions']] +
                        [f'{v:.6f}'
                         for v in s['sens']] + [f'{s["mean_sens"]:.6f}'])
        for name, st in s['strata'].items():
            writer.writerow([mode, name, st['num_lesions']] +
                            [f'{v:.6f}'
                             for v in st['sens']] + [f'{st["mean_sens"]:.6f}'])
    cpath = osp.join(out_dir, 'froc3d.csv')
    _atomic(cpath, text.getvalue().encode('utf-8'))
    ppath = osp.join(out_dir, 'froc3d_curve.png')
    _plot(summaries, ppath)
    return [jpath, cpath, ppath]
