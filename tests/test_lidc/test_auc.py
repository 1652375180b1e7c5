"""AUC with ties (hand-computed, brute force, MONAI), ROC points, threshold
choice and BinaryAUCMetric's val-chosen threshold and reports."""
import csv
import json
import os.path as osp

import numpy as np
import pytest
import torch

from cspr_det.evaluation.functional import (binary_metrics, choose_threshold,
                                            roc_auc, roc_curve)
from cspr_det.evaluation.metrics import BinaryAUCMetric


def _pairwise_auc(labels, scores):
    """Brute force: P(score_pos > score_neg) + 0.5 P(equal)."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos
               for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize(
    'labels,scores,expected',
    [
        ([0, 1], [0.2, 0.8], 1.0),
        ([0, 1], [0.8, 0.2], 0.0),
        ([0, 1], [0.5, 0.5], 0.5),  # one tied pair
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),  # 3 of 4 pairs
        # ties across classes: pairs (pos, neg): (.5,.5)=.5 (.5,.2)=1 (.9,.5)=1
        # (.9,.2)=1 -> 3.5 / 4
        ([0, 0, 1, 1], [0.5, 0.2, 0.5, 0.9], 0.875),
        # all equal: every pair tied
        ([0, 1, 0, 1, 1], [0.3] * 5, 0.5),
        # ties inside one class do not matter: 6 pairs, (.7 vs .7) ties twice
        ([1, 1, 0, 0, 0], [0.7, 0.7, 0.7, 0.1, 0.1], (2 * 0.5 + 4) / 6),
    ])
def test_auc_hand_cases(labels, scores, expected):
    assert roc_auc(labels, scores) == pytest.approx(expected, abs=1e-12)
    assert _pairwise_auc(labels, scores) == pytest.approx(expected, abs=1e-12)


def test_auc_matches_brute_force_and_monai_on_tied_scores():
    from monai.metrics import compute_roc_auc
    rng = np.random.default_rng(0)
    for n in (7, 40, 300):
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        scores = rng.integers(0, 6, n) / 5.0  # many ties
        expected = _pairwise_auc(labels, scores)
        assert roc_auc(labels, scores) == pytest.approx(expected, abs=1e-12)
        ref = compute_roc_auc(torch.tensor(scores), torch.tensor(labels))
        assert roc_auc(labels, scores) == pytest.approx(ref, abs=1e-12)


def test_auc_undefined_and_bad_input():
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    with pytest.raises(ValueError, match='0 or 1'):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match='finite'):
        roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match='2 labels but 3 scores'):
        roc_auc([0, 1], [0.1, 0.2, 0.3])


def test_roc_curve_points_and_area():
    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.4, 0.4, 0.8, 0.6, 0.6]
    fpr, tpr, thr = roc_curve(labels, scores)
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.6, 0.4, 0.1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 2 / 3, 1])
    # the trapezoid area of the tie-aware curve is the rank AUC
    assert np.trapz(tpr, fpr) == pytest.approx(roc_auc(labels, scores))


def test_threshold_rules_and_operating_point():
    labels = [0, 0, 0, 1, 1, 1]
    scores = [0.1, 0.2, 0.6, 0.5, 0.7, 0.9]
    # Youden: t=0.5 -> sens 1, spec 2/3 (J=.667); t=0.7 -> 2/3, 1 (J=.667)
    # tie -> the higher threshold
    assert choose_threshold(labels, scores, 'youden') == 0.7
    assert choose_threshold(labels, scores, 'f1') == 0.5  # F1 .857 vs .8
    stats = binary_metrics(labels, scores, 0.5)
    assert stats['sensitivity'] == 1.0
    assert stats['specificity'] == pytest.approx(2 / 3)
    assert stats['accuracy'] == pytest.approx(5 / 6)
    assert stats['precision'] == pytest.approx(3 / 4)
    assert stats['f1'] == pytest.approx(6 / 7)
    with pytest.raises(ValueError, match='threshold rule'):
        choose_threshold(labels, scores, 'max')


def _samples(subset, labels, probs):
    return [
        dict(
            pred_score=torch.tensor([1 - p, p]),
            gt_label=torch.tensor([y]),
            nodule_id=f'{subset}{i}',
            patient_id=f'P{i}',
            subset=subset) for i, (y, p) in enumerate(zip(labels, probs))
    ]


def test_metric_threshold_from_val_applied_to_test(tmp_path):
    metric = BinaryAUCMetric(out_dir=str(tmp_path))
    val = _samples('val', [0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9])
    test = _samples('test', [0, 0, 1, 1, 0], [0.2, 0.5, 0.55, 0.7, 0.65])
    metric.process(None, val + test)
    out = metric.compute_metrics(metric.results)
    # Youden on val: t = 0.6 separates perfectly (highest such threshold)
    assert out['threshold'] == pytest.approx(0.6)
    assert out['auc'] == pytest.approx(
        _pairwise_auc([0, 0, 1, 1, 0], [.2, .5, .55, .7, .65]))
    assert out['auc_val'] == 1.0
    # test at 0.6: TP 1 (0.7), FP 1 (0.65), TN 2, FN 1 (0.55)
    assert out['sensitivity'] == 0.5
    assert out['specificity'] == pytest.approx(2 / 3)
    assert out['num_pos'] == 2 and out['num_neg'] == 3
    with open(osp.join(tmp_path, 'cls_per_sample.csv')) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and rows[4]['sample_id'] == 'test0'
    assert [r['pred'] for r in rows[4:]] == ['0', '0', '0', '1', '1']
    assert osp.getsize(osp.join(tmp_path, 'roc.png')) > 1000
    with open(osp.join(tmp_path, 'cls_metrics.json')) as f:
        assert json.load(f)['info']['threshold_source'] == 'val, youden'


def test_metric_test_split_option_and_validation_run():
    test = _samples('test', [0, 0, 1, 1, 0], [0.2, 0.5, 0.55, 0.7, 0.65])
    leaky = BinaryAUCMetric(threshold='test_split')
    leaky.process(None, test)
    out = leaky.compute_metrics(leaky.results)
    assert out['threshold'] == pytest.approx(0.55)  # chosen on test itself
    strict = BinaryAUCMetric()
    strict.process(None, test)
    with pytest.raises(ValueError, match="threshold='val' needs"):
        strict.compute_metrics(strict.results)
    fixed = BinaryAUCMetric(threshold=0.5)
    fixed.process(None, test)
    assert fixed.compute_metrics(fixed.results)['threshold'] == 0.5
    val_run = BinaryAUCMetric()
    val_run.process(None, _samples('val', [0, 1, 1], [0.2, 0.4, 0.9]))
    out = val_run.compute_metrics(val_run.results)
    assert out['auc'] == 1.0 and 'auc_val' not in out
    with pytest.raises(ValueError, match='threshold'):
        BinaryAUCMetric(threshold='test')
