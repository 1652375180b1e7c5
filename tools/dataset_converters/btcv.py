"""Convert BTCV (``RawData/Training/img/imgNNNN.nii.gz`` +
``label/labelNNNN.nii.gz``) to per-case arrays for 3D segmentation.

Example:
    python tools/dataset_converters/btcv.py data/btcv data/btcv/converted \
        --spacing 2.0 1.5 1.5

``RAW`` is searched recursively for ``imgNNNN.nii[.gz]`` and
``labelNNNN.nii[.gz]``. Every case is checked (missing or truncated file,
image/label geometry, label values 0-13, empty foreground), reoriented to
the canonical orientation (ITK ``LPS``), resampled to the target spacing
(default 2.0 x 1.5 x 1.5 mm, z y x: the common BTCV setting; HU linear,
labels by per-label linear interpolation) and written as
``OUT/images/imgNNNN.npy`` (int16 HU) and ``OUT/labels/imgNNNN.npy``
(uint8) with one ``OUT/index.json``. The split is the published one (24
training cases, test cases 35-40) unless ``--split-file`` is given. A failed
run leaves ``OUT`` untouched.
"""
import argparse
import os.path as osp
import sys

from cspr_det.datasets.btcv_dataset import BTCV_CLASSES
from cspr_det.datasets.splits import btcv_case_id, btcv_published_split
from cspr_det.datasets.volume_converter_cli import (add_conversion_args,
                                                    convert_from_args)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert BTCV NIfTI volumes to memory-mappable arrays')
    parser.add_argument(
        'raw',
        help='folder holding RawData/Training/'
        '{img,label} (searched recursively)')
    parser.add_argument(
        'out', help='output folder (images/, labels/, '
        'index.json)')
    add_conversion_args(
        parser, ('2.0', '1.5', '1.5'),
        'JSON {"train": [...], "test": [...]} of imgNNNN ids instead of the '
        'published split')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    train_dir = osp.join(args.raw, 'RawData', 'Training')
    return convert_from_args(
        args,
        'btcv',
        btcv_published_split,
        r'img(\d+)',
        r'label(\d+)',
        btcv_case_id,
        lambda c: osp.join(train_dir, 'img', c + '.nii.gz'),
        lambda c: osp.join(train_dir, 'label',
                           c.replace('img', 'label') + '.nii.gz'),
        classes=BTCV_CLASSES)


if __name__ == '__main__':
    sys.exit(main())
