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
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from cspr_det.datasets.lits_dataset import LITS_TASKS  # noqa: E402
from cspr_det.datasets.splits import (load_split_file,  # noqa: E402
                                      lits_published_split)
from cspr_det.datasets.volume_converter import (  # noqa: E402
    convert_dataset, find_case_files, plan_cases)
from cspr_det.datasets.volume_io import VolumeError, parse_spacing  # noqa

NII = r'\.nii(?:\.gz)?'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert LiTS NIfTI volumes to memory-mappable arrays')
    parser.add_argument('raw', help='folder with volume-N.nii and '
                        'segmentation-N.nii (searched recursively)')
    parser.add_argument('out', help='output folder (images/, labels/, '
                        'index.json)')
    parser.add_argument(
        '--spacing', nargs=3, default=['1.0', 'none', 'none'],
        metavar=('Z', 'Y', 'X'),
        help="target spacing in mm, 'none' keeps an axis (default: 1.0 none "
        'none = 1 mm slices, in-plane kept)')
    parser.add_argument(
        '--split-file', help='JSON {"train": [...], "val": [...], "test": '
        '[...]} of volume-N ids instead of the published split')
    parser.add_argument(
        '--skip-bad', action='store_true',
        help='skip bad cases with a counted warning instead of stopping at '
        'the first one')
    parser.add_argument('--workers', type=int, default=0,
                        help='parallel conversion processes (default 0)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    try:
        spacing = parse_spacing(args.spacing)
        split = load_split_file(args.split_file) if args.split_file \
            else lits_published_split()
        images = {f'volume-{n}': p for n, p in find_case_files(
            args.raw, r'volume-(\d+)' + NII).items()}
        labels = {f'volume-{n}': p for n, p in find_case_files(
            args.raw, r'segmentation-(\d+)' + NII).items()}
        cases, extra = plan_cases(
            split, images, labels,
            lambda c: osp.join(args.raw, c + '.nii'),
            lambda c: osp.join(
                args.raw, c.replace('volume-', 'segmentation-') + '.nii'))
        summary = convert_dataset(
            cases, args.out, 'lits', spacing,
            label_values=range(3),
            classes=LITS_TASKS['liver_tumour']['classes'],
            raw_root=osp.abspath(args.raw),
            skip_bad=args.skip_bad,
            workers=args.workers)
    except (FileNotFoundError, ValueError) as e:
        msg = str(e) if isinstance(e, VolumeError) else \
            f'{type(e).__name__}: {e}'
        print(f'error: {msg}', file=sys.stderr)
        return 1
    if extra:
        print(f'{len(extra)} volume(s) under {args.raw} are in no split and '
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
