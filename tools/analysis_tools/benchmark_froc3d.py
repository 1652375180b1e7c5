"""Speed of the 3D FROC (``cspr_det.evaluation.functional.froc3d``) on a
DeepLesion-3D-sized problem, checked against a box-by-box walk.

The data mimic the released test split: 800 sub-volumes (5 lesions each on
average, a few without), 100 predicted 3D boxes per sub-volume, some of them
jittered copies of the lesions (scoring higher on the whole), the rest
scattered over 512 x 512 x 60 voxels; distinct float64 scores. The
reference walks the pooled, sorted boxes one at a time as the protocol reads
(overlap with the lesions of the box's sub-volume, FP or newly found
lesions, running counts; sensitivities read with ``numpy.interp``, 0 below
the first observed FP rate, the last value beyond the last); the run stops
with an error unless both give identical sensitivities.

Example:
    python tools/analysis_tools/benchmark_froc3d.py
    python tools/analysis_tools/benchmark_froc3d.py --mode P3D
"""
import argparse
import sys
import time

import numpy as np

from cspr_det.evaluation.functional.froc3d import FPS_3D, froc3d, overlaps3d


def make_case(num_vol: int, per_vol: int, lesions: float, mode: str,
              seed: int):
    """Random lesions and predictions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(num_vol):
        m = int(rng.poisson(lesions))
        c = rng.uniform(20, 490, (m, 2))
        s = rng.uniform(10, 60, (m, 2))
        z = rng.integers(1, 50, m)
        dz = rng.integers(1, 12, m)
        g = np.stack([
            c[:, 0] - s[:, 0] / 2, c[:, 1] - s[:, 1] / 2, z, c[:, 0] +
            s[:, 0] / 2, c[:, 1] + s[:, 1] / 2, z if mode == 'P3D' else z + dz
        ], 1).round()
        c = rng.uniform(0, 512, (per_vol, 2))
        s = rng.uniform(8, 60, (per_vol, 2))
        z = rng.integers(1, 55, per_vol)
        p = np.stack([
            c[:, 0] - s[:, 0] / 2, c[:, 1] - s[:, 1] / 2, z,
            c[:, 0] + s[:, 0] / 2, c[:, 1] + s[:, 1] / 2,
            z + rng.integers(0, 10, per_vol)
        ], 1)
        if m:
            k = min(per_vol, 2 * m)
            near = g[rng.integers(0, m, k)] + rng.normal(0, 3, (k, 6))
            near[:, 2] -= 2
            near[:, 5] += 2
            p[:k] = near
        score = rng.uniform(0.0, 0.7, per_vol)
        if m:  # the copies of lesions score higher on the whole
            score[:k] = rng.uniform(0.3, 1.0, k)
        preds.append(np.hstack([p, score[:, None]]))
        gts.append(g)
    return preds, gts


def walk(preds, gts, thr: float, overlap: str, mode: str) -> np.ndarray:
    """The protocol box by box (the reference)."""
    pooled = np.concatenate(preds)
    vol = np.repeat(np.arange(len(preds)), [len(p) for p in preds])
    order = np.argsort(-pooled[:, 6], kind='stable')
    found = [np.zeros(len(g), bool) for g in gts]
    hits = fps = 0
    tp_run, fp_run = [], []
    for i in order:
        g = gts[vol[i]]
        box = np.repeat(pooled[i, :6, None], len(g), 1)
        ov = overlaps3d(box, g.T, overlap, mode) if len(g) else np.zeros(0)
        if not len(ov) or ov.max() < thr:
            fps += 1
        else:
            new = (ov >= thr) & ~found[vol[i]]
            found[vol[i]] |= new
            hits += int(new.sum())
        tp_run.append(hits)
        fp_run.append(fps)
    sens = np.array(tp_run) / sum(len(g) for g in gts)
    rate = np.array(fp_run) / len(gts)
    out = [
        0.0 if f < rate[0] else
        sens[-1] if f > rate[-1] else float(np.interp(f, rate, sens))
        for f in FPS_3D
    ]
    return np.array(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--num-subvolumes', type=int, default=800)
    p.add_argument('--boxes-per-subvolume', type=int, default=100)
    p.add_argument('--lesions-per-subvolume', type=float, default=5.2)
    p.add_argument('--mode', default='3D', choices=('3D', 'P3D'))
    p.add_argument('--overlap', default='iobb')
    p.add_argument('--iou-thr', type=float, default=0.3)
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    preds, gts = make_case(args.num_subvolumes, args.boxes_per_subvolume,
                           args.lesions_per_subvolume, args.mode, args.seed)
    times = []
    for _ in range(args.repeat):
        tic = time.perf_counter()
        res = froc3d(
            preds,
            None,
            gts,
            iou_thr=args.iou_thr,
            overlap=args.overlap,
            mode=args.mode)
        times.append(time.perf_counter() - tic)
    tic = time.perf_counter()
    ref = walk(preds, gts, args.iou_thr, args.overlap, args.mode)
    walk_s = time.perf_counter() - tic
    if not np.array_equal(ref, res['sens']):
        print(
            f'error: froc3d {res["sens"].tolist()} differs from the walk '
            f'{ref.tolist()}',
            file=sys.stderr)
        return 1
    print(f'{args.num_subvolumes} sub-volumes, {res["num_lesions"]} '
          f'lesions, {res["num_detections"]} boxes ({args.mode}, '
          f'{args.overlap.upper()} >= {args.iou_thr:g})')
    print(f'froc3d: best {min(times) * 1e3:.1f} ms, median '
          f'{np.median(times) * 1e3:.1f} ms of {args.repeat}; box-by-box '
          f'walk {walk_s:.2f} s; identical sensitivities '
          f'{np.round(res["sens"], 4).tolist()}, mean {res["mean_sens"]:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
