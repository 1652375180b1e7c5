"""FROC, strata and AP50 of DeepLesion image records (what the metric and the
re-scoring tool compute)."""
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from cspr_det.evaluation.functional.froc import froc
from cspr_det.evaluation.functional.froc_curve import (curve_corners,
                                                       stratum_froc)
from cspr_det.evaluation.functional.froc_options import (DEFAULT_FPS,
                                                         MEAN_SENS_RANGE,
                                                         check_choice,
                                                         check_fps,
                                                         check_protocol)
from .coco_ap50 import AP50_DEFINITION, coco_ap50
from .deeplesion_strata import (DEEPLESION_TYPE_NAMES,
                                DEFAULT_INTERVAL_BINS_MM, DEFAULT_SIZE_BINS_MM,
                                Stratum, check_bins, fmt_number, lesion_strata)

NOISY_MODES = ('drop', 'keep')


class EvaluatedSet(NamedTuple):
    """The images and lesions left by the noisy rule, as FROC inputs and
    per-lesion attributes (lesions of all images in order)."""
    pred_boxes: List[np.ndarray]
    pred_scores: List[np.ndarray]
    gt_boxes: List[np.ndarray]
    lesion_type: np.ndarray
    long_diameter_mm: np.ndarray
    slice_interval_mm: np.ndarray
    dropped_lesions: int
    dropped_images: int


def select_lesions(records: Sequence[dict], noisy: str) -> EvaluatedSet:
    """Apply the noisy rule to image records and gather the FROC inputs.

    Args:
        records: Image records (see ``DeepLesionFROCMetric``).
        noisy: ``'drop'`` removes lesions flagged noisy and the images left
            without lesion (with their detections); ``'keep'`` keeps them.

    Returns:
        EvaluatedSet: A lesion's long diameter is ``diameters[0] *
        spacing[0]`` mm; its slice interval is the image's
        ``slice_interval``, else ``spacing[2]``; NaN when unknown.
    """
    pred_boxes, pred_scores, gt_boxes = [], [], []
    les_type, les_size, les_interval = [], [], []
    dropped_images = dropped_lesions = 0
    for rec in records:
        lesions = rec['instances']
        if noisy == 'drop':
            kept = [inst for inst in lesions if not inst['noisy']]
            dropped_lesions += len(lesions) - len(kept)
            if lesions and not kept:
                dropped_images += 1
                continue
            lesions = kept
        pred_boxes.append(np.asarray(rec['pred_bboxes']))
        pred_scores.append(np.asarray(rec['pred_scores']))
        gt_boxes.append(
            np.array([inst['bbox'] for inst in lesions],
                     dtype=np.float64).reshape(-1, 4))
        spacing = rec.get('spacing')
        interval = rec.get('slice_interval')
        if interval is None and spacing is not None and len(spacing) >= 3:
            interval = spacing[2]
        interval = np.nan if interval is None else round(float(interval), 3)
        for inst in lesions:
            les_type.append(inst['lesion_type'])
            diam = inst.get('diameters')
            les_size.append(
                float(diam[0]) *
                float(spacing[0]) if diam and spacing else np.nan)
            les_interval.append(interval)
    if not gt_boxes:
        raise ValueError('no image left to evaluate: every image had only '
                         "noisy lesions (noisy='drop')")
    return EvaluatedSet(pred_boxes, pred_scores, gt_boxes,
                        np.asarray(les_type, dtype=np.int64),
                        np.asarray(les_size, dtype=np.float64),
                        np.asarray(les_interval, dtype=np.float64),
                        dropped_lesions, dropped_images)


def _row(group: str, name: str, res: dict) -> dict:
    return dict(
        group=group,
        name=name,
        num_lesions=res['num_lesions'],
        num_found=res['num_found'],
        sens=[float(s) for s in res['sens']],
        mean_sens=float(res['mean_sens']))


def _strata_rows(
        res: dict,
        strata: List[Stratum]) -> Tuple[List[dict], Dict[str, float], dict]:
    """Rows and metrics of the non-empty strata, and the lesion count of
    every size / interval bin (empty ones included)."""
    rows, metrics = [], OrderedDict()
    counts: dict = {}
    for stratum in strata:
        if stratum.group in ('size', 'interval'):
            group = counts.setdefault(stratum.group, dict(bins=[]))
            group['bins'].append(
                dict(name=stratum.name, num_lesions=int(stratum.mask.sum())))
        if not stratum.mask.any():
            continue
        sub = stratum_froc(res, stratum.mask)
        rows.append(_row(stratum.group, stratum.name, sub))
        metrics[stratum.key] = float(sub['mean_sens'])
    for group in counts.values():
        group['unknown'] = res['num_lesions'] - sum(b['num_lesions']
                                                    for b in group['bins'])
    return rows, metrics, counts


def evaluate_froc_records(
    records: Sequence[dict],
    fps: Sequence[float] = DEFAULT_FPS,
    iou_thr: float = 0.5,
    overlap: str = 'iou',
    plus_one: bool = False,
    noisy: str = 'drop',
    exact_rate: str = 'first',
    size_bins_mm: Optional[Sequence[float]] = DEFAULT_SIZE_BINS_MM,
    lesion_type_names=DEEPLESION_TYPE_NAMES,
    compute_ap50: bool = True,
    interval_bins_mm: Optional[Sequence[float]] = DEFAULT_INTERVAL_BINS_MM
) -> Tuple[Dict[str, float], dict]:
    """FROC of DeepLesion image records with strata and AP50.

    Args:
        records: Image records (see ``DeepLesionFROCMetric``).
        fps, iou_thr, overlap, plus_one, exact_rate: FROC options, see
            :func:`cspr_det.evaluation.froc`.
        noisy: ``'drop'`` or ``'keep'``, see :func:`select_lesions`.
        size_bins_mm: Edges of the long-diameter strata in mm (None: no
            size strata); bins ``<a``, ``a-b`` (``a <= d < b``), ``>=b``.
        lesion_type_names: Names of lesion-type codes (sequence for codes
            1, 2, ... or dict code -> name; None: no type strata).
        compute_ap50: Also compute COCO AP50 (see
            :func:`~cspr_det.evaluation.metrics.coco_ap50.coco_ap50`).
        interval_bins_mm: Edges of the slice-interval strata in mm (None:
            no interval strata); bins ``<=a``, ``a-b`` (``a < z <= b``),
            ``>b``.

    Returns:
        tuple: ``(metrics, report)``: the flat metric dict (see
        ``DeepLesionFROCMetric``) and a report dict with the protocol,
        counts, per-stratum rows, bin counts and the thinned curve.
    """
    check_choice('noisy', noisy, NOISY_MODES)
    fps_arr = check_fps(fps)
    iou_thr = check_protocol(iou_thr, overlap, exact_rate)
    size_bins = None if size_bins_mm is None else check_bins(
        size_bins_mm, 'size_bins_mm')
    interval_bins = None if interval_bins_mm is None else check_bins(
        interval_bins_mm, 'interval_bins_mm')
    if len(records) == 0:
        raise ValueError('no image to evaluate (empty results)')

    sel = select_lesions(records, noisy)
    res = froc(sel.pred_boxes, sel.pred_scores, sel.gt_boxes, fps_arr, iou_thr,
               overlap, plus_one, exact_rate)
    strata = lesion_strata(sel.lesion_type, sel.long_diameter_mm,
                           sel.slice_interval_mm, lesion_type_names, size_bins,
                           interval_bins)
    rows, strata_metrics, counts = _strata_rows(res, strata)

    metrics: Dict[str, float] = OrderedDict()
    for f, s in zip(res['fps'], res['sens']):
        metrics[f'sens@{fmt_number(f)}'] = float(s)
    metrics['mean_sens'] = float(res['mean_sens'])
    ap50 = None
    if compute_ap50:
        ap50 = coco_ap50(sel.gt_boxes, sel.pred_boxes, sel.pred_scores)
        metrics['ap50'] = ap50
    metrics.update(strata_metrics)
    metrics['num_images'] = res['num_images']
    metrics['num_lesions'] = res['num_lesions']

    cx, cy = curve_corners(
        res['curve_fps'], res['curve_sens'], max_fps=float(np.max(fps_arr)))
    protocol = dict(
        noisy=noisy,
        overlap=overlap,
        iou_thr=iou_thr,
        plus_one=bool(plus_one),
        exact_rate=exact_rate,
        fps=[float(f) for f in fps_arr],
        mean_sens_range=list(MEAN_SENS_RANGE),
        beyond_last_fp_rate='clamped to the final sensitivity',
        strata_fp_axis='FPs per image over all images (not stratified)',
        size_bins_mm=None if size_bins is None else size_bins.tolist(),
        interval_bins_mm=None
        if interval_bins is None else interval_bins.tolist(),
        ap50=AP50_DEFINITION if compute_ap50 else None)
    report = dict(
        protocol=protocol,
        num_images=res['num_images'],
        num_lesions=res['num_lesions'],
        num_detections=res['num_detections'],
        num_fp=res['num_fp'],
        num_images_input=len(records),
        dropped_noisy_lesions=sel.dropped_lesions,
        dropped_images=sel.dropped_images,
        max_fps=res['max_fps'],
        final_sens=res['final_sens'],
        clamped=[bool(c) for c in res['clamped']],
        ap50=ap50,
        metrics=dict(metrics),
        rows=[_row('all', 'all', res)] + rows,
        strata_counts=counts,
        curve=dict(fps=cx.tolist(), sens=cy.tolist()))
    return metrics, report
