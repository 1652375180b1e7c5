"""Convert LiTS (``volume-N.nii`` / ``segmentation-N.nii``) to per-case
arrays for 3D segmentation.

Example:
    python tools/dataset_converters/lits.py data/lits/raw data/lits/converted

``RAW`` is searched recursively for ``volume-N.nii[.gz]`` and
``segmentation-N.nii[.gz]`` (the release's ``Training Batch 1/2`` folders or
any other layout). Every case is checked (missing or truncated file,
image/label geometry, label values 0-2, empty foreground), reoriented to the
canonical orientation (ITK ``LPS``: W to the patient's left, H posterior, D
superior), resampled to 1 mm in z (in-plane kept; ``--spacing``) and written
as ``OUT/images/volume-N.npy`` (int16 HU) and ``OUT/labels/volume-N.npy``
(uint8), memory-mappable, with one ``OUT/index.json`` (split, spacing,
origin, direction, source size/geometry, foreground z-range per case).
The split is the published one (105 / 13 / 13, shipped in
``cspr_det/datasets/splits/lits``) unless ``--split-file`` is given.
Everything is written to a temporary folder and moved into place at the end,
so a failed run leaves ``OUT`` untouched.
"""
import argparse
import os.path as osp
import sys

from cspr_det.datasets.lits_dataset import LITS_TASKS
from cspr_det.datasets.splits import lits_published_split
from cspr_det.datasets.volume_converter_cli import (add_conversion_args,
                                                    convert_from_args)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert LiTS NIfTI volumes to memory-mappable arrays')
    parser.add_argument(
        'raw',
        help='folder with volume-N.nii and '
        'segmentation-N.nii (searched recursively)')
    parser.add_argument(
        'out', help='output folder (images/, labels/, '
        'index.json)')
    add_conversion_args(
        parser, ('1.0', 'none', 'none'),
        'JSON {"train": [...], "val": [...], "test": [...]} of volume-N ids '
        'instead of the published split')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return convert_from_args(
        args,
        'lits',
        lits_published_split,
        r'volume-(\d+)',
        r'segmentation-(\d+)',
        lambda n: f'volume-{n}',
        lambda c: osp.join(args.raw, c + '.nii'),
        lambda c: osp.join(args.raw,
                           c.replace('volume-', 'segmentation-') + '.nii'),
        classes=LITS_TASKS['liver_tumour']['classes'])


if __name__ == '__main__':
    sys.exit(main())
