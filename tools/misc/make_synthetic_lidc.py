"""Generate synthetic LIDC-IDRI nodule crops in the community release layout.

    python tools/misc/make_synthetic_lidc.py --out-dir data/synthetic_lidc \
        [--preset demo|tiny|large] [--num-patients N] [--crop-size S] \
        [--seed 0] [--test-fraction 0.2]

Writes ``nodule/lidcP_K.npz``, ``lidc_nodule_info_new_with_subset.csv``,
``train_test_split.csv`` and ``synthetic_truth.json`` (see
:mod:`cspr_det.datasets.synthetic.make_synthetic_lidc`) and prints the
classification label counts of the patient-disjoint and reference splits.
"""
import argparse
import os.path as osp
import sys
import time


def parse_args(argv=None):
    from cspr_det.datasets.synthetic.make_synthetic_lidc import PRESETS
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out-dir', default='data/synthetic_lidc')
    p.add_argument('--preset', choices=sorted(PRESETS), default='demo')
    p.add_argument('--num-patients', type=int, default=None)
    p.add_argument('--crop-size', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--test-fraction',
        type=float,
        default=0.2,
        help='nodule share of the reference (nodule-level) '
        'split\'s test column')
    return p.parse_args(argv)


def label_counts(out_dir: str) -> str:
    """Classification nodules and classes per subset of both protocols."""
    from cspr_det.datasets.lidc_metadata import (INFO_CSV, SPLIT_CSV,
                                                 build_split, nodule_label,
                                                 read_nodule_info,
                                                 read_reference_split,
                                                 shared_patients)
    info = read_nodule_info(osp.join(out_dir, INFO_CSV))
    ref = read_reference_split(osp.join(out_dir, SPLIT_CSV))
    lines = []
    for protocol in ('patient', 'reference'):
        split = build_split(info, ref, 'classification', protocol)
        parts = []
        for name in ('train', 'val', 'test'):
            ids = split[name]
            pos = sum(nodule_label(info[i], 'classification') for i in ids)
            parts.append(f'{name} {len(ids)} ({len(ids) - pos}/{pos})')
        shared = len(
            shared_patients(info, split['train'] + split['val'],
                            split['test']))
        lines.append(f'{protocol} split (benign/malignant): ' +
                     ', '.join(parts) +
                     f'; patients in train/val and test: {shared}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from cspr_det.datasets.synthetic.make_synthetic_lidc import \
        make_synthetic_lidc
    start = time.time()
    summary = make_synthetic_lidc(
        args.out_dir,
        preset=args.preset,
        num_patients=args.num_patients,
        crop_size=args.crop_size,
        seed=args.seed,
        test_fraction=args.test_fraction)
    print(f'{summary["nodules"]} nodules of {summary["patients"]} patients '
          f'-> {args.out_dir} ({time.time() - start:.0f} s); malignancy '
          f'modes {summary["malignancy_mode"]}')
    print(label_counts(args.out_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
