"""Key-slice FROC of lesion detection (the DeepLesion protocol), in numpy.

Semantics (the classic 3DCE / MULAN evaluation):

* All detections of all images are pooled and sorted by score, highest
  first. Ties keep the input order: image order first, then the order of the
  detections inside an image (a stable sort).
* Walking the sorted list, a detection whose best overlap with the lesions of
  its own image is below ``iou_thr`` is a false positive (FP). Otherwise every
  lesion of that image it overlaps by at least ``iou_thr`` and that is not
  found yet becomes found. A detection that only re-finds already found
  lesions is neither a hit nor an FP.
* Sensitivity = found lesions / all lesions; FPs per image = FPs / images
  (every image counts, with or without lesions or detections).
* The curve has one point per detection, preceded by ``(0, 0)``.
* The sensitivity at a rate ``f`` is interpolated linearly between the last
  point whose FP rate is below ``f`` and the first point whose FP rate is
  above it. When points have exactly the rate ``f`` (``f * images`` is an
  integer), the default (``exact_rate='first'``) reads the first of them:
  the sensitivity at the moment the FP reaching ``f`` is counted, which is
  what the classic code gives (``interp1d(fp_per_img, sens,
  fill_value='extrapolate')``: with extrapolation enabled scipy does not
  delegate to ``numpy.interp`` but searches with ``side='left'``).
  ``exact_rate='last'`` reads the last of them: the sensitivity just before
  the next FP (what ``numpy.interp`` would give). For ``f``
  beyond the last observed FP rate the sensitivity is clamped to the final
  sensitivity (never extrapolated); ``clamped`` flags those rates.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

DEFAULT_FPS = (0.5, 1, 2, 4, 8, 16)
# Rates averaged into ``mean_sens`` (inclusive bounds).
MEAN_SENS_RANGE = (0.5, 4.0)
OVERLAP_MODES = ('iou', 'iobb')
EXACT_RATE_RULES = ('last', 'first')
# Upper bound on (detection, lesion) pairs handled at once, to bound memory.
_MAX_PAIRS_PER_CHUNK = 4_000_000


def _as_boxes(arr, name: str, idx: int) -> np.ndarray:
    boxes = np.asarray(arr, dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'{name}[{idx}] has shape {tuple(boxes.shape)}; '
                         'expected (n, 4) boxes x1, y1, x2, y2')
    if not np.isfinite(boxes).all():
        raise ValueError(f'{name}[{idx}] contains NaN or infinite values')
    return boxes


def _check_list(value, name: str) -> None:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f'{name} must be a list with one numpy array per '
                        f'image, got {type(value).__name__}')


def check_fps(fps: Sequence[float]) -> np.ndarray:
    """Validate FP-per-image rates and return them as a float array.

    Args:
        fps: Rates (FPs per image), each finite and > 0.

    Returns:
        np.ndarray: ``(k,)`` float64 array in the given order.
    """
    arr = np.asarray(list(fps) if not np.isscalar(fps) else [fps],
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
    off = 1.0 if plus_one else 0.0
    iw = np.minimum(det[:, 2], gt[:, 2]) - np.maximum(det[:, 0], gt[:, 0])
    ih = np.minimum(det[:, 3], gt[:, 3]) - np.maximum(det[:, 1], gt[:, 1])
    inter = np.clip(iw + off, 0, None) * np.clip(ih + off, 0, None)
    area_det = (np.clip(det[:, 2] - det[:, 0] + off, 0, None) *
                np.clip(det[:, 3] - det[:, 1] + off, 0, None))
    if overlap == 'iou':
        area_gt = (np.clip(gt[:, 2] - gt[:, 0] + off, 0, None) *
                   np.clip(gt[:, 3] - gt[:, 1] + off, 0, None))
        denom = area_det + area_gt - inter
    elif overlap == 'iobb':
        denom = area_det
    else:
        check_choice('overlap', overlap, OVERLAP_MODES)
    out = np.zeros_like(inter)
    np.divide(inter, denom, out=out, where=denom > 0)
    return out


def interpolate_sensitivity(curve_fps: np.ndarray,
                            curve_sens: np.ndarray,
                            fps: Sequence[float],
                            exact_rate: str = 'first'
                            ) -> Tuple[np.ndarray, np.ndarray]:
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


def mean_sensitivity(fps: np.ndarray, sens: np.ndarray,
                     fps_range: Tuple[float, float] = MEAN_SENS_RANGE
                     ) -> float:
    """Mean of ``sens`` over the rates of ``fps`` inside ``fps_range``
    (inclusive); NaN when no rate falls inside."""
    fps = np.asarray(fps, dtype=np.float64)
    sel = (fps >= fps_range[0]) & (fps <= fps_range[1])
    if not sel.any():
        return float('nan')
    return float(np.mean(np.asarray(sens, dtype=np.float64)[sel]))


def froc(pred_boxes: Sequence[np.ndarray],
         pred_scores: Sequence[np.ndarray],
         gt_boxes: Sequence[np.ndarray],
         fps: Sequence[float] = DEFAULT_FPS,
         iou_thr: float = 0.5,
         overlap: str = 'iou',
         plus_one: bool = False,
         exact_rate: str = 'first') -> Dict:
    """Key-slice FROC (DeepLesion protocol) over a set of images.

    See the module docstring for the exact semantics.

    Args:
        pred_boxes: One ``(n_i, 4)`` array per image, detected boxes
            x1, y1, x2, y2 in pixels (an empty array for no detection). An
            inverted box has zero area and overlaps nothing.
        pred_scores: One ``(n_i,)`` array per image, detection scores.
        gt_boxes: One ``(m_i, 4)`` array per image, lesion boxes
            x1, y1, x2, y2 in pixels (an empty array for no lesion).
        fps: FPs-per-image rates at which to report the sensitivity.
        iou_thr: Overlap threshold in (0, 1]; a lesion is found by a
            detection overlapping it ``>= iou_thr``.
        overlap: ``'iou'`` or ``'iobb'`` (intersection over the detected
            box).
        plus_one: Inclusive-pixel widths ``x2 - x1 + 1`` as the classic
            3DCE code.
        exact_rate: Which point a rate that the curve reaches exactly reads:
            ``'first'`` (default, the classic code as it runs) or ``'last'``;
            see :func:`interpolate_sensitivity`.

    Returns:
        dict with

        - ``fps`` ``(k,)`` the rates, ``sens`` ``(k,)`` sensitivity at each,
          ``clamped`` ``(k,)`` True where the rate lies beyond the last
          observed FP rate (sensitivity clamped to the final one);
        - ``mean_sens`` mean of ``sens`` over the rates in [0.5, 4] present
          in ``fps`` (NaN if none), ``mean_sens_fps`` those rates;
        - ``curve_fps``, ``curve_sens``, ``curve_scores`` ``(N + 1,)`` the
          walk: point 0 is ``(0, 0)`` with score ``+inf``; point ``j`` is the
          state after the j-th detection in sorted order and its score;
        - ``num_images``, ``num_lesions``, ``num_detections``, ``num_fp``
          (all FPs), ``num_found`` (lesions found by all detections),
          ``max_fps`` (last observed FP rate), ``final_sens``;
        - ``lesion_found_step`` ``(M,)`` int, for every lesion (images in
          order, lesions in order) the curve index at which it is found, -1
          if never; ``lesion_image`` ``(M,)`` its image index;
        - ``det_is_fp`` ``(N,)`` bool, ``det_max_overlap`` ``(N,)`` float,
          for every detection in input order (images in order).

        With no lesion at all the sensitivities are NaN.
    """
    _check_list(pred_boxes, 'pred_boxes')
    _check_list(pred_scores, 'pred_scores')
    _check_list(gt_boxes, 'gt_boxes')
    if not len(pred_boxes) == len(pred_scores) == len(gt_boxes):
        raise ValueError(
            'pred_boxes, pred_scores and gt_boxes must have one entry per '
            f'image; got lengths {len(pred_boxes)}, {len(pred_scores)}, '
            f'{len(gt_boxes)}')
    num_images = len(gt_boxes)
    if num_images == 0:
        raise ValueError('froc needs at least one image')
    fps_arr = check_fps(fps)
    check_protocol(iou_thr, overlap, exact_rate)

    dets, scores, gts = [], [], []
    for i in range(num_images):
        det = _as_boxes(pred_boxes[i], 'pred_boxes', i)
        score = np.asarray(pred_scores[i], dtype=np.float64).reshape(-1) \
            if np.ndim(pred_scores[i]) <= 1 else None
        if score is None or score.shape[0] != det.shape[0]:
            raise ValueError(
                f'pred_scores[{i}] has shape {np.shape(pred_scores[i])}; '
                f'expected ({det.shape[0]},) to match pred_boxes[{i}]')
        if not np.isfinite(score).all():
            raise ValueError(f'pred_scores[{i}] contains NaN or infinite '
                             'values')
        gt = _as_boxes(gt_boxes[i], 'gt_boxes', i)
        if (gt[:, 2] < gt[:, 0]).any() or (gt[:, 3] < gt[:, 1]).any():
            raise ValueError(f'gt_boxes[{i}] has a box with x2 < x1 or '
                             'y2 < y1')
        dets.append(det)
        scores.append(score)
        gts.append(gt)

    det_counts = np.array([d.shape[0] for d in dets], dtype=np.int64)
    gt_counts = np.array([g.shape[0] for g in gts], dtype=np.int64)
    det_all = np.concatenate(dets, axis=0)
    score_all = np.concatenate(scores, axis=0)
    gt_all = np.concatenate(gts, axis=0)
    num_det = int(det_all.shape[0])
    num_gt = int(gt_all.shape[0])
    det_img = np.repeat(np.arange(num_images), det_counts)
    gt_img = np.repeat(np.arange(num_images), gt_counts)
    gt_start = np.concatenate([[0], np.cumsum(gt_counts)[:-1]])

    # Sorted order: score descending, ties in input order (stable sort).
    order = np.argsort(-score_all, kind='stable')
    rank = np.empty(num_det, dtype=np.int64)
    rank[order] = np.arange(num_det)

    # Every (detection, lesion of the same image) pair, in chunks.
    det_hit = np.zeros(num_det, dtype=bool)
    det_max_ov = np.zeros(num_det, dtype=np.float64)
    first_rank = np.full(num_gt, num_det, dtype=np.int64)
    pairs_per_det = gt_counts[det_img]
    cum_pairs = np.cumsum(pairs_per_det)
    start = 0
    while start < num_det:
        base = cum_pairs[start - 1] if start > 0 else 0
        stop = int(np.searchsorted(
            cum_pairs, base + _MAX_PAIRS_PER_CHUNK, side='right'))
        stop = max(stop, start + 1)
        k = pairs_per_det[start:stop]
        n_pairs = int(k.sum())
        if n_pairs:
            pair_det = np.repeat(np.arange(start, stop), k)
            within = np.arange(n_pairs) - np.repeat(np.cumsum(k) - k, k)
            pair_gt = gt_start[det_img[pair_det]] + within
            ov = pairwise_overlaps(det_all[pair_det], gt_all[pair_gt],
                                   overlap, plus_one)
            np.maximum.at(det_max_ov, pair_det, ov)
            hit = ov >= iou_thr
            det_hit[pair_det[hit]] = True
            np.minimum.at(first_rank, pair_gt[hit], rank[pair_det[hit]])
        start = stop

    is_fp = ~det_hit
    fp_cum = np.concatenate([[0], np.cumsum(is_fp[order])])
    found = first_rank < num_det
    lesion_found_step = np.where(found, first_rank + 1, -1)
    tp_cum = np.cumsum(
        np.bincount(lesion_found_step[found], minlength=num_det + 1))
    curve_fps = fp_cum / float(num_images)
    if num_gt > 0:
        curve_sens = tp_cum / float(num_gt)
        sens, clamped = interpolate_sensitivity(curve_fps, curve_sens,
                                                fps_arr, exact_rate)
    else:
        curve_sens = np.full(num_det + 1, np.nan)
        sens = np.full(fps_arr.shape, np.nan)
        clamped = fps_arr > curve_fps[-1]
    sel = (fps_arr >= MEAN_SENS_RANGE[0]) & (fps_arr <= MEAN_SENS_RANGE[1])

    return dict(
        fps=fps_arr,
        sens=sens,
        clamped=clamped,
        mean_sens=mean_sensitivity(fps_arr, sens),
        mean_sens_fps=fps_arr[sel],
        curve_fps=curve_fps,
        curve_sens=curve_sens,
        curve_scores=np.concatenate([[np.inf], score_all[order]]),
        num_images=num_images,
        num_lesions=num_gt,
        num_detections=num_det,
        num_fp=int(fp_cum[-1]),
        num_found=int(found.sum()),
        max_fps=float(curve_fps[-1]),
        final_sens=float(curve_sens[-1]) if num_gt else float('nan'),
        lesion_found_step=lesion_found_step,
        lesion_image=gt_img,
        det_is_fp=is_fp,
        det_max_overlap=det_max_ov,
        iou_thr=float(iou_thr),
        overlap=overlap,
        plus_one=bool(plus_one),
        exact_rate=exact_rate,
    )


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


def curve_corners(curve_fps: np.ndarray, curve_sens: np.ndarray,
                  max_fps: Optional[float] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
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

