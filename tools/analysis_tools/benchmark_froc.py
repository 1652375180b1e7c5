"""Speed of ``cspr_det.evaluation.froc`` against the classic FROC code.

The reference is a re-implementation of the classic 3DCE / MULAN evaluation
(``FROC`` + ``IOU`` + ``sens_at_FP`` of those repositories): all detections
are pooled and sorted by score, then a Python loop visits them one by one,
computes the IoU (inclusive-pixel ``+1`` widths) of the detection against
the lesions of its image, counts an FP or marks the new lesions found, and
appends the running counts; the sensitivities are read off the curve with
``scipy.interpolate.interp1d``. It is written here as that code runs, with
two adaptations that do not change its numbers: an image without lesion
counts its detections as FPs (the MULAN variant; 3DCE's own code raises
there) and rates beyond the last observed FP rate are clamped to the final
sensitivity (MULAN; 3DCE extrapolates).

The benchmark data mimic the official test split: 4,817 images with 4,912
lesions (95 images with two), 100 detections per image, a few of them
jittered copies of the lesions, the rest scattered over the 512 x 512 image.
Scores are distinct float64 values: the classic code sorts with
``np.argsort(scores)[::-1]``, which orders equal scores arbitrarily, while
``froc`` keeps them in input order, so only distinct scores make the two
comparable. The run stops with an error unless both give identical values.

Example:
    python tools/analysis_tools/benchmark_froc.py
    python tools/analysis_tools/benchmark_froc.py --num-images 1000 \\
        --classic-repeat 1
"""
import argparse
import sys
import time
from typing import List, Sequence, Tuple

import numpy as np
from scipy import interpolate

RATES = (0.5, 1, 2, 4, 8, 16)


def classic_iou(box: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """IoU of one detection ``(>= 4,)`` with ``(m, 4)`` lesions, widths
    ``x2 - x1 + 1`` (the classic code's ``IOU``)."""
    ix1 = np.maximum(gts[:, 0], box[0])
    iy1 = np.maximum(gts[:, 1], box[1])
    ix2 = np.minimum(gts[:, 2], box[2])
    iy2 = np.minimum(gts[:, 3], box[3])
    inter = np.maximum(ix2 - ix1 + 1., 0.) * np.maximum(iy2 - iy1 + 1., 0.)
    union = ((box[2] - box[0] + 1.) * (box[3] - box[1] + 1.) +
             (gts[:, 2] - gts[:, 0] + 1.) * (gts[:, 3] - gts[:, 1] + 1.) -
             inter)
    return inter / union


def classic_froc_curve(boxes_all: Sequence[np.ndarray],
                       gts_all: Sequence[np.ndarray],
                       iou_th: float) -> Tuple[np.ndarray, np.ndarray]:
    """The classic walk (the ``FROC`` function of 3DCE / MULAN).

    Args:
        boxes_all: One ``(n_i, 5)`` array per image, x1, y1, x2, y2, score.
        gts_all: One ``(m_i, 4)`` array per image.
        iou_th: IoU threshold.

    Returns:
        tuple: ``(sens, fp_per_img)``, ``(N,)`` each: the state after each
        detection in score order (no ``(0, 0)`` point in front).
    """
    num_img = len(boxes_all)
    img_idxs = np.hstack([[i] * len(boxes_all[i])
                          for i in range(num_img)]).astype(int)
    boxes_cat = np.vstack(boxes_all)
    order = np.argsort(boxes_cat[:, -1])[::-1]
    boxes_cat = boxes_cat[order, :4]
    img_idxs = img_idxs[order]
    hits = [np.zeros((len(gts), ), dtype=bool) for gts in gts_all]
    num_hits = num_miss = 0
    tps: List[int] = []
    fps: List[int] = []
    for i in range(len(boxes_cat)):
        overlaps = classic_iou(boxes_cat[i, :], gts_all[img_idxs[i]])
        if len(overlaps) == 0 or overlaps.max() < iou_th:
            num_miss += 1
        else:
            for j in range(len(overlaps)):
                if overlaps[j] >= iou_th and not hits[img_idxs[i]][j]:
                    hits[img_idxs[i]][j] = True
                    num_hits += 1
        tps.append(num_hits)
        fps.append(num_miss)
    num_gt = len(np.vstack(gts_all))
    sens = np.array(tps, dtype=float) / num_gt
    fp_per_img = np.array(fps, dtype=float) / num_img
    return sens, fp_per_img


def classic_sens_at_fp(boxes_all: Sequence[np.ndarray],
                       gts_all: Sequence[np.ndarray],
                       avg_fp: Sequence[float],
                       iou_th: float,
                       extrapolate: bool = True) -> np.ndarray:
    """The classic ``sens_at_FP``: the walk, then ``interp1d`` read-out.

    Args:
        boxes_all, gts_all, iou_th: See :func:`classic_froc_curve`.
        avg_fp: FP-per-image rates.
        extrapolate: ``interp1d(..., fill_value='extrapolate')`` as 3DCE
            (exact rates read the first point: ``exact_rate='first'``);
            False calls ``interp1d`` without ``fill_value`` as later copies
            do, which current scipy delegates to ``numpy.interp`` (the last
            point: ``exact_rate='last'``).

    Returns:
        np.ndarray: ``(k,)`` sensitivities, clamped beyond the last rate.
    """
    sens, fp_per_img = classic_froc_curve(boxes_all, gts_all, iou_th)
    inside = [a for a in avg_fp if a <= fp_per_img[-1]]
    outside = [a for a in avg_fp if a > fp_per_img[-1]]
    if extrapolate:
        f = interpolate.interp1d(fp_per_img, sens, fill_value='extrapolate')
    else:
        f = interpolate.interp1d(fp_per_img, sens)
    return np.hstack([f(np.array(inside)), np.ones(len(outside)) * sens[-1]])


def make_case(num_images: int = 4817,
              dets_per_image: int = 100,
              num_lesions: int = 4912,
              image_size: int = 512,
              seed: int = 0) -> Tuple[list, list, list]:
    """DeepLesion-like detections with distinct float64 scores.

    Returns:
        tuple: ``pred_boxes``, ``pred_scores``, ``gt_boxes``, lists with one
        ``(n, 4)`` / ``(n,)`` / ``(m, 4)`` float64 array per image.
    """
    if num_lesions < num_images:
        raise ValueError('num_lesions must be >= num_images (every image '
                         'of the classic split has a lesion)')
    rng = np.random.default_rng(seed)
    extra = rng.choice(num_images, num_lesions - num_images, replace=True)
    counts = 1 + np.bincount(extra, minlength=num_images)
    size = float(image_size)

    def boxes(n, lo, hi):
        wh = rng.uniform(lo, hi, (n, 2))
        xy = rng.uniform(0, size - wh)
        return np.hstack([xy, xy + wh])

    pred_boxes, pred_scores, gt_boxes = [], [], []
    for m in counts:
        gt = boxes(int(m), 8, 90)
        near = min(int(rng.integers(1, 6)), dets_per_image)
        jitter = gt[rng.integers(0, m, near)]
        jitter = jitter + rng.normal(0, 0.08, (near, 4)) * np.tile(
            jitter[:, 2:] - jitter[:, :2], 2)
        det = np.vstack([jitter, boxes(dets_per_image - near, 6, 80)])
        score = np.concatenate([
            rng.uniform(0.2, 1.0, near),
            rng.beta(1, 6, dets_per_image - near)
        ])
        keep = rng.permutation(dets_per_image)
        pred_boxes.append(det[keep])
        pred_scores.append(score[keep])
        gt_boxes.append(gt)
    return pred_boxes, pred_scores, gt_boxes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time cspr_det.evaluation.froc against the classic '
        '3DCE/MULAN FROC loop and check that both give identical values')
    parser.add_argument('--num-images', type=int, default=4817)
    parser.add_argument('--num-lesions', type=int, default=4912)
    parser.add_argument('--dets-per-image', type=int, default=100)
    parser.add_argument('--iou-thr', type=float, default=0.5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--repeat',
        type=int,
        default=9,
        help='timed runs of froc (spread over the classic runs)')
    parser.add_argument(
        '--classic-repeat',
        type=int,
        default=3,
        help='timed runs of the classic code')
    return parser.parse_args(argv)


def _timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def run(args) -> dict:
    """Build the case, time both implementations and compare their values.

    The runs are interleaved (a few ``froc`` runs, then one classic run,
    and so on) so that both see the same load on a shared machine.

    Returns:
        dict: ``froc_s`` and ``classic_s`` (arrays of run times), ``ratio``
        (best classic time / best froc time), ``sens`` (the values) and
        ``result`` (the dict returned by ``froc``).
    """
    from cspr_det.evaluation import froc

    pred_boxes, pred_scores, gt_boxes = make_case(
        args.num_images, args.dets_per_image, args.num_lesions, seed=args.seed)
    all_scores = np.concatenate(pred_scores)
    if np.unique(all_scores).size != all_scores.size:
        raise RuntimeError('benchmark scores are not distinct')
    classic_boxes = [
        np.hstack([b, s[:, None]]) for b, s in zip(pred_boxes, pred_scores)
    ]
    rounds = max(1, args.classic_repeat)
    per_round = -(-max(1, args.repeat) // rounds)
    froc_s, classic_s = [], []
    for _ in range(rounds):
        res, t = _timed(
            lambda: froc(
                pred_boxes,
                pred_scores,
                gt_boxes,
                RATES,
                args.iou_thr,
                plus_one=True), per_round)
        froc_s += t
        ref, t = _timed(
            lambda: classic_sens_at_fp(classic_boxes, gt_boxes, RATES, args.
                                       iou_thr), 1)
        classic_s += t
        if not np.array_equal(res['sens'], ref):
            raise RuntimeError(f'froc gives {res["sens"].tolist()} but the '
                               f'classic code {ref.tolist()}')
    froc_s, classic_s = np.array(froc_s), np.array(classic_s)
    return dict(
        froc_s=froc_s,
        classic_s=classic_s,
        ratio=float(classic_s.min() / froc_s.min()),
        sens=res['sens'],
        result=res)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = run(args)
    res = out['result']
    print(f"{res['num_images']} images, {res['num_lesions']} lesions, "
          f"{res['num_detections']} detections, IoU >= {args.iou_thr} with "
          f"+1 widths; last observed FP rate {res['max_fps']:.2f}/image")
    print('sensitivity @ ' + ', '.join(f'{r:g}: {s:.4f}'
                                       for r, s in zip(RATES, out['sens'])) +
          ' (identical in both)')
    for name, t in (('classic loop', out['classic_s']), ('cspr_det froc',
                                                         out['froc_s'])):
        print(f'{name:>14}: best {t.min():.3f} s, median '
              f'{np.median(t):.3f} s over {t.size} runs')
    print(f"speed-up (best / best): {out['ratio']:.0f}x; (median / median): "
          f"{np.median(out['classic_s']) / np.median(out['froc_s']):.0f}x")
    return 0


if __name__ == '__main__':
    sys.exit(main())
