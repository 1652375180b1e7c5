"""Overlap (IoU or IoBB) of paired boxes, in numpy."""
import numpy as np

from .froc_options import OVERLAP_MODES, check_choice


def pairwise_overlaps(det: np.ndarray,
                      gt: np.ndarray,
                      overlap: str = 'iou',
                      plus_one: bool = False) -> np.ndarray:
    """Element-wise overlap of paired boxes.

    Args:
        det: ``(p, 4)`` detected boxes x1, y1, x2, y2.
        gt: ``(p, 4)`` lesion boxes paired row by row with ``det``.
        overlap: ``'iou'`` (intersection over union) or ``'iobb'``
            (intersection over the detected box's area).
        plus_one: Use inclusive-pixel sizes ``x2 - x1 + 1`` (classic code).

    Returns:
        np.ndarray: ``(p,)`` overlaps in [0, 1]; 0 where the denominator is 0.
    """
    check_choice('overlap', overlap, OVERLAP_MODES)
    det = np.asarray(det, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    return column_overlaps(det.T, gt.T, overlap, 1.0 if plus_one else 0.0)


def column_overlaps(det: np.ndarray, gt: np.ndarray, overlap: str,
                    off: float) -> np.ndarray:
    """:func:`pairwise_overlaps` of box columns.

    Args:
        det: ``(4, p)`` detected boxes, rows x1, y1, x2, y2.
        gt: ``(4, p)`` lesion boxes paired column by column with ``det``.
        overlap: ``'iou'`` or ``'iobb'`` (not validated here).
        off: 1.0 for inclusive-pixel sizes, else 0.0.

    Returns:
        np.ndarray: ``(p,)`` overlaps.
    """
    inter = _side(det[0], det[2], gt[0], gt[2], off)
    inter *= _side(det[1], det[3], gt[1], gt[3], off)
    denom = _length(det[0], det[2], off)
    denom *= _length(det[1], det[3], off)
    if overlap == 'iou':
        area_gt = _length(gt[0], gt[2], off)
        area_gt *= _length(gt[1], gt[3], off)
        denom += area_gt
        denom -= inter
    out = np.zeros_like(inter)
    np.divide(inter, denom, out=out, where=denom > 0)
    return out


def _side(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray,
          hi_b: np.ndarray, off: float) -> np.ndarray:
    """Length (``+ off``) of the overlap of the intervals ``[lo_a, hi_a]``
    and ``[lo_b, hi_b]``, 0 when they do not overlap."""
    side = np.minimum(hi_a, hi_b)
    side -= np.maximum(lo_a, lo_b)
    if off:
        side += off
    np.maximum(side, 0, out=side)
    return side


def _length(lo: np.ndarray, hi: np.ndarray, off: float) -> np.ndarray:
    """Length ``hi - lo + off`` of intervals, 0 when negative."""
    length = hi - lo
    if off:
        length += off
    np.maximum(length, 0, out=length)
    return length
