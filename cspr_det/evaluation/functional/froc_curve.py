"""Reading an FROC curve: sensitivity at FP rates, strata, thinning.

Pure numpy; the curve comes from :func:`cspr_det.evaluation.froc`.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .froc_options import (EXACT_RATE_RULES, MEAN_SENS_RANGE, check_choice,
                           check_fps)


def interpolate_sensitivity(
        curve_fps: np.ndarray,
        curve_sens: np.ndarray,
        fps: Sequence[float],
        exact_rate: str = 'first') -> Tuple[np.ndarray, np.ndarray]:
    """Read sensitivities off an FROC curve.

    For a rate ``f`` that no point of the curve has exactly: linear
    interpolation between the last point whose FP rate is ``< f`` and the
    first point whose FP rate is ``> f``. For a rate that points of the curve
    have exactly (a plateau of points at FP rate ``f``):

    * ``exact_rate='first'`` (default): the first point of the plateau, i.e.
      the sensitivity at the moment the FP that reaches ``f`` is counted
      (linear interpolation between the last point ``< f`` and the first
      ``>= f``). This is what the classic 3DCE/MULAN code computes with
      ``scipy.interpolate.interp1d(..., fill_value='extrapolate')``.
    * ``exact_rate='last'``: the last point of the plateau, i.e. the
      sensitivity just before the next FP is counted (the highest sensitivity
      reached with at most ``f`` FPs per image; ``numpy.interp``'s reading).

    Rates beyond the last FP rate of the curve get the final sensitivity
    (clamped, never extrapolated).

    Args:
        curve_fps: ``(n + 1,)`` non-decreasing FP rates, ``curve_fps[0] == 0``.
        curve_sens: ``(n + 1,)`` sensitivities at those points.
        fps: Rates to read, each > 0.
        exact_rate: ``'last'`` or ``'first'``, see above.

    Returns:
        tuple: ``(sens, clamped)``, ``(k,)`` float sensitivities and ``(k,)``
        bool flags telling which rates lie beyond the last observed FP rate.
    """
    fps = check_fps(fps)
    check_choice('exact_rate', exact_rate, EXACT_RATE_RULES)
    curve_fps = np.asarray(curve_fps, dtype=np.float64)
    curve_sens = np.asarray(curve_sens, dtype=np.float64)
    if curve_fps.ndim != 1 or curve_fps.shape != curve_sens.shape or \
            curve_fps.size == 0 or curve_fps[0] != 0:
        raise ValueError('curve_fps and curve_sens must be 1-D arrays of the '
                         'same length starting at FP rate 0')
    n = curve_fps.size
    if exact_rate == 'last':
        # lo: last point with rate <= f; hi: the point after it (rate > f).
        lo = np.searchsorted(curve_fps, fps, side='right') - 1
        hi = np.minimum(lo + 1, n - 1)
    else:
        # hi: first point with rate >= f; lo: the point before it (< f).
        hi = np.minimum(np.searchsorted(curve_fps, fps, side='left'), n - 1)
        lo = np.maximum(hi - 1, 0)
    x_lo, x_hi = curve_fps[lo], curve_fps[hi]
    y_lo, y_hi = curve_sens[lo], curve_sens[hi]
    with np.errstate(invalid='ignore', divide='ignore'):
        t = np.where(x_hi > x_lo, (fps - x_lo) / (x_hi - x_lo), 0.0)
    t = np.clip(t, 0.0, 1.0)
    sens = y_lo + (y_hi - y_lo) * t
    clamped = fps > curve_fps[-1]
    sens = np.where(clamped, curve_sens[-1], sens)
    return sens, clamped


def mean_sensitivity(
        fps: np.ndarray,
        sens: np.ndarray,
        fps_range: Tuple[float, float] = MEAN_SENS_RANGE) -> float:
    """Mean of ``sens`` over the rates of ``fps`` inside ``fps_range``
    (inclusive); NaN when no rate falls inside."""
    fps = np.asarray(fps, dtype=np.float64)
    sel = (fps >= fps_range[0]) & (fps <= fps_range[1])
    if not sel.any():
        return float('nan')
    return float(np.mean(np.asarray(sens, dtype=np.float64)[sel]))


def stratum_froc(result: Dict,
                 lesion_mask: np.ndarray,
                 fps: Optional[Sequence[float]] = None) -> Dict:
    """Sensitivity of a subset of lesions on the FP axis of all images.

    Stratified FROC (per lesion type, size, ...): only the lesions selected
    by ``lesion_mask`` count in the sensitivity, while the FPs per image stay
    those of the whole evaluation (FPs are not stratified).

    Args:
        result: The dict returned by :func:`froc`.
        lesion_mask: ``(M,)`` bool, one flag per lesion in the order of
            ``result['lesion_found_step']``.
        fps: Rates to read; defaults to ``result['fps']``.

    Returns:
        dict with ``fps``, ``sens``, ``clamped``, ``mean_sens``,
        ``num_lesions``, ``num_found``, ``curve_sens`` (NaN sensitivities
        when the stratum holds no lesion).
    """
    steps = np.asarray(result['lesion_found_step'])
    mask = np.asarray(lesion_mask, dtype=bool).reshape(-1)
    if mask.shape != steps.shape:
        raise ValueError(f'lesion_mask has {mask.size} entries but the FROC '
                         f'result has {steps.size} lesions')
    fps_arr = check_fps(result['fps'] if fps is None else fps)
    curve_fps = result['curve_fps']
    n = int(mask.sum())
    sub = steps[mask]
    found = sub >= 0
    if n == 0:
        curve_sens = np.full(curve_fps.shape, np.nan)
        sens = np.full(fps_arr.shape, np.nan)
        clamped = fps_arr > curve_fps[-1]
    else:
        curve_sens = np.cumsum(
            np.bincount(sub[found], minlength=curve_fps.size)) / float(n)
        sens, clamped = interpolate_sensitivity(
            curve_fps, curve_sens, fps_arr, result.get('exact_rate', 'first'))
    return dict(
        fps=fps_arr,
        sens=sens,
        clamped=clamped,
        mean_sens=mean_sensitivity(fps_arr, sens),
        num_lesions=n,
        num_found=int(found.sum()),
        curve_sens=curve_sens)


def curve_corners(
        curve_fps: np.ndarray,
        curve_sens: np.ndarray,
        max_fps: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Thin an FROC curve to the points that define its interpolation.

    Keeps point 0, for every FP the point just before it and the point where
    it is counted, and the final point; interpolating the thinned curve gives
    the same sensitivities as the full one.

    Args:
        curve_fps: ``(n + 1,)`` FP rates of the walk.
        curve_sens: ``(n + 1,)`` sensitivities of the walk.
        max_fps: When given, drop the points after the first one whose rate
            is ``>= max_fps`` (the final point is kept).

    Returns:
        tuple: thinned ``(fps, sens)`` arrays.
    """
    x = np.asarray(curve_fps, dtype=np.float64)
    y = np.asarray(curve_sens, dtype=np.float64)
    keep = np.zeros(x.size, dtype=bool)
    keep[0] = keep[-1] = True
    step = np.flatnonzero(np.diff(x) > 0) + 1
    keep[step] = True
    keep[step - 1] = True
    if max_fps is not None:
        beyond = np.flatnonzero(x >= max_fps)
        if beyond.size:
            keep[beyond[0] + 1:-1] = False
    return x[keep], y[keep]
