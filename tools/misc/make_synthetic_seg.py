"""Generate a synthetic LiTS or BTCV dataset (NIfTI in the real layouts).

Examples:
    python tools/misc/make_synthetic_seg.py --dataset lits \
        --out-dir data/synthetic_lits/raw
    python tools/dataset_converters/lits.py data/synthetic_lits/raw \
        data/synthetic_lits/converted \
        --split-file data/synthetic_lits/raw/split.json
    python tools/misc/make_synthetic_seg.py --dataset btcv \
        --out-dir data/synthetic_btcv/raw --num-cases 30   # published split
"""
import argparse
import json
import sys
import time

from cspr_det.datasets.synthetic.make_synthetic_seg import (
    PRESETS, make_synthetic_btcv, make_synthetic_lits)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a synthetic LiTS or BTCV dataset as NIfTI')
    parser.add_argument('--dataset', choices=['lits', 'btcv'], required=True)
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--preset',
        default='demo',
        choices=sorted(PRESETS),
        help='size preset (default: demo)')
    parser.add_argument('--num-cases', type=int, default=None)
    parser.add_argument('--image-size', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    make = make_synthetic_lits if args.dataset == 'lits' else \
        make_synthetic_btcv
    overrides = {} if args.image_size is None else dict(
        image_size=args.image_size)
    try:
        summary = make(
            args.out_dir,
            num_cases=args.num_cases,
            seed=args.seed,
            preset=args.preset,
            **overrides)
    except (TypeError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'wrote {summary["cases"]} synthetic {args.dataset.upper()} '
          f'case(s) ({summary["image_size"]} px) to {args.out_dir} in '
          f'{time.time() - t0:.1f} s')
    print(
        json.dumps({
            k: summary[k]
            for k in ('splits', 'orientations', 'oblique', 'tumours')
        }))
    return 0


if __name__ == '__main__':
    sys.exit(main())
