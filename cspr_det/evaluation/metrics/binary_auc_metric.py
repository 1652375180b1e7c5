"""ROC AUC and operating-point statistics of a binary classifier."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from cspr_det.evaluation.functional.auc import (THRESHOLD_RULES,
                                                binary_metrics,
                                                choose_threshold, roc_auc)
from cspr_det.registry import METRICS
from .binary_cls_report import (plot_roc, write_per_sample_csv,
                                write_summary_json)

THRESHOLD_SOURCES = ('val', 'test_split')


def _get(sample, key: str, default=None):
    """``key`` of a data sample given as dict or data element (metainfo
    first)."""
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    if key in getattr(sample, 'metainfo', {}):
        return sample.metainfo[key]
    return getattr(sample, key, default)


def _scalar(value) -> float:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return float(np.asarray(value).reshape(-1)[0])


@METRICS.register_module()
class BinaryAUCMetric(BaseMetric):
    """ROC AUC, and accuracy / sensitivity / specificity / precision / F1 at
    a threshold chosen on the **validation** split.

    Each data sample needs ``pred_score`` (num_classes,) and ``gt_label``
    (1,); the score of a sample is ``pred_score[pos_label]``. Metainfo
    ``subset`` (``'val'``/``'test'``), ``nodule_id`` and ``patient_id``
    are used when present (:class:`~cspr_det.datasets.LIDCNoduleDataset`
    sets them).

    Which samples are scored: those of subset ``eval_subset`` (``'test'``)
    when the results contain any, else all of them (a validation run).

    The threshold (``threshold``):

    - ``'val'`` (default): maximise ``threshold_rule`` on the samples of
      subset ``'val'``. For a test run, evaluate a dataset with
      ``subset=('val', 'test')``: the threshold comes from the val samples
      and every statistic from the test samples. In a validation run the
      val samples are both;
    - ``'test_split'``: maximise it on the scored samples themselves, as
      the published LIDC code did. Optimistic; the source is logged and
      written to the report;
    - a number: a fixed threshold.

    AUC needs no threshold (exact Mann-Whitney statistic with ties, see
    :func:`~cspr_det.evaluation.functional.roc_auc`).

    Reported keys (prefix ``cls``): ``auc``, ``accuracy``,
    ``sensitivity``, ``specificity``, ``precision``, ``f1``,
    ``threshold``, ``num_pos``, ``num_neg`` and, when val samples were
    scored alongside test ones, ``auc_val``. With ``out_dir``:
    ``<out_dir>/cls_per_sample.csv`` (id, patient, subset, label,
    probability, prediction of every sample), ``roc.png`` and
    ``cls_metrics.json``.

    Args:
        pos_label: Index of the positive class in ``pred_score`` (1).
        threshold: ``'val'``, ``'test_split'`` or a number in [0, 1].
        threshold_rule: ``'youden'``, ``'f1'`` or ``'accuracy'``.
        eval_subset: Subset scored when present (``'test'``).
        out_dir: Directory of the report files (created).
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Key prefix (default ``'cls'``).
    """

    default_prefix = 'cls'

    def __init__(self,
                 pos_label: int = 1,
                 threshold: Union[str, float] = 'val',
                 threshold_rule: str = 'youden',
                 eval_subset: str = 'test',
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(threshold, str):
            if threshold not in THRESHOLD_SOURCES:
                raise ValueError(
                    'BinaryAUCMetric: threshold must be a number or one of '
                    f'{THRESHOLD_SOURCES}, got {threshold!r}')
        elif not 0.0 <= float(threshold) <= 1.0:
            raise ValueError('BinaryAUCMetric: a fixed threshold must be in '
                             f'[0, 1], got {threshold}')
        if threshold_rule not in THRESHOLD_RULES:
            raise ValueError('BinaryAUCMetric: threshold_rule must be one of '
                             f'{THRESHOLD_RULES}, got {threshold_rule!r}')
        self.pos_label = int(pos_label)
        self.threshold = threshold
        self.threshold_rule = threshold_rule
        self.eval_subset = eval_subset
        self.out_dir = out_dir

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep each sample's score, label and identity."""
        for sample in data_samples:
            score, label = _get(sample, 'pred_score'), _get(sample, 'gt_label')
            sid = _get(sample, 'nodule_id', _get(sample, 'sample_idx'))
            if score is None or label is None:
                raise ValueError(
                    f'BinaryAUCMetric: sample {sid} lacks '
                    f'{"pred_score" if score is None else "gt_label"}')
            if hasattr(score, 'detach'):
                score = score.detach().cpu().numpy()
            score = np.asarray(score, dtype=np.float64).reshape(-1)
            if not np.isfinite(score).all():
                raise ValueError('BinaryAUCMetric: non-finite pred_score '
                                 f'{score.tolist()} for sample {sid}')
            if score.size <= self.pos_label:
                raise ValueError(
                    f'BinaryAUCMetric: pred_score of sample {sid} has '
                    f'{score.size} classes, pos_label is {self.pos_label}')
            self.results.append(
                dict(
                    sample_id=str(
                        sid if sid is not None else len(self.results)),
                    patient_id=_get(sample, 'patient_id', ''),
                    subset=_get(sample, 'subset', ''),
                    label=int(_scalar(label) == self.pos_label),
                    score=float(score[self.pos_label])))

    def _pick_threshold(self, val: List[dict], scored: List[dict]) -> tuple:
        """The threshold and a description of where it came from."""
        if not isinstance(self.threshold, str):
            return float(self.threshold), 'fixed'
        if self.threshold == 'test_split':
            pool, source = scored, 'test_split (optimistic)'
        else:
            if not val:
                raise ValueError(
                    "BinaryAUCMetric: threshold='val' needs validation "
                    "samples (subset 'val'); evaluate a dataset with "
                    "subset=('val', 'test'), or give a fixed threshold")
            pool, source = val, 'val'
        value = choose_threshold([r['label'] for r in pool],
                                 [r['score'] for r in pool],
                                 self.threshold_rule)
        return value, f'{source}, {self.threshold_rule}'

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """AUC and statistics at the chosen threshold; writes the report."""
        val = [r for r in results if r['subset'] == 'val']
        scored = [r for r in results if r['subset'] == self.eval_subset]
        with_val = bool(val) and bool(scored) and self.eval_subset != 'val'
        if not scored:
            scored = list(results)
        threshold, source = self._pick_threshold(val, scored)
        labels = np.array([r['label'] for r in scored])
        scores = np.array([r['score'] for r in scored])
        stats = binary_metrics(labels, scores, threshold)
        metrics = OrderedDict(auc=roc_auc(labels, scores))
        for key in ('accuracy', 'sensitivity', 'specificity', 'precision',
                    'f1'):
            metrics[key] = stats[key]
        metrics['threshold'] = threshold
        metrics['num_pos'] = int(labels.sum())
        metrics['num_neg'] = int(labels.size - labels.sum())
        if with_val:
            metrics['auc_val'] = roc_auc([r['label'] for r in val],
                                         [r['score'] for r in val])
        subset = scored[0]['subset'] or 'all'
        print_log(
            f'BinaryAUCMetric: {subset} ({metrics["num_pos"]} positive / '
            f'{metrics["num_neg"]} negative): AUC {metrics["auc"]:.4f}; at '
            f'threshold {threshold:.4f} (chosen on {source}): accuracy '
            f'{stats["accuracy"]:.4f}, sensitivity '
            f'{stats["sensitivity"]:.4f}, specificity '
            f'{stats["specificity"]:.4f}, F1 {stats["f1"]:.4f}',
            logger='current')
        if self.out_dir:
            self._write_reports(results, scored, val if with_val else [],
                                threshold, stats, metrics, source)
        return dict(metrics)

    def _write_reports(self, results, scored, val, threshold, stats, metrics,
                       source) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        write_per_sample_csv(
            osp.join(self.out_dir, 'cls_per_sample.csv'), results, threshold)
        name = scored[0]['subset'] or 'scored'
        curves = {
            f'{name} (AUC {metrics["auc"]:.3f})':
            ([r['label'] for r in scored], [r['score'] for r in scored])
        }
        if val:
            curves[f'val (AUC {metrics["auc_val"]:.3f})'] = ([
                r['label'] for r in val
            ], [r['score'] for r in val])
        point = (1 - stats['specificity'], stats['sensitivity'],
                 f'threshold {threshold:.3f} ({source})')
        plot_roc(osp.join(self.out_dir, 'roc.png'), curves, point)
        write_summary_json(
            osp.join(self.out_dir, 'cls_metrics.json'), metrics,
            dict(
                threshold_source=source,
                eval_subset=name,
                num_samples=len(results)))


__all__ = ['BinaryAUCMetric', 'THRESHOLD_SOURCES']
