"""ROC AUC and operating-point statistics of binary scores (pure numpy).

Conventions: labels are 0 (negative, benign) / 1 (positive, malignant);
a sample is called positive when ``score >= threshold``.
"""
from typing import Dict, Tuple

import numpy as np

THRESHOLD_RULES = ('youden', 'f1', 'accuracy')


def _check(labels, scores) -> Tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f'AUC: {labels.size} labels but {scores.size} '
                         'scores')
    if labels.size and not np.isin(labels, (0, 1)).all():
        bad = labels[~np.isin(labels, (0, 1))][0]
        raise ValueError(f'AUC: labels must be 0 or 1, got {bad!r}')
    if not np.isfinite(scores).all():
        raise ValueError('AUC: scores must be finite (found NaN or inf)')
    return labels.astype(np.int64), scores


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve, exact with ties.

    The Mann-Whitney statistic with mid-ranks: the probability that a
    random positive scores above a random negative, ties counting one half,
    ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` with
    ``R_pos`` the sum of the positives' mid-ranks. Computed in integers
    (twice the mid-ranks) up to the final division.

    Args:
        labels: (N,) 0/1 labels.
        scores: (N,) scores, larger = more positive.

    Returns:
        float: AUC in [0, 1]; NaN when one class is absent.
    """
    labels, scores = _check(labels, scores)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    _, inverse, counts = np.unique(
        scores, return_inverse=True, return_counts=True)
    counts = counts.astype(np.int64)
    ends = np.cumsum(counts)
    twice_midrank = 2 * ends - counts + 1  # 2 * (first + last) / 2
    twice_rank_sum = int(twice_midrank[inverse.reshape(-1)][labels == 1].sum())
    twice_u = twice_rank_sum - n_pos * (n_pos + 1)
    return twice_u / (2.0 * n_pos * n_neg)


def roc_curve(labels, scores) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points, one per distinct score.

    Args:
        labels: (N,) 0/1 labels.
        scores: (N,) scores.

    Returns:
        tuple: ``fpr``, ``tpr`` and ``thresholds`` (K + 1,), thresholds
        decreasing from ``+inf`` (nothing called positive, the point (0, 0))
        through every distinct score. Rates are NaN for an absent class.
    """
    labels, scores = _check(labels, scores)
    order = np.argsort(-scores, kind='mergesort')
    s, y = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1] if s.size else \
        np.zeros(0, np.int64)
    tps = np.r_[0, np.cumsum(y)[last]].astype(np.float64)
    fps = np.r_[0, np.cumsum(1 - y)[last]].astype(np.float64)
    n_pos, n_neg = tps[-1], fps[-1]
    with np.errstate(invalid='ignore', divide='ignore'):
        tpr = tps / n_pos if n_pos else np.full_like(tps, np.nan)
        fpr = fps / n_neg if n_neg else np.full_like(fps, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def confusion_at(labels, scores, threshold: float) -> Dict[str, int]:
    """Confusion counts when ``score >= threshold`` is called positive.

    Returns:
        dict: ``tp``, ``fp``, ``tn``, ``fn`` (ints).
    """
    labels, scores = _check(labels, scores)
    pred = scores >= threshold
    pos = labels == 1
    return dict(
        tp=int(np.sum(pred & pos)),
        fp=int(np.sum(pred & ~pos)),
        tn=int(np.sum(~pred & ~pos)),
        fn=int(np.sum(~pred & pos)))


def _ratio(a: float, b: float) -> float:
    return float(a) / b if b else float('nan')


def binary_metrics(labels, scores, threshold: float) -> Dict[str, float]:
    """Accuracy, sensitivity, specificity, precision and F1 at a threshold.

    Returns:
        dict: ``accuracy``, ``sensitivity`` (TP / P), ``specificity``
        (TN / N), ``precision`` (TP / (TP + FP)), ``f1`` (2 TP / (2 TP +
        FP + FN)); NaN where a denominator is 0; plus the counts.
    """
    c = confusion_at(labels, scores, threshold)
    tp, fp, tn, fn = c['tp'], c['fp'], c['tn'], c['fn']
    out = dict(
        accuracy=_ratio(tp + tn, tp + fp + tn + fn),
        sensitivity=_ratio(tp, tp + fn),
        specificity=_ratio(tn, tn + fp),
        precision=_ratio(tp, tp + fp),
        f1=_ratio(2 * tp, 2 * tp + fp + fn))
    out.update({k: float(v) for k, v in c.items()})
    return out


def choose_threshold(labels, scores, rule: str = 'youden') -> float:
    """Operating threshold that maximises ``rule`` on (labels, scores).

    Candidates are the distinct scores (calling ``score >= t`` positive);
    ties (within 1e-12) keep the highest threshold. Rules: ``'youden'``
    (sensitivity + specificity - 1), ``'f1'``, ``'accuracy'``.

    Choose it on a validation split and apply it to the test split;
    choosing it on the test split itself overstates every statistic.

    Returns:
        float: The threshold (0.5 when there is no sample).
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f'threshold rule must be one of {THRESHOLD_RULES}, '
                         f'got {rule!r}')
    labels, scores = _check(labels, scores)
    if scores.size == 0:
        return 0.5
    fpr, tpr, thr = roc_curve(labels, scores)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]  # drop the +inf point
    n_pos = float(labels.sum())
    n_neg = labels.size - n_pos
    tp, fp = tpr * n_pos, fpr * n_neg
    if rule == 'youden':
        value = np.nan_to_num(tpr) - np.nan_to_num(fpr)
    elif rule == 'f1':
        value = 2 * np.nan_to_num(tp) / (
            n_pos + np.nan_to_num(tp) + np.nan_to_num(fp))
    else:
        value = (np.nan_to_num(tp) + n_neg - np.nan_to_num(fp)) / labels.size
    # first (highest) threshold within rounding of the best value
    best = np.flatnonzero(value >= value.max() - 1e-12)[0]
    return float(thr[int(best)])


__all__ = [
    'THRESHOLD_RULES', 'binary_metrics', 'choose_threshold', 'confusion_at',
    'roc_auc', 'roc_curve'
]
