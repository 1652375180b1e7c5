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
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from cspr_det.datasets.btcv_dataset import BTCV_CLASSES  # noqa: E402
from cspr_det.datasets.splits import (btcv_case_id,  # noqa: E402
                                      btcv_published_split, load_split_file)
from cspr_det.datasets.volume_converter import (  # noqa: E402
    convert_dataset, find_case_files, plan_cases)
from cspr_det.datasets.volume_io import VolumeError, parse_spacing  # noqa

NII = r'\.nii(?:\.gz)?'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert BTCV NIfTI volumes to memory-mappable arrays')
    parser.add_argument('raw', help='folder holding RawData/Training/'
                        '{img,label} (searched recursively)')
    parser.add_argument('out', help='output folder (images/, labels/, '
                        'index.json)')
    parser.add_argument(
        '--spacing', nargs=3, default=['2.0', '1.5', '1.5'],
        metavar=('Z', 'Y', 'X'),
        help="target spacing in mm, 'none' keeps an axis (default: 2.0 1.5 "
        '1.5)')
    parser.add_argument(
        '--split-file', help='JSON {"train": [...], "test": [...]} of '
        'imgNNNN ids instead of the published split')
    parser.add_argument('--skip-bad', action='store_true',
                        help='skip bad cases with a counted warning')
    parser.add_argument('--workers', type=int, default=0,
                        help='parallel conversion processes (default 0)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    try:
        spacing = parse_spacing(args.spacing)
        split = load_split_file(args.split_file) if args.split_file \
            else btcv_published_split()
        images = {btcv_case_id(n): p for n, p in find_case_files(
            args.raw, r'img(\d+)' + NII).items()}
        labels = {btcv_case_id(n): p for n, p in find_case_files(
            args.raw, r'label(\d+)' + NII).items()}
        train_dir = osp.join(args.raw, 'RawData', 'Training')
        cases, extra = plan_cases(
            split, images, labels,
            lambda c: osp.join(train_dir, 'img', c + '.nii.gz'),
            lambda c: osp.join(train_dir, 'label',
                               c.replace('img', 'label') + '.nii.gz'))
        summary = convert_dataset(
            cases, args.out, 'btcv', spacing,
            label_values=range(len(BTCV_CLASSES)),
            classes=BTCV_CLASSES,
            raw_root=osp.abspath(args.raw),
            skip_bad=args.skip_bad,
            workers=args.workers)
    except (FileNotFoundError, ValueError) as e:
        msg = str(e) if isinstance(e, VolumeError) else \
            f'{type(e).__name__}: {e}'
        print(f'error: {msg}', file=sys.stderr)
        return 1
    if extra:
        print(f'{len(extra)} case(s) under {args.raw} are in no split and '
              f'were not converted: {", ".join(extra[:10])}')
    print(f'converted {sum(summary["cases"].values())} case(s) '
          f'{summary["cases"]} to {args.out} in {time.time() - t0:.1f} s; '
          f'index {summary["index"]}')
    if summary['skipped']:
        print(f'skipped {len(summary["skipped"])} bad case(s):')
        for reason in summary['skipped'].values():
            print(f'  {reason}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
