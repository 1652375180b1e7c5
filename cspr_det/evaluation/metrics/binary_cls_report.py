"""Report files of :class:`BinaryAUCMetric`: per-sample CSV, ROC PNG and a
JSON summary."""
import csv
import io
import json
import os
import os.path as osp
import tempfile
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from cspr_det.evaluation.functional.auc import roc_curve


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(path) or '.', suffix='.tmp')
    with os.fdopen(fd, 'w', newline='', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def _num(value):
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return value


def write_per_sample_csv(path: str, results: Sequence[Mapping],
                         threshold: float) -> None:
    """One row per sample: ``sample_id``, ``patient_id``, ``subset``,
    ``label``, ``prob`` (of the positive class) and ``pred`` (``prob >=
    threshold``)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        ['sample_id', 'patient_id', 'subset', 'label', 'prob', 'pred'])
    for r in results:
        writer.writerow([
            r['sample_id'],
            r.get('patient_id', ''),
            r.get('subset', ''),
            int(r['label']), f'{r["score"]:.6f}',
            int(r['score'] >= threshold)
        ])
    _write_atomic(path, buf.getvalue())


def plot_roc(path: str,
             curves: Dict[str, tuple],
             operating_point: Optional[tuple] = None,
             title: str = 'ROC') -> None:
    """Write an ROC plot.

    Args:
        path: Output ``.png``.
        curves: legend label -> ``(labels, scores)``.
        operating_point: Optional ``(fpr, tpr, text)`` marked on the plot.
        title: Plot title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, drawstyle='default', label=name)
    ax.plot([0, 1], [0, 1], color='0.7', lw=0.8, ls='--')
    if operating_point is not None:
        fpr, tpr, text = operating_point
        ax.plot([fpr], [tpr], 'o', color='k', ms=5, label=text)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel('1 - specificity (false-positive rate)')
    ax.set_ylabel('sensitivity (true-positive rate)')
    ax.set_title(title)
    ax.legend(loc='lower right', fontsize=7)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(path) or '.', suffix='.png')
    os.close(fd)
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def write_summary_json(path: str, metrics: Mapping, info: Mapping) -> None:
    """The metrics and how they were obtained (threshold source, rule,
    counts) as JSON (NaN -> null)."""
    _write_atomic(
        path,
        json.dumps(
            dict(
                metrics={
                    k: _num(v)
                    for k, v in metrics.items()
                },
                info={
                    k: _num(v)
                    for k, v in info.items()
                }),
            indent=2))


__all__ = ['plot_roc', 'write_per_sample_csv', 'write_summary_json']
