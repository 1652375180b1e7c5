"""VolumeDiceMetric: global and per-case Dice, HD95 in mm, reports."""
import csv
import json
import math

import numpy as np
import pytest
import torch

from cspr_det.evaluation.functional import hausdorff_distance
from cspr_det.registry import METRICS
from cspr_det.structures import VolumeSegDataSample

CLASSES = ('background', 'liver', 'liver tumour')


def _sample(case_id, pred, gt, spacing=(2.0, 0.5, 0.5)):
    s = VolumeSegDataSample(metainfo=dict(case_id=case_id, spacing=spacing))
    s.pred_seg = torch.as_tensor(pred).long()
    s.gt_seg = torch.as_tensor(gt).long()
    return s.to_dict()  # what the evaluator hands to process()


def _cases():
    a_gt = np.zeros((4, 6, 6), int)
    a_gt[1:3, 1:5, 1:5] = 1
    a_gt[1, 2:4, 2:4] = 2
    a_pred = a_gt.copy()
    a_pred[1:3, 1, 1:5] = 0  # misses one row of liver (8 voxels)
    b_gt = np.zeros((4, 6, 6), int)
    b_gt[0:2, 0:3, 0:3] = 1
    b_pred = np.zeros_like(b_gt)
    b_pred[0:2, 0:3, 0:2] = 1
    b_pred[3, 5, 5] = 2  # a false-positive tumour
    return [('a', a_pred, a_gt), ('b', b_pred, b_gt)]


def test_dice_hd95_and_reports(tmp_path):
    metric = METRICS.build(
        dict(type='cspr_det.VolumeDiceMetric', out_dir=str(tmp_path)))
    metric.dataset_meta = dict(classes=CLASSES)
    cases = _cases()
    metric.process({}, [_sample(*c) for c in cases])
    res = metric.evaluate(2)
    # liver: a: gt 32-4=28, pred 28-8+... computed by hand below
    a_gt_l, a_pr_l = 28, 20  # 32 - 4 tumour; minus 8 missed (none tumour)
    b_gt_l, b_pr_l = 18, 12
    a_int, b_int = 20, 12
    dice_a = 2 * a_int / (a_gt_l + a_pr_l)
    dice_b = 2 * b_int / (b_gt_l + b_pr_l)
    glob = 2 * (a_int + b_int) / (a_gt_l + a_pr_l + b_gt_l + b_pr_l)
    assert res['seg/Dice_liver'] == pytest.approx(glob)
    assert res['seg/Dice_case_liver'] == pytest.approx((dice_a + dice_b) / 2)
    # tumour: case a perfect (1.0), case b false positive only (0.0)
    assert res['seg/Dice_case_liver_tumour'] == pytest.approx(0.5)
    assert res['seg/Dice_liver_tumour'] == pytest.approx(2 * 4 / (4 + 5))
    assert res['seg/mDice'] == pytest.approx((glob + 8 / 9) / 2)
    hd_a = hausdorff_distance(cases[0][1] == 1, cases[0][2] == 1,
                              (2.0, 0.5, 0.5))
    hd_b = hausdorff_distance(cases[1][1] == 1, cases[1][2] == 1,
                              (2.0, 0.5, 0.5))
    assert hd_b == pytest.approx(0.5)  # one column of voxels, 0.5 mm away
    assert res['seg/HD95_liver'] == pytest.approx((hd_a + hd_b) / 2)
    # tumour HD95 only where both masks exist (case a: identical -> 0)
    assert res['seg/HD95_liver_tumour'] == 0.0
    assert res['seg/HD95_missing_liver'] == 0
    summary = json.loads((tmp_path / 'seg_metrics.json').read_text())
    assert summary['classes'] == list(CLASSES)
    assert [c['case_id'] for c in summary['cases']] == ['a', 'b']
    assert summary['cases'][1]['hd95_mm']['liver tumour'] is None
    assert summary['cases'][0]['gt_ml']['liver'] == pytest.approx(28 * 0.5 /
                                                                  1000)
    rows = list(csv.DictReader(open(tmp_path / 'seg_per_case.csv')))
    assert float(rows[0]['dice_liver']) == pytest.approx(dice_a, rel=1e-5)
    assert rows[1]['hd95_mm_liver_tumour'] == ''
    assert float(rows[1]['dice_liver_tumour']) == 0.0


def test_missing_prediction_counts_and_nan_handling():
    metric = METRICS.build(
        dict(type='cspr_det.VolumeDiceMetric', classes=('bg', 'organ')))
    gt = np.zeros((3, 4, 4), int)
    gt[1, 1:3, 1:3] = 1
    metric.process({}, [_sample('x', np.zeros_like(gt), gt)])
    res = metric.evaluate(1)
    assert res['seg/Dice_organ'] == 0.0
    assert math.isnan(res['seg/HD95_organ'])
    assert res['seg/HD95_missing_organ'] == 1


def test_errors_name_the_case():
    metric = METRICS.build(dict(type='cspr_det.VolumeDiceMetric'))
    metric.dataset_meta = dict(classes=('bg', 'liver'))
    gt = np.zeros((2, 2, 2), int)
    with pytest.raises(ValueError, match='case q: .*label 3 is outside'):
        metric.process({}, [_sample('q', gt + 3, gt)])
    with pytest.raises(ValueError, match='case r: pred_seg .* differ'):
        metric.process({}, [_sample('r', np.zeros((2, 2, 3), int), gt)])
    s = _sample('s', gt, gt)
    s.pop('spacing')
    with pytest.raises(ValueError, match='case s has no spacing'):
        metric.process({}, [s])
    no_meta = METRICS.build(dict(type='cspr_det.VolumeDiceMetric'))
    with pytest.raises(ValueError, match='no "classes"'):
        no_meta.process({}, [_sample('t', gt, gt)])
