"""Write 3-slice CT patches of a converted volume dataset as a VDT
pre-training set (the class-folder layout of ``cspr_det.ImageFolderDataset``).

    python tools/dataset_converters/ct_patches_to_folder.py \\
        data/synthetic_btcv_src/converted data/btcv_patches \\
        [--patch-size 32] [--per-class 40] [--val-per-class 20] \\
        [--window -200 250] [--seed 0]

Every patch is the three axial slices ``z - 1, z, z + 1`` (RGB = the VDT's
three slices) of a ``P x P`` square centred on a voxel, labelled with that
voxel's class (organ, liver, lesion or background, from ``labels/``).
Training patches come from the index's ``train`` cases, validation patches
from its ``test`` cases, so the two never share a patient:

    OUT/train/<NN>_<class>/<case>_<k>.png
    OUT/val/<NN>_<class>/<case>_<k>.png

``NN`` is the label value, so the alphabetical class order of the dataset
equals the label order; every class folder exists in both splits.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

from cspr_det.cli.errors import run_cli
from cspr_det.datasets.ct_slice_patches import (PatchSourceError,
                                                read_volume_index,
                                                sample_slice_patches,
                                                split_cases)

SPLITS = (('train', 'train', 'per_class'), ('val', 'test', 'val_per_class'))


def class_folders(index: dict) -> dict:
    """``{label value: folder name}`` for every label value of the index."""
    values = [int(v) for v in index.get('label_values', [])]
    if not values:
        raise PatchSourceError('the index names no label_values')
    names = index.get('classes') or [f'class{v}' for v in values]
    if len(names) != len(values):
        names = [f'class{v}' for v in values]
    return {v: f'{v:02d}_{n}' for v, n in zip(values, names)}


def convert(root: str, out_dir: str, args) -> dict:
    """Write the patches; returns ``{split: {folder: count}}``."""
    import cv2
    index = read_volume_index(root)
    folders = class_folders(index)
    rng = np.random.default_rng(args.seed)
    counts = {}
    for split, source_split, per_arg in SPLITS:
        counts[split] = {name: 0 for name in folders.values()}
        for name in folders.values():
            os.makedirs(osp.join(out_dir, split, name), exist_ok=True)
        for case in split_cases(index, source_split):
            paths = [osp.join(root, case[k]) for k in ('image', 'label')]
            missing = [p for p in paths if not osp.isfile(p)]
            if missing:
                raise PatchSourceError(f'{case["case_id"]}: missing {missing}')
            image = np.load(paths[0], mmap_mode='r')
            label = np.load(paths[1], mmap_mode='r')
            patches = sample_slice_patches(
                np.asarray(image),
                np.asarray(label),
                args.patch_size,
                getattr(args, per_arg),
                tuple(args.window),
                rng,
                classes=sorted(folders))
            for k, (value, patch) in enumerate(patches):
                name = folders[value]
                path = osp.join(out_dir, split, name,
                                f'{case["case_id"]}_{k:05d}.png')
                # cv2 writes BGR: reverse so that R, G, B = z - 1, z, z + 1
                if not cv2.imwrite(path, patch[..., ::-1]):
                    raise PatchSourceError(f'cannot write {path}')
                counts[split][name] += 1
    return counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='3-slice CT patches of a converted volume dataset -> '
        'train/<class>/*.png and val/<class>/*.png (VDT pre-training on a '
        'CT source task)')
    parser.add_argument('root', help='converted dataset (index.json)')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--patch-size', type=int, default=32)
    parser.add_argument(
        '--per-class',
        type=int,
        default=40,
        help='training patches per class and case')
    parser.add_argument(
        '--val-per-class',
        type=int,
        default=20,
        help='validation patches per class and case')
    parser.add_argument(
        '--window',
        type=float,
        nargs=2,
        default=(-200.0, 250.0),
        metavar=('LO', 'HI'),
        help='HU window mapped to 0-255 (default: the LiTS window)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.patch_size < 1 or args.per_class < 1 or args.val_per_class < 1:
        print(
            'error: --patch-size, --per-class and --val-per-class must be '
            'positive',
            file=sys.stderr)
        return 2
    if args.window[1] <= args.window[0]:
        print(
            f'error: --window {args.window}: HI must exceed LO',
            file=sys.stderr)
        return 2
    counts = convert(args.root, args.out_dir, args)
    for split, per in counts.items():
        print(f'{split}: {sum(per.values())} patches in {len(per)} classes '
              f'-> {osp.join(args.out_dir, split)} ' +
              ', '.join(f'{k}={v}' for k, v in per.items()))
    return 0


if __name__ == '__main__':
    run_cli(main)
