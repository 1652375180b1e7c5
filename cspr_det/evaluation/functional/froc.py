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
  what the classic 3DCE code gives (``interp1d(fp_per_img, sens,
  fill_value='extrapolate')``: with extrapolation enabled scipy does not
  delegate to ``numpy.interp`` but searches with ``side='left'``).
  ``exact_rate='last'`` reads the last of them: the sensitivity just before
  the next FP (what ``numpy.interp`` gives; later copies of the classic code
  that call ``interp1d`` without ``fill_value`` get this on current scipy,
  which then delegates to ``numpy.interp``). For ``f`` beyond the last
  observed FP rate the sensitivity is clamped to the final sensitivity
  (never extrapolated); ``clamped`` flags those rates.

How it is computed: one sort and one pass. Whether a detection is an FP does
not depend on the walk (its best overlap is below the threshold or not), and
a lesion is found at the first sorted detection reaching it. So the overlaps
of every (detection, lesion of the same image) pair are computed in
vectorised chunks, each lesion's finding step is the smallest sort rank of
the detections reaching it, and the curve is two cumulative sums over the
sorted order. The values equal the sequential walk's exactly
(``tools/analysis_tools/benchmark_froc.py`` checks them against a
re-implementation of the classic per-detection loop).
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .box_overlaps import column_overlaps, pairwise_overlaps
from .froc_curve import (curve_corners, interpolate_sensitivity,
                         mean_sensitivity, stratum_froc)
from .froc_options import (DEFAULT_FPS, EXACT_RATE_RULES, MEAN_SENS_RANGE,
                           OVERLAP_MODES, check_choice, check_fps,
                           check_protocol)
from .score_order import score_order, sort_by_score

__all__ = [
    'DEFAULT_FPS', 'EXACT_RATE_RULES', 'MEAN_SENS_RANGE', 'OVERLAP_MODES',
    'check_choice', 'check_fps', 'check_protocol', 'curve_corners', 'froc',
    'interpolate_sensitivity', 'mean_sensitivity', 'pairwise_overlaps',
    'score_order', 'stratum_froc'
]

# Detections matched at once (keeps the temporaries in the CPU cache).
_DETS_PER_CHUNK = 1 << 15
_EMPTY_BOXES = np.zeros((0, 4), dtype=np.float64)


def _check_list(value, name: str) -> None:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f'{name} must be a list with one numpy array per '
                        f'image, got {type(value).__name__}')


def _first_bad_image(bad_rows: np.ndarray, counts: np.ndarray) -> int:
    """Image index of the first True entry of ``bad_rows`` (entries of the
    per-image arrays concatenated, ``counts`` entries per image)."""
    row = int(np.argmax(bad_rows))
    return int(np.searchsorted(np.cumsum(counts), row, side='right'))


def _stack_boxes(arrays: Sequence, name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Concatenate one ``(n_i, 4)`` box array per image, column-wise.

    Returns:
        tuple: ``(columns, counts)``: ``(4, sum n_i)`` float64 C-contiguous
        x1, y1, x2, y2 rows (columns index fast, unlike the rows of an
        ``(N, 4)`` array) and the ``(num_images,)`` int64 counts ``n_i``.
        Empty arrays of any shape count as no box; NaN/inf raise naming the
        image.
    """
    arrs: List[np.ndarray] = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrs):
        shape = a.shape
        if len(shape) != 2 or shape[1] != 4:
            if a.size:
                raise ValueError(f'{name}[{i}] has shape {tuple(shape)}; '
                                 'expected (n, 4) boxes x1, y1, x2, y2')
            arrs[i] = _EMPTY_BOXES
    counts = np.array([a.shape[0] for a in arrs], dtype=np.int64)
    try:
        columns = np.concatenate([a.T for a in arrs], axis=1, dtype=np.float64)
    except TypeError as exc:
        raise TypeError(f'{name} must hold numeric arrays: {exc}') from None
    if not np.isfinite(columns).all():
        i = _first_bad_image(~np.isfinite(columns).all(axis=0), counts)
        raise ValueError(f'{name}[{i}] contains NaN or infinite values')
    return columns, counts


def _stack_scores(arrays: Sequence, counts: np.ndarray) -> np.ndarray:
    """Concatenate one ``(n_i,)`` score array per image (``n_i`` from the
    boxes) into a ``(sum n_i,)`` float64 array."""
    arrs: List[np.ndarray] = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrs):
        if a.ndim > 1 or a.size != counts[i]:
            raise ValueError(f'pred_scores[{i}] has shape {a.shape}; expected '
                             f'({counts[i]},) to match pred_boxes[{i}]')
        if a.ndim == 0:
            arrs[i] = a.reshape(1)
    try:
        scores = np.concatenate(arrs, dtype=np.float64)
    except TypeError as exc:
        raise TypeError(f'pred_scores must hold numeric arrays: {exc}') \
            from None
    if not np.isfinite(scores).all():
        i = _first_bad_image(~np.isfinite(scores), counts)
        raise ValueError(f'pred_scores[{i}] contains NaN or infinite values')
    return scores


def _stack_inputs(pred_boxes: Sequence, pred_scores: Sequence,
                  gt_boxes: Sequence) -> Tuple[np.ndarray, ...]:
    """Validate the per-image inputs of :func:`froc` and concatenate them.

    Returns:
        tuple: ``det (4, N)`` box columns, ``scores (N,)``,
        ``det_counts (I,)``, ``gt (4, M)`` box columns, ``gt_counts (I,)``.
    """
    _check_list(pred_boxes, 'pred_boxes')
    _check_list(pred_scores, 'pred_scores')
    _check_list(gt_boxes, 'gt_boxes')
    if not len(pred_boxes) == len(pred_scores) == len(gt_boxes):
        raise ValueError(
            'pred_boxes, pred_scores and gt_boxes must have one entry per '
            f'image; got lengths {len(pred_boxes)}, {len(pred_scores)}, '
            f'{len(gt_boxes)}')
    if len(gt_boxes) == 0:
        raise ValueError('froc needs at least one image')
    det, det_counts = _stack_boxes(pred_boxes, 'pred_boxes')
    scores = _stack_scores(pred_scores, det_counts)
    gt, gt_counts = _stack_boxes(gt_boxes, 'gt_boxes')
    inverted = (gt[2] < gt[0]) | (gt[3] < gt[1])
    if inverted.any():
        i = _first_bad_image(inverted, gt_counts)
        raise ValueError(f'gt_boxes[{i}] has a box with x2 < x1 or y2 < y1')
    return det, scores, det_counts, gt, gt_counts


def _match(det: np.ndarray, det_counts: np.ndarray, gt: np.ndarray,
           gt_counts: np.ndarray, iou_thr: float, overlap: str,
           plus_one: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlaps of every (detection, lesion of its image) pair.

    Detections are taken in chunks (so that temporaries stay in the CPU
    cache); inside a chunk, slot ``j`` pairs every detection whose image has
    more than ``j`` lesions with the ``j``-th lesion of its image.

    Args:
        det: ``(4, N)`` detection box columns, images in order.
        det_counts: ``(I,)`` detections per image.
        gt: ``(4, M)`` lesion box columns, images in order.
        gt_counts: ``(I,)`` lesions per image.
        iou_thr, overlap, plus_one: See :func:`froc`.

    Returns:
        tuple: ``det_max_overlap`` ``(N,)`` (0 for a detection in an image
        without lesion), and the pairs reaching ``iou_thr``: ``hit_det``
        ``(h,)`` detection and ``hit_gt`` ``(h,)`` lesion indices.
    """
    num_det = det.shape[1]
    off = 1.0 if plus_one else 0.0
    det_img = np.repeat(np.arange(det_counts.size), det_counts)
    gt_start = np.cumsum(gt_counts) - gt_counts
    det_max_ov = np.zeros(num_det, dtype=np.float64)
    hit_det, hit_gt = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, num_det, _DETS_PER_CHUNK):
        stop = min(start + _DETS_PER_CHUNK, num_det)
        num_gt = gt_counts[det_img[start:stop]]
        idx = np.flatnonzero(num_gt) + start  # detections with a lesion
        for slot in range(int(num_gt.max())):
            if slot:
                idx = idx[gt_counts[det_img[idx]] > slot]
            # a contiguous chunk is sliced, not gathered
            cols = slice(start, stop) if idx.size == stop - start else idx
            gt_idx = gt_start[det_img[cols]] + slot
            ov = column_overlaps(det[:, cols], gt[:, gt_idx], overlap, off)
            hit = ov >= iou_thr
            hit_det.append(idx[hit])
            hit_gt.append(gt_idx[hit])
            if slot:
                np.maximum(det_max_ov[cols], ov, out=ov)
            det_max_ov[cols] = ov
    return det_max_ov, np.concatenate(hit_det), np.concatenate(hit_gt)


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
    fps_arr = check_fps(fps)
    iou_thr = check_protocol(iou_thr, overlap, exact_rate)
    det, scores, det_counts, gt, gt_counts = _stack_inputs(
        pred_boxes, pred_scores, gt_boxes)
    num_images, num_det, num_gt = gt_counts.size, det.shape[1], gt.shape[1]

    order, ranked_scores = sort_by_score(scores)
    det_max_ov, hit_det, hit_gt = _match(det, det_counts, gt, gt_counts,
                                         iou_thr, overlap, plus_one)
    # a lesion is found at the first sorted detection reaching it
    rank = np.empty(num_det, dtype=np.int64)
    rank[order] = np.arange(num_det)
    first_rank = np.full(num_gt, num_det, dtype=np.int64)
    np.minimum.at(first_rank, hit_gt, rank[hit_det])

    is_fp = det_max_ov < iou_thr
    fp_cum = np.zeros(num_det + 1, dtype=np.int64)
    np.cumsum(is_fp[order], out=fp_cum[1:])
    found = first_rank < num_det
    lesion_found_step = np.where(found, first_rank + 1, -1)
    tp_cum = np.cumsum(
        np.bincount(lesion_found_step[found], minlength=num_det + 1))
    curve_fps = fp_cum / float(num_images)
    if num_gt > 0:
        curve_sens = tp_cum / float(num_gt)
        sens, clamped = interpolate_sensitivity(curve_fps, curve_sens, fps_arr,
                                                exact_rate)
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
        curve_scores=np.concatenate([[np.inf], ranked_scores]),
        num_images=num_images,
        num_lesions=num_gt,
        num_detections=num_det,
        num_fp=int(fp_cum[-1]),
        num_found=int(found.sum()),
        max_fps=float(curve_fps[-1]),
        final_sens=float(curve_sens[-1]) if num_gt else float('nan'),
        lesion_found_step=lesion_found_step,
        lesion_image=np.repeat(np.arange(num_images), gt_counts),
        det_is_fp=is_fp,
        det_max_overlap=det_max_ov,
        iou_thr=iou_thr,
        overlap=overlap,
        plus_one=bool(plus_one),
        exact_rate=exact_rate,
    )
