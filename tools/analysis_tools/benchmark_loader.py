"""Throughput of the DeepLesion slice-stack loader.

Generates (or reuses) a 512 x 512 synthetic DeepLesion set with 1 mm and
5 mm series, then loads S-slice stacks at a target interval through
``DeepLesionDataset`` + ``LoadDeepLesionSlices`` and prints samples/s and
decoded PNGs per sample for each native slice interval.

Example:
    python tools/analysis_tools/benchmark_loader.py --num-slices 9 \
        --slice-interval 2.5
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark the loader')
    parser.add_argument(
        '--data-root',
        default=None,
        help='synthetic data folder (generated there if it has no '
        'DL_info.csv; default: a temporary folder)')
    parser.add_argument('--num-patients', type=int, default=4)
    parser.add_argument('--image-size', type=int, default=512)
    parser.add_argument('--num-slices', type=int, default=9)
    parser.add_argument('--slice-interval', type=float, default=2.5)
    parser.add_argument(
        '--repeat', type=int, default=3, help='passes over the key slices')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def run(args, data_root: str) -> dict:
    from mmengine.registry import init_default_scope

    from cspr_det.datasets import DeepLesionDataset
    from cspr_det.datasets.deeplesion_coco import convert_deeplesion_csv
    from cspr_det.datasets.synthetic import make_synthetic_deeplesion

    if not osp.isfile(osp.join(data_root, 'DL_info.csv')):
        t0 = time.time()
        s = make_synthetic_deeplesion(
            data_root,
            num_patients=args.num_patients,
            image_size=args.image_size,
            seed=args.seed,
            preset='bench')
        print(f'generated {s["slices"]} slices in {time.time() - t0:.1f} s '
              f'under {data_root}')
    summary = convert_deeplesion_csv(
        osp.join(data_root, 'DL_info.csv'), osp.join(data_root, 'annotations'))
    init_default_scope('mmdet')
    split = max(
        summary['splits'], key=lambda k: summary['splits'][k]['images'])
    ds = DeepLesionDataset(
        ann_file=f'annotations/deeplesion_{split}.json',
        data_root=data_root,
        pipeline=[
            dict(
                type='cspr_det.LoadDeepLesionSlices',
                num_slices=args.num_slices,
                slice_interval=args.slice_interval)
        ],
        test_mode=True)
    rows = range(len(ds))
    stats = defaultdict(lambda: dict(n=0, t=0.0, decoded=[]))
    for _ in range(args.repeat):
        for i in rows:
            info = ds.get_data_info(i)
            t0 = time.perf_counter()
            out = ds[i]
            dt = time.perf_counter() - t0
            st = stats[info['slice_interval']]
            st['n'] += 1
            st['t'] += dt
            st['decoded'].append(out['num_decoded_slices'])
    return dict(stats=stats, shape=out['img'].shape)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.data_root is None:
        with tempfile.TemporaryDirectory() as tmp:
            res = run(args, tmp)
    else:
        res = run(args, args.data_root)
    print(f'stack shape (H, W, S): {res["shape"]}, target interval '
          f'{args.slice_interval} mm, {args.repeat} passes, warm page cache')
    print(f'{"series":>8} {"samples":>8} {"samples/s":>10} {"ms/sample":>10}'
          f' {"PNGs decoded/sample":>20}')
    for dz in sorted(res['stats']):
        st = res['stats'][dz]
        print(f'{dz:>6g}mm {st["n"]:>8} {st["n"] / st["t"]:>10.1f} '
              f'{1000 * st["t"] / st["n"]:>10.1f} '
              f'{np.mean(st["decoded"]):>20.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
