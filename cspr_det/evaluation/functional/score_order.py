"""Stable descending sort of detection scores, faster than
``np.argsort(-scores, kind='stable')``."""
from typing import Tuple

import numpy as np


def score_order(scores: np.ndarray) -> np.ndarray:
    """Indices that sort ``scores`` highest first, ties in input order.

    Equal to ``np.argsort(-scores, kind='stable')``, several times faster on
    large inputs; see :func:`sort_by_score`.

    Args:
        scores: ``(n,)`` finite float scores.

    Returns:
        np.ndarray: ``(n,)`` int64 permutation.
    """
    return sort_by_score(
        np.ascontiguousarray(scores, dtype=np.float64).reshape(-1))[0]


def _descending_keys(scores: np.ndarray) -> np.ndarray:
    """``(n,)`` uint64 keys that sort ascending as ``scores`` (float64)
    sort descending (IEEE bits: negative numbers have their bits kept,
    others all but the sign bit flipped; -0.0 counts as 0.0)."""
    bits = (scores + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
    flip = bits >> np.uint64(63)
    flip -= np.uint64(1)  # 0 for negative scores, all ones otherwise
    flip &= np.uint64((1 << 63) - 1)
    bits ^= flip
    return bits


def sort_by_score(scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Stable descending sort of ``(n,)`` float64 ``scores``.

    Each score becomes an order-preserving unsigned 64-bit key whose low
    ``ceil(log2(n))`` bits are replaced by the score's index, so one plain
    (SIMD) sort of integers orders by score and breaks ties by index. Scores
    that differ only in the replaced bits (float64 scores closer than about
    1e-10 relative, never float32 detector scores) are re-ordered exactly
    afterwards.

    Returns:
        tuple: ``order`` ``(n,)`` int64 and ``scores[order]``.
    """
    n = scores.size
    shift = max(int(n - 1).bit_length(), 1)
    if n < 2 or shift > 40:
        order = np.argsort(-scores, kind='stable')
        return order, scores[order]
    low = np.uint64((1 << shift) - 1)
    keys = _descending_keys(scores)
    keys &= ~low
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    keys &= low
    order = keys.view(np.int64)
    ranked = scores[order]
    if (ranked[1:] > ranked[:-1]).any():
        # re-order exactly the runs of equal truncated keys
        high = _descending_keys(ranked) >> np.uint64(shift)
        tied = np.flatnonzero(high[1:] == high[:-1])
        pos = np.union1d(tied, tied + 1)
        run = np.cumsum(np.isin(pos - 1, tied, invert=True))
        sub = order[pos]
        order[pos] = sub[np.lexsort((sub, -scores[sub], run))]
        ranked = scores[order]
    return order, ranked
