"""Protocol options of the DeepLesion FROC and their validation."""
from typing import Sequence

import numpy as np

DEFAULT_FPS = (0.5, 1, 2, 4, 8, 16)
# Rates averaged into ``mean_sens`` (inclusive bounds).
MEAN_SENS_RANGE = (0.5, 4.0)
OVERLAP_MODES = ('iou', 'iobb')
EXACT_RATE_RULES = ('last', 'first')


def check_fps(fps: Sequence[float]) -> np.ndarray:
    """Validate FP-per-image rates and return them as a float array.

    Args:
        fps: Rates (FPs per image), each finite and > 0.

    Returns:
        np.ndarray: ``(k,)`` float64 array in the given order.
    """
    arr = np.asarray(
        list(fps) if not np.isscalar(fps) else [fps],
        dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError('fps must name at least one FP-per-image rate')
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f'fps must be finite and > 0, got {list(fps)}')
    return arr


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of
    ``choices``; return ``value``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got "
                         f"'{value}'")
    return value


def check_protocol(iou_thr: float, overlap: str, exact_rate: str) -> float:
    """Validate the matching options shared by :func:`froc` and the
    DeepLesion metric; return ``iou_thr`` as a float in (0, 1]."""
    if not 0 < float(iou_thr) <= 1:
        raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
    check_choice('overlap', overlap, OVERLAP_MODES)
    check_choice('exact_rate', exact_rate, EXACT_RATE_RULES)
    return float(iou_thr)
