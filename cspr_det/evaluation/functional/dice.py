"""Dice of label volumes (pure numpy)."""
from typing import Dict, Optional, Sequence

import numpy as np


def confusion_counts(
        pred: np.ndarray,
        gt: np.ndarray,
        num_classes: int,
        ignore_index: Optional[int] = 255) -> Dict[str, np.ndarray]:
    """Per-class intersection and volumes of one case.

    Voxels whose ground truth is ``ignore_index`` are left out.

    Args:
        pred: ``(D, H, W)`` integer labels in ``[0, num_classes)``.
        gt: ``(D, H, W)`` integer labels in ``[0, num_classes)`` or
            ``ignore_index``.
        num_classes: ``C`` (background included).
        ignore_index: Ignored ground-truth label (None: none).

    Returns:
        dict: int64 arrays of shape ``(C,)``: ``inter`` (voxels labelled
        ``c`` in both), ``pred`` (voxels predicted ``c``), ``gt`` (voxels
        of class ``c``).

    Raises:
        ValueError: Shapes differ or a label is out of range.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'Dice: prediction {pred.shape} and ground truth '
                         f'{gt.shape} have different shapes')
    if num_classes < 1:
        raise ValueError(f'Dice: num_classes must be >= 1, got {num_classes}')
    pred = pred.reshape(-1)
    gt = gt.reshape(-1)
    if ignore_index is not None:
        keep = gt != ignore_index
        if not keep.all():
            pred, gt = pred[keep], gt[keep]
    for name, arr in (('prediction', pred), ('ground truth', gt)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            bad = arr[(arr < 0) | (arr >= num_classes)][0]
            raise ValueError(f'Dice: {name} label {int(bad)} is outside the '
                             f'{num_classes} classes [0, {num_classes - 1}]')
    cm = np.bincount(
        gt.astype(np.int64) * num_classes + pred.astype(np.int64),
        minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    return dict(inter=np.diag(cm).copy(), pred=cm.sum(0), gt=cm.sum(1))


def dice_from_counts(inter: np.ndarray, pred: np.ndarray,
                     gt: np.ndarray) -> np.ndarray:
    """Dice ``2 |P & G| / (|P| + |G|)`` per class from counts.

    Counts may be summed over cases first (global Dice). A class absent
    from both prediction and ground truth has no Dice (NaN); a class only
    predicted gets 0.

    Args:
        inter, pred, gt: ``(..., C)`` counts.

    Returns:
        np.ndarray: float64 Dice of the same shape, NaN where undefined.
    """
    inter = np.asarray(inter, dtype=np.float64)
    denom = np.asarray(
        pred, dtype=np.float64) + np.asarray(
            gt, dtype=np.float64)
    out = np.full(denom.shape, np.nan)
    np.divide(2.0 * inter, denom, out=out, where=denom > 0)
    return out


def dice_per_class(pred: np.ndarray,
                   gt: np.ndarray,
                   num_classes: int,
                   ignore_index: Optional[int] = 255) -> np.ndarray:
    """Dice of every class of one case (NaN for a class absent from both).

    Returns:
        np.ndarray: ``(C,)`` float64.
    """
    c = confusion_counts(pred, gt, num_classes, ignore_index)
    return dice_from_counts(c['inter'], c['pred'], c['gt'])


def mean_foreground(values: np.ndarray,
                    classes: Optional[Sequence[int]] = None) -> float:
    """NaN-ignoring mean over the foreground classes (``1 .. C-1`` unless
    ``classes`` is given); NaN when none is defined."""
    values = np.asarray(values, dtype=np.float64)
    idx = list(range(1,
                     values.shape[-1])) if classes is None else list(classes)
    picked = values[..., idx]
    if picked.size == 0 or np.all(np.isnan(picked)):
        return float('nan')
    return float(np.nanmean(picked))
