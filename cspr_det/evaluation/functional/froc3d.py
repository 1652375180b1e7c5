"""3D FROC of whole-volume lesion detection (the DeepLesion 3D protocol of
the fully annotated sub-volumes, Yan et al., IEEE TMI 2020), in numpy.

Semantics (those of the released evaluation code):

* Boxes are ``[x1, y1, z1, x2, y2, z2]`` (pixels, z in slice numbers);
  extents are inclusive (``x2 - x1 + 1``) with ``plus_one=True`` (default).
* All predicted boxes of all sub-volumes are pooled and sorted by score,
  highest first (ties keep the input order: sub-volume, then box).
* Walking the sorted list, a box whose best overlap with the lesions of its
  own sub-volume is below ``iou_thr`` is a false positive (FP); otherwise
  every not-yet-found lesion of that sub-volume it overlaps by at least
  ``iou_thr`` becomes found (a box that only re-finds lesions is neither).
* Sensitivity = found / all lesions; FPs per sub-volume = FPs / number of
  sub-volumes (every sub-volume counts, with or without lesion).
* The sensitivity at a rate ``f`` is read by linear interpolation on the
  curve of points after each box: 0 below the first observed FP rate, the
  final sensitivity beyond the last one. At a rate the curve reaches
  exactly, the default ``exact_rate='last'`` reads the last point of the
  plateau (the released code with ``scipy.interpolate.interp1d``, which
  current scipy delegates to ``numpy.interp``); ``'first'`` the first.
* The score is the mean sensitivity at 0.125, 0.25, 0.5, 1, 2, 4 and 8 FPs
  per sub-volume.

Overlaps (``overlap``): ``'iou'``, ``'iobb'`` (intersection over the
predicted box, the protocol's default with ``iou_thr=0.3``), ``'iogt'``
(over the lesion) and ``'iobbgt'`` (the larger of the two). Modes:
``'3D'`` (3D lesion boxes, volumes) and ``'P3D'`` (2D key-slice marks
``[x1, y1, z, x2, y2, z]`` against 3D predictions: a prediction overlaps a
mark only if ``z1 <= z <= z2``, and then by the 2D overlap of the boxes).

How: one sort and one pass. Whether a box is an FP does not depend on the
walk, and a lesion is found at the first sorted box reaching it; so all
(box, lesion of the same sub-volume) overlaps are computed at once, each
lesion's finding step is the smallest sort rank among the boxes reaching
it, and the curve is two cumulative sums.

Differences from the released code, both outside its valid inputs: it sorts
with an unstable ``argsort`` (ties may come out in another order) and
counts as an FP any box whose overlap with some lesion is NaN (only a
zero-size lesion box with ``plus_one=False`` gives one); here a zero
denominator gives overlap 0.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .froc_curve import interpolate_sensitivity, stratum_froc
from .froc_options import EXACT_RATE_RULES, check_choice, check_fps
from .score_order import sort_by_score

__all__ = [
    'FPS_3D', 'OVERLAPS_3D', 'MODES_3D', 'froc3d', 'overlaps3d',
    'stratum_froc3d', 'size_strata'
]

#: FPs per sub-volume of the protocol (the score is their mean).
FPS_3D = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
OVERLAPS_3D = ('iou', 'iobb', 'iogt', 'iobbgt')
MODES_3D = ('3D', 'P3D')

_PAIRS_PER_CHUNK = 1 << 16


def _stack(arrays: Sequence, cols: int,
           name: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(cols, sum n_i)`` float64 columns and ``(I,)`` counts of one
    ``(n_i, >= cols)`` array per sub-volume (extra columns ignored)."""
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f'{name} must be a list with one array per '
                        f'sub-volume, got {type(arrays).__name__}')
    parts: List[np.ndarray] = []
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64)
        if a.size == 0:
            a = np.zeros((0, cols))
        if a.ndim != 2 or a.shape[1] < cols:
            raise ValueError(f'{name}[{i}] has shape {a.shape}; expected '
                             f'(n, {cols})')
        if not np.isfinite(a[:, :cols]).all():
            raise ValueError(f'{name}[{i}] contains NaN or infinite values')
        parts.append(a[:, :cols])
    counts = np.array([p.shape[0] for p in parts], dtype=np.int64)
    cat = np.concatenate(parts, axis=0) if parts else np.zeros((0, cols))
    return np.ascontiguousarray(cat.T), counts


def _length(lo: np.ndarray, hi: np.ndarray, off: float) -> np.ndarray:
    return np.maximum(hi - lo + off, 0.0)


def _side(det_lo, det_hi, gt_lo, gt_hi, off: float) -> np.ndarray:
    return np.maximum(
        np.minimum(det_hi, gt_hi) - np.maximum(det_lo, gt_lo) + off, 0.0)


def overlaps3d(det: np.ndarray,
               gt: np.ndarray,
               overlap: str = 'iobb',
               mode: str = '3D',
               plus_one: bool = True) -> np.ndarray:
    """Overlap of paired boxes (column ``k`` of ``det`` with column ``k``
    of ``gt``).

    Args:
        det: ``(6, p)`` predicted boxes, rows x1, y1, z1, x2, y2, z2.
        gt: ``(6, p)`` lesion boxes (P3D: ``z1 == z2`` the marked slice).
        overlap: One of :data:`OVERLAPS_3D`.
        mode: ``'3D'`` or ``'P3D'``.
        plus_one: Inclusive-pixel extents.

    Returns:
        np.ndarray: ``(p,)`` overlaps; 0 where a denominator is 0.
    """
    off = 1.0 if plus_one else 0.0
    inter = _side(det[0], det[3], gt[0], gt[3], off) * \
        _side(det[1], det[4], gt[1], gt[4], off)
    size_det = _length(det[0], det[3], off) * _length(det[1], det[4], off)
    size_gt = _length(gt[0], gt[3], off) * _length(gt[1], gt[4], off)
    if mode == '3D':
        inter *= _side(det[2], det[5], gt[2], gt[5], off)
        size_det *= _length(det[2], det[5], off)
        size_gt *= _length(gt[2], gt[5], off)
    else:
        inter *= (det[2] <= gt[2]) & (gt[2] <= det[5])

    def ratio(den):
        out = np.zeros_like(inter)
        np.divide(inter, den, out=out, where=den > 0)
        return out

    if overlap == 'iou':
        return ratio(size_det + size_gt - inter)
    if overlap == 'iobb':
        return ratio(size_det)
    if overlap == 'iogt':
        return ratio(size_gt)
    return np.maximum(ratio(size_det), ratio(size_gt))


def _match(det, det_counts, gt, gt_counts, iou_thr, overlap, mode, plus_one):
    """Best overlap of every box with its sub-volume's lesions, and the
    (box, lesion) pairs reaching ``iou_thr``."""
    num_det = det.shape[1]
    det_vol = np.repeat(np.arange(det_counts.size), det_counts)
    gt_start = np.cumsum(gt_counts) - gt_counts
    pairs_per_det = gt_counts[det_vol]
    best = np.zeros(num_det, dtype=np.float64)
    hit_det, hit_gt = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    ends = np.cumsum(pairs_per_det)
    start = 0
    while start < num_det:
        # detections whose pairs fit in one chunk (at least one detection)
        base = ends[start - 1] if start else 0
        stop = int(
            np.searchsorted(ends, base + _PAIRS_PER_CHUNK, side='right'))
        stop = min(max(stop, start + 1), num_det)
        npair = pairs_per_det[start:stop]
        d_idx = np.repeat(np.arange(start, stop), npair)
        within = np.arange(d_idx.size) - np.repeat(
            np.cumsum(npair) - npair, npair)
        g_idx = gt_start[det_vol[d_idx]] + within
        if d_idx.size:
            ov = overlaps3d(det[:, d_idx], gt[:, g_idx], overlap, mode,
                            plus_one)
            has = npair > 0
            seg = (np.cumsum(npair) - npair)[has]
            best[start:stop][has] = np.maximum.reduceat(ov, seg)
            hit = ov >= iou_thr
            hit_det.append(d_idx[hit])
            hit_gt.append(g_idx[hit])
        start = stop
    return best, np.concatenate(hit_det), np.concatenate(hit_gt)


def froc3d(pred_boxes: Sequence[np.ndarray],
           pred_scores: Optional[Sequence[np.ndarray]],
           gt_boxes: Sequence[np.ndarray],
           fps: Sequence[float] = FPS_3D,
           iou_thr: float = 0.3,
           overlap: str = 'iobb',
           mode: str = '3D',
           plus_one: bool = True,
           exact_rate: str = 'last') -> Dict:
    """3D FROC over sub-volumes; see the module docstring.

    Args:
        pred_boxes: One ``(n_i, 6)`` (or ``(n_i, 7)`` with the score last)
            array per sub-volume, predicted 3D boxes.
        pred_scores: One ``(n_i,)`` array per sub-volume, or None to take
            column 6 of ``pred_boxes``.
        gt_boxes: One ``(m_i, 6)`` array per sub-volume (P3D: key-slice
            marks with ``z1 == z2``).
        fps: FPs-per-sub-volume rates to read (default :data:`FPS_3D`).
        iou_thr: Overlap threshold in (0, 1].
        overlap: One of :data:`OVERLAPS_3D`.
        mode: ``'3D'`` or ``'P3D'``.
        plus_one: Inclusive-pixel extents (the released code).
        exact_rate: ``'last'`` or ``'first'``, see the module docstring.

    Returns:
        dict: ``fps``, ``sens``, ``clamped`` (rates beyond the last observed
        FP rate), ``mean_sens`` (mean of ``sens``), ``curve_fps``,
        ``curve_sens``, ``curve_scores`` (``(N + 1,)``, point 0 is ``(0, 0)``
        at score ``+inf``), ``num_subvolumes``, ``num_lesions``,
        ``num_detections``, ``num_fp``, ``num_found``, ``max_fps``,
        ``final_sens``, ``lesion_found_step`` ``(M,)`` (curve index, -1:
        never), ``lesion_subvolume`` ``(M,)``, ``det_is_fp`` ``(N,)``,
        ``det_max_overlap`` ``(N,)`` and the options.
    """
    fps_arr = check_fps(fps)
    check_choice('overlap', overlap, OVERLAPS_3D)
    check_choice('mode', mode, MODES_3D)
    check_choice('exact_rate', exact_rate, EXACT_RATE_RULES)
    if not 0 < float(iou_thr) <= 1:
        raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
    if pred_scores is None:
        det7, det_counts = _stack(pred_boxes, 7, 'pred_boxes')
        det, scores = det7[:6], det7[6].copy()
    else:
        det, det_counts = _stack(pred_boxes, 6, 'pred_boxes')
        if len(pred_scores) != len(pred_boxes):
            raise ValueError('pred_scores must have one entry per sub-volume')
        scores = np.concatenate(
            [np.asarray(s, np.float64).reshape(-1) for s in pred_scores]
            or [np.zeros(0)])
        if scores.size != det.shape[1]:
            raise ValueError(f'{scores.size} scores for {det.shape[1]} '
                             'predicted boxes')
        if not np.isfinite(scores).all():
            raise ValueError('pred_scores contain NaN or infinite values')
    gt, gt_counts = _stack(gt_boxes, 6, 'gt_boxes')
    if len(gt_boxes) != len(pred_boxes):
        raise ValueError('pred_boxes and gt_boxes must have one entry per '
                         f'sub-volume; got {len(pred_boxes)} and '
                         f'{len(gt_boxes)}')
    if not len(gt_boxes):
        raise ValueError('froc3d needs at least one sub-volume')
    if ((gt[3] < gt[0]) | (gt[4] < gt[1]) | (gt[5] < gt[2])).any():
        raise ValueError('gt_boxes has a box with x2 < x1, y2 < y1 or z2 < z1')
    if mode == 'P3D' and (gt[2] != gt[5]).any():
        raise ValueError("mode 'P3D' needs key-slice marks with z1 == z2")
    num_vol, num_det, num_gt = gt_counts.size, det.shape[1], gt.shape[1]

    order, ranked = sort_by_score(scores)
    best, hit_det, hit_gt = _match(det, det_counts, gt, gt_counts,
                                   float(iou_thr), overlap, mode, plus_one)
    rank = np.empty(num_det, dtype=np.int64)
    rank[order] = np.arange(num_det)
    first_rank = np.full(num_gt, num_det, dtype=np.int64)
    np.minimum.at(first_rank, hit_gt, rank[hit_det])
    is_fp = best < float(iou_thr)
    fp_cum = np.zeros(num_det + 1, dtype=np.int64)
    np.cumsum(is_fp[order], out=fp_cum[1:])
    found = first_rank < num_det
    step = np.where(found, first_rank + 1, -1)
    tp_cum = np.cumsum(np.bincount(step[found], minlength=num_det + 1))
    curve_fps = fp_cum / float(num_vol)
    if num_gt:
        curve_sens = tp_cum / float(num_gt)
        sens, clamped = interpolate_sensitivity(curve_fps, curve_sens, fps_arr,
                                                exact_rate)
    else:
        curve_sens = np.full(num_det + 1, np.nan)
        sens = np.full(fps_arr.shape, np.nan)
        clamped = fps_arr > curve_fps[-1]
    return dict(
        fps=fps_arr,
        sens=sens,
        clamped=clamped,
        mean_sens=float(np.mean(sens)),
        curve_fps=curve_fps,
        curve_sens=curve_sens,
        curve_scores=np.concatenate([[np.inf], ranked]),
        num_subvolumes=num_vol,
        num_lesions=num_gt,
        num_detections=num_det,
        num_fp=int(fp_cum[-1]),
        num_found=int(found.sum()),
        max_fps=float(curve_fps[-1]),
        final_sens=float(curve_sens[-1]) if num_gt else float('nan'),
        lesion_found_step=step,
        lesion_subvolume=np.repeat(np.arange(num_vol), gt_counts),
        det_is_fp=is_fp,
        det_max_overlap=best,
        iou_thr=float(iou_thr),
        overlap=overlap,
        mode=mode,
        plus_one=bool(plus_one),
        exact_rate=exact_rate)


def stratum_froc3d(result: Dict, lesion_mask: np.ndarray) -> Dict:
    """Sensitivity of a subset of lesions on the FP axis of all
    sub-volumes (FPs are not stratified); ``mean_sens`` is the mean over
    ``result['fps']``.

    Args:
        result: From :func:`froc3d`.
        lesion_mask: ``(M,)`` bool per lesion (sub-volumes in order).
    """
    out = stratum_froc(result, lesion_mask)
    out['mean_sens'] = float(np.mean(out['sens']))
    return out


#: Lesion size strata (long in-plane side of the box, mm): the usual
#: DeepLesion bins.
SIZE_BINS_MM = ((0.0, 10.0), (10.0, 30.0), (30.0, float('inf')))


def size_strata(gt_boxes: Sequence[np.ndarray],
                pixel_mm: Optional[Sequence[float]] = None,
                bins: Sequence[Tuple[float, float]] = SIZE_BINS_MM,
                plus_one: bool = True) -> Dict[str, np.ndarray]:
    """Lesion masks by the long in-plane side of the box.

    Args:
        gt_boxes: One ``(m_i, 6)`` array per sub-volume.
        pixel_mm: Pixel size (mm) of every sub-volume; None: sides in
            pixels (and ``bins`` in pixels).
        bins: ``[lo, hi)`` ranges.
        plus_one: Inclusive-pixel sides.

    Returns:
        dict: ``{'<lo>-<hi> mm' (or px): (M,) bool}``.
    """
    off = 1.0 if plus_one else 0.0
    sides = []
    for i, b in enumerate(gt_boxes):
        b = np.asarray(b, np.float64).reshape(-1, 6)
        side = np.maximum(b[:, 3] - b[:, 0], b[:, 4] - b[:, 1]) + off
        sides.append(side * (1.0 if pixel_mm is None else float(pixel_mm[i])))
    side = np.concatenate(sides) if sides else np.zeros(0)
    unit = 'px' if pixel_mm is None else 'mm'
    out = {}
    for lo, hi in bins:
        label = f'>={lo:g} {unit}' if np.isinf(hi) else \
            f'{lo:g}-{hi:g} {unit}'
        out[label] = (side >= lo) & (side < hi)
    return out
