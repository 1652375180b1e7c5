"""Dice and 95 % Hausdorff distance of 3D segmentations."""
import csv
import io
import json
import os
import os.path as osp
import tempfile
import warnings
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from cspr_det.evaluation.functional.dice import (confusion_counts,
                                                 dice_from_counts,
                                                 mean_foreground)
from cspr_det.evaluation.functional.hausdorff import hausdorff_distance
from cspr_det.registry import METRICS


def _get(sample, key: str, default=None):
    """``key`` of a data sample given as dict (evaluator) or data element."""
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    if key in getattr(sample, 'metainfo', {}):
        return sample.metainfo[key]
    return getattr(sample, key, default)


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _key(name: str) -> str:
    return str(name).replace(' ', '_')


def _num(value: float) -> Optional[float]:
    """JSON-safe float (NaN -> None)."""
    return None if value is None or np.isnan(value) else float(value)


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(path) or '.', suffix='.tmp')
    with os.fdopen(fd, 'w', newline='', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


@METRICS.register_module()
class VolumeDiceMetric(BaseMetric):
    """Dice per class and 95 % Hausdorff distance of label volumes.

    Each data sample needs ``pred_seg`` and ``gt_seg`` ``(D, H, W)`` on the
    same grid (the converted case grid), metainfo ``case_id`` and, for the
    Hausdorff distance, ``spacing`` ``(z, y, x)`` in mm. Voxels with
    ground truth ``ignore_index`` are left out of the Dice counts (and
    count as background for HD95). Class names come from the dataset
    metainfo ``classes`` (background first).

    Reported (keys under the prefix ``seg``; class names with spaces
    replaced by ``_``):

    - ``Dice_<class>``: global Dice, ``2 sum_cases |P & G| / sum_cases
      (|P| + |G|)``, and ``mDice``, its mean over the foreground classes;
    - ``Dice_case_<class>``: mean over cases of the per-case Dice and
      ``mDice_case`` (a case where a class is absent from both prediction
      and ground truth has no Dice for it and is left out; a class only
      predicted scores 0);
    - ``HD95_<class>`` (mm): mean over the cases where both masks are
      non-empty, and ``mHD95``; ``HD95_missing_<class>`` counts the cases
      with a ground-truth object but an empty prediction (no distance
      exists; they are excluded from the mean and must be read alongside
      it).

    With ``out_dir`` it writes ``seg_metrics.json`` (summary + per case)
    and ``seg_per_case.csv`` (one row per case: Dice, HD95 and volumes in
    ml per foreground class).

    Args:
        ignore_index: Ground-truth label without a score (255).
        hd95: Compute the Hausdorff distance (costs an EDT per class and
            case, on the objects' bounding box).
        hd_percentile: Percentile of the surface distances (95).
        classes: Class names overriding the dataset metainfo.
        out_dir: Directory of the JSON/CSV reports (created).
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Key prefix (default ``'seg'``).
    """

    default_prefix = 'seg'

    def __init__(self,
                 ignore_index: int = 255,
                 hd95: bool = True,
                 hd_percentile: float = 95.0,
                 classes: Optional[Sequence[str]] = None,
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0 < hd_percentile <= 100:
            raise ValueError('VolumeDiceMetric: hd_percentile must be in '
                             f'(0, 100], got {hd_percentile}')
        self.ignore_index = ignore_index
        self.hd95 = hd95
        self.hd_percentile = float(hd_percentile)
        self._classes = None if classes is None else [str(c) for c in classes]
        self.out_dir = out_dir

    @property
    def classes(self) -> List[str]:
        """Class names, background first."""
        if self._classes is not None:
            return self._classes
        meta = self.dataset_meta or {}
        if 'classes' not in meta:
            raise ValueError(
                'VolumeDiceMetric: the dataset metainfo has no "classes"; '
                'pass classes=[...] to the metric')
        return [str(c) for c in meta['classes']]

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Reduce each case to its counts and distances (the volumes are not
        kept)."""
        classes = self.classes
        num_classes = len(classes)
        for i, sample in enumerate(data_samples):
            case_id = _get(sample, 'case_id', None)
            if case_id is None:
                case_id = f'case_{len(self.results)}'
            pred, gt = _get(sample, 'pred_seg'), _get(sample, 'gt_seg')
            if pred is None or gt is None:
                raise ValueError(f'VolumeDiceMetric: case {case_id} lacks '
                                 f'{"pred_seg" if pred is None else "gt_seg"}')
            pred, gt = _to_numpy(pred), _to_numpy(gt)
            if pred.shape != gt.shape:
                raise ValueError(f'VolumeDiceMetric: case {case_id}: pred_seg '
                                 f'{pred.shape} and gt_seg {gt.shape} differ')
            try:
                counts = confusion_counts(pred, gt, num_classes,
                                          self.ignore_index)
            except ValueError as err:
                raise ValueError(f'VolumeDiceMetric: case {case_id}: {err}')
            spacing = _get(sample, 'spacing', None)
            if spacing is None and self.hd95:
                raise ValueError(
                    f'VolumeDiceMetric: case {case_id} has no spacing '
                    'metainfo (needed for HD95 in mm; hd95=False skips it)')
            hd = np.full(num_classes, np.nan)
            if self.hd95:
                spacing = tuple(float(s) for s in spacing)
                for c in range(1, num_classes):
                    hd[c] = hausdorff_distance(pred == c, gt == c, spacing,
                                               self.hd_percentile)
            voxel_ml = float(np.prod(spacing)) / 1000.0 \
                if spacing is not None else float('nan')
            self.results.append(
                dict(
                    case_id=str(case_id),
                    inter=counts['inter'],
                    pred=counts['pred'],
                    gt=counts['gt'],
                    hd=hd,
                    voxel_ml=voxel_ml))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Global and per-case Dice, HD95; writes the reports."""
        classes = self.classes
        fg = list(range(1, len(classes)))
        inter = np.stack([r['inter'] for r in results])
        pred = np.stack([r['pred'] for r in results])
        gt = np.stack([r['gt'] for r in results])
        hd = np.stack([r['hd'] for r in results])
        case_dice = dice_from_counts(inter, pred, gt)  # (cases, C)
        global_dice = dice_from_counts(inter.sum(0), pred.sum(0), gt.sum(0))
        with warnings.catch_warnings():  # all-NaN columns give NaN
            warnings.simplefilter('ignore', RuntimeWarning)
            case_mean = np.nanmean(case_dice, axis=0)
            hd_mean = np.nanmean(hd, axis=0)
        metrics = OrderedDict()
        metrics['mDice'] = mean_foreground(global_dice, fg)
        metrics['mDice_case'] = mean_foreground(case_mean, fg)
        if self.hd95:
            metrics['mHD95'] = mean_foreground(hd_mean, fg)
        for c in fg:
            name = _key(classes[c])
            metrics[f'Dice_{name}'] = float(global_dice[c])
            metrics[f'Dice_case_{name}'] = float(case_mean[c])
            if self.hd95:
                metrics[f'HD95_{name}'] = float(hd_mean[c])
                metrics[f'HD95_missing_{name}'] = int(
                    np.sum((gt[:, c] > 0) & (pred[:, c] == 0)))
        self._log_table(classes, global_dice, case_mean, hd_mean, len(results))
        if self.out_dir:
            self._write_reports(results, classes, case_dice, metrics)
        return dict(metrics)

    def _log_table(self, classes, global_dice, case_mean, hd_mean,
                   num_cases: int) -> None:
        lines = [
            f'Volume Dice over {num_cases} case(s):',
            f'{"class":<20}{"Dice":>8}{"Dice/case":>11}'
            f'{"HD95 mm":>10}'
        ]
        for c in range(1, len(classes)):
            lines.append(f'{classes[c]:<20}{100 * global_dice[c]:>8.2f}'
                         f'{100 * case_mean[c]:>11.2f}{hd_mean[c]:>10.2f}')
        print_log('\n'.join(lines), logger='current')

    def _write_reports(self, results, classes, case_dice,
                       metrics: Mapping) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        fg = list(range(1, len(classes)))
        cases = []
        for r, dice in zip(results, case_dice):
            cases.append(
                OrderedDict(
                    case_id=r['case_id'],
                    dice={classes[c]: _num(dice[c])
                          for c in fg},
                    hd95_mm={classes[c]: _num(r['hd'][c])
                             for c in fg},
                    gt_ml={
                        classes[c]: _num(r['gt'][c] * r['voxel_ml'])
                        for c in fg
                    },
                    pred_ml={
                        classes[c]: _num(r['pred'][c] * r['voxel_ml'])
                        for c in fg
                    }))
        summary = {
            k: (_num(v) if isinstance(v, float) else v)
            for k, v in metrics.items()
        }
        _write_atomic(
            osp.join(self.out_dir, 'seg_metrics.json'),
            json.dumps(
                dict(
                    classes=list(classes),
                    hd_percentile=self.hd_percentile,
                    summary=summary,
                    cases=cases),
                indent=2))
        header = ['case_id']
        for c in fg:
            name = _key(classes[c])
            header += [
                f'dice_{name}', f'hd95_mm_{name}', f'gt_ml_{name}',
                f'pred_ml_{name}'
            ]
        rows = []
        for case in cases:
            row = [case['case_id']]
            for c in fg:
                n = classes[c]
                row += [
                    case['dice'][n], case['hd95_mm'][n], case['gt_ml'][n],
                    case['pred_ml'][n]
                ]
            rows.append([
                '' if v is None else
                (f'{v:.6g}' if isinstance(v, float) else v) for v in row
            ])
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(rows)
        _write_atomic(
            osp.join(self.out_dir, 'seg_per_case.csv'), buf.getvalue())
