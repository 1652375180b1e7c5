"""Mean and standard deviation of a converted volume dataset after the HU
window, on the 0-255 scale the volume pipelines feed the data preprocessor
(``HUWindow3D``): the statistics a fine-tuning run would normalise with
instead of the pre-training's.

    python tools/analysis_tools/volume_intensity_stats.py \\
        data/synthetic_lits/converted [--window -200 250] [--split train]

Every voxel of every case of the split counts once (air included, as in
the training crops).
"""
import argparse
import os.path as osp
import sys

import numpy as np

from cspr_det.cli.errors import run_cli
from cspr_det.datasets.ct_slice_patches import (PatchSourceError,
                                                read_volume_index, split_cases)
from cspr_det.datasets.transforms.hu_window_3d import window_hu


def window_stats(root: str, window, split: str) -> dict:
    """``{'mean', 'std', 'voxels', 'cases'}`` of the windowed volumes."""
    index = read_volume_index(root)
    total, sq, n = 0.0, 0.0, 0
    cases = split_cases(index, split)
    for case in cases:
        path = osp.join(root, case['image'])
        if not osp.isfile(path):
            raise PatchSourceError(f'{case["case_id"]}: missing {path}')
        vol = np.load(path, mmap_mode='r')
        for z in range(vol.shape[0]):  # one slice at a time: bounded memory
            w = window_hu(vol[z], window).astype(np.float64)
            total += w.sum()
            sq += np.square(w).sum()
            n += w.size
    mean = total / n
    return dict(
        mean=mean,
        std=float(np.sqrt(max(sq / n - mean * mean, 0.0))),
        voxels=n,
        cases=len(cases))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Mean / std of a converted volume dataset after the HU '
        'window (0-255)')
    parser.add_argument('root', help='converted dataset (index.json)')
    parser.add_argument(
        '--window',
        type=float,
        nargs=2,
        default=(-200.0, 250.0),
        metavar=('LO', 'HI'))
    parser.add_argument('--split', default='train')
    args = parser.parse_args(argv)
    if args.window[1] <= args.window[0]:
        print(
            f'error: --window {args.window}: HI must exceed LO',
            file=sys.stderr)
        return 2
    s = window_stats(args.root, args.window, args.split)
    print(f'{args.split}: {s["cases"]} cases, {s["voxels"]} voxels, window '
          f'{args.window[0]:g}..{args.window[1]:g} -> mean {s["mean"]:.2f}, '
          f'std {s["std"]:.2f} (0-255)')
    return 0


if __name__ == '__main__':
    run_cli(main)
