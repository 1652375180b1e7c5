"""Command-line front end shared by the volume dataset converters
(``tools/dataset_converters/lits.py``, ``btcv.py``)."""
import argparse
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from cspr_det.fileio import VolumeError, parse_spacing
from .splits import load_split_file
from .volume_converter import convert_dataset, find_case_files, plan_cases

#: File name suffix of a NIfTI file, compressed or not.
NII = r'\.nii(?:\.gz)?'


def add_conversion_args(parser: argparse.ArgumentParser,
                        default_spacing: Sequence[str],
                        split_help: str) -> None:
    """``--spacing``, ``--split-file``, ``--skip-bad`` and ``--workers``."""
    parser.add_argument(
        '--spacing',
        nargs=3,
        default=list(default_spacing),
        metavar=('Z', 'Y', 'X'),
        help="target spacing in mm, 'none' keeps an axis (default: "
        f'{" ".join(default_spacing)})')
    parser.add_argument('--split-file', help=split_help)
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip bad cases with a counted warning instead of stopping at '
        'the first one')
    parser.add_argument(
        '--workers',
        type=int,
        default=0,
        help='parallel conversion processes (default 0)')


def convert_from_args(args: argparse.Namespace,
                      dataset: str,
                      published_split: Callable[[], Dict[str, List[str]]],
                      image_pattern: str,
                      label_pattern: str,
                      case_id: Callable[[int], str],
                      expected_image: Callable[[str], str],
                      expected_label: Callable[[str], str],
                      classes: Sequence[str],
                      label_values: Optional[Sequence[int]] = None) -> int:
    """Find, check and convert the cases of ``args.raw`` into ``args.out``.

    Args:
        args: Parsed ``raw``, ``out`` and :func:`add_conversion_args`
            options.
        dataset: Name written to the index (``'lits'``, ``'btcv'``).
        published_split: The dataset's published split (used without
            ``--split-file``).
        image_pattern / label_pattern: File name regexes with the case
            number as group 1 (:func:`find_case_files`); a folder named
            by ``image_pattern`` is a case image stored as a DICOM series.
        case_id: Case number -> case id.
        expected_image / expected_label: Case id -> the path named in the
            error when the file is missing.
        classes: Class names (source label values 0..n-1).
        label_values: Accepted source label values (default
            ``range(len(classes))``).

    Returns:
        int: Exit status: 0, or 1 after one ``error:`` line on stderr.
    """
    t0 = time.time()
    try:
        spacing = parse_spacing(args.spacing)
        split = load_split_file(args.split_file) if args.split_file \
            else published_split()
        # an image is a NIfTI file or a DICOM series folder of that name
        images = {
            case_id(n): p
            for n, p in find_case_files(args.raw, image_pattern +
                                        NII, image_pattern).items()
        }
        labels = {
            case_id(n): p
            for n, p in find_case_files(args.raw, label_pattern + NII).items()
        }
        cases, extra = plan_cases(split, images, labels, expected_image,
                                  expected_label)
        summary = convert_dataset(
            cases,
            args.out,
            dataset,
            spacing,
            label_values=label_values if label_values is not None else range(
                len(classes)),
            classes=classes,
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


__all__ = ['NII', 'add_conversion_args', 'convert_from_args']
