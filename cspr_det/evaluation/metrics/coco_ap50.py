"""COCO AP at IoU 0.5 of single-class detections, with pycocotools."""
import contextlib
import io
from typing import Sequence

import numpy as np

# How AP50 is computed; stated in every report that shows it.
AP50_DEFINITION = ('COCO AP at IoU >= 0.5 (pycocotools: continuous widths '
                   'x2 - x1, up to 100 detections per image), whatever the '
                   "FROC's overlap, iou_thr and plus_one")
AP50_LABEL = 'AP50 (COCO, IoU >= 0.5)'


def coco_ap50(gt_boxes: Sequence[np.ndarray], pred_boxes: Sequence[np.ndarray],
              pred_scores: Sequence[np.ndarray]) -> float:
    """COCO AP at IoU 0.5 of one class over a set of images.

    The standard COCO evaluation (pycocotools ``COCOeval``, ``'bbox'``):
    IoU with continuous widths ``x2 - x1``, the 100 highest-scoring
    detections per image, 101-point interpolated precision. It does not
    follow the FROC's ``overlap``/``plus_one`` options on purpose: AP50 is
    reported to compare with the detection literature, which computes it
    this way.

    Args:
        gt_boxes: One ``(m_i, 4)`` array per image, x1, y1, x2, y2.
        pred_boxes: One ``(n_i, 4)`` array per image.
        pred_scores: One ``(n_i,)`` array per image.

    Returns:
        float: AP50 in [0, 1]; NaN without any lesion, 0 without detection.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (gt, det,
            score) in enumerate(zip(gt_boxes, pred_boxes, pred_scores)):
        images.append(dict(id=i + 1))
        for b in np.asarray(gt, dtype=np.float64).reshape(-1, 4):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i + 1,
                    category_id=1,
                    bbox=[b[0], b[1], w, h],
                    area=w * h,
                    iscrowd=0))
        for b, s in zip(
                np.asarray(det, dtype=np.float64).reshape(-1, 4),
                np.asarray(score).reshape(-1)):
            dets.append(
                dict(
                    image_id=i + 1,
                    category_id=1,
                    score=float(s),
                    bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]]))
    if not anns:
        return float('nan')
    if not dets:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dict(
            images=images,
            annotations=anns,
            categories=[dict(id=1, name='lesion')])
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        coco_eval = COCOeval(coco_gt, coco_dt, 'bbox')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    ap50 = float(coco_eval.stats[1])
    return ap50 if ap50 >= 0 else float('nan')
