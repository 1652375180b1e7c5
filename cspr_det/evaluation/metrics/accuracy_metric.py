"""Top-k classification accuracy."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from cspr_det.registry import METRICS


def topk_accuracy(
    scores: np.ndarray, labels: np.ndarray,
    topk: Sequence[int] = (1, 5)) -> Dict[int, float]:
    """Top-k accuracy in percent.

    A sample counts as correct for ``k`` when its label is among the ``k``
    highest scores (ties are broken by ``np.argsort`` order, stable).
    ``k`` larger than the number of classes is clamped (100%).

    Args:
        scores: (N, C) class scores.
        labels: (N,) integer labels in ``[0, C)``.
        topk: The k values.

    Returns:
        dict: ``{k: accuracy_percent}``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f'topk_accuracy: scores {scores.shape} and labels '
                         f'{labels.shape} do not match')
    if scores.shape[0] == 0:
        raise ValueError('topk_accuracy: no sample to evaluate')
    num_classes = scores.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'topk_accuracy: labels must be in [0, '
                         f'{num_classes}), got [{labels.min()}, '
                         f'{labels.max()}]')
    order = np.argsort(-scores, axis=1, kind='stable')
    # rank[i] = position of the true label in the sorted scores of sample i
    rank = np.argmax(order == labels[:, None], axis=1)
    out = {}
    for k in topk:
        if k < 1:
            raise ValueError(f'topk_accuracy: k must be >= 1, got {k}')
        out[k] = float((rank < min(k, num_classes)).mean() * 100.0)
    return out


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """Top-1 / top-5 accuracy of classification predictions.

    Reads ``pred_score`` (C,) and ``gt_label`` (1,) of every predicted data
    sample. Results: ``accuracy/top1``, ``accuracy/top5`` (percent).

    Args:
        topk: The k values.
        collect_device: 'cpu' or 'gpu' (mmengine).
        prefix: Prefix of the result keys.
    """

    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(int(k) for k in topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f'TopKAccuracy: topk must be positive ints, got '
                             f'{topk}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store score and label of every sample."""
        for sample in data_samples:
            if 'pred_score' not in sample or 'gt_label' not in sample:
                raise KeyError('TopKAccuracy: a data sample lacks pred_score '
                               'or gt_label')
            score = sample['pred_score']
            label = sample['gt_label']
            if isinstance(score, torch.Tensor):
                score = score.detach().cpu().float().numpy()
            if isinstance(label, torch.Tensor):
                label = label.detach().cpu().numpy()
            self.results.append((np.asarray(score).reshape(-1),
                                 int(np.asarray(label).ravel()[0])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Top-k accuracies over all collected samples."""
        scores = np.stack([r[0] for r in results])
        labels = np.array([r[1] for r in results])
        acc = topk_accuracy(scores, labels, self.topk)
        return {f'top{k}': v for k, v in acc.items()}
