import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement

from cspr_det.evaluation.metrics import TopKAccuracy, topk_accuracy


def test_topk_accuracy_hand_computed():
    scores = np.array([
        [0.1, 0.6, 0.3],  # label 1 -> rank 0
        [0.5, 0.2, 0.3],  # label 2 -> rank 1
        [0.2, 0.3, 0.5],  # label 0 -> rank 2
        [0.9, 0.05, 0.05],  # label 0 -> rank 0
    ])
    labels = np.array([1, 2, 0, 0])
    acc = topk_accuracy(scores, labels, topk=(1, 2, 5))
    assert acc[1] == pytest.approx(50.0)
    assert acc[2] == pytest.approx(75.0)
    assert acc[5] == pytest.approx(100.0)  # k clamped to 3 classes
    with pytest.raises(ValueError, match='labels'):
        topk_accuracy(scores, np.array([1, 2, 0, 3]))
    with pytest.raises(ValueError, match='do not match'):
        topk_accuracy(scores, labels[:2])


def test_metric_through_evaluator():
    rng = np.random.RandomState(0)
    scores = rng.rand(10, 7)
    labels = rng.randint(0, 7, 10)
    samples = []
    for s, l in zip(scores, labels):
        d = BaseDataElement()
        d.pred_score = torch.from_numpy(s).float()
        d.gt_label = torch.tensor([l])
        samples.append(d)
    evaluator = Evaluator(TopKAccuracy(topk=(1, 5)))
    evaluator.process(samples[:6])
    evaluator.process(samples[6:])
    res = evaluator.evaluate(10)
    ref = topk_accuracy(scores, labels, (1, 5))
    assert res['accuracy/top1'] == pytest.approx(ref[1])
    assert res['accuracy/top5'] == pytest.approx(ref[5])
    # brute force top-1
    assert res['accuracy/top1'] == pytest.approx(
        100 * np.mean(scores.argmax(1) == labels))
