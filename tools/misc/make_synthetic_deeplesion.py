"""Generate a synthetic DeepLesion dataset (official on-disk format).

Example:
    python tools/misc/make_synthetic_deeplesion.py \
        --out-dir data/synthetic_deeplesion
    python tools/dataset_converters/deeplesion.py \
        --csv data/synthetic_deeplesion/DL_info.csv \
        --out-dir data/synthetic_deeplesion/annotations
"""
import argparse
import json
import sys
import time

from cspr_det.datasets.synthetic import PRESETS, make_synthetic_deeplesion


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write Images_png/ and DL_info.csv of a synthetic '
        'DeepLesion dataset')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--preset',
        default='demo',
        choices=sorted(PRESETS),
        help='size preset (default: demo)')
    parser.add_argument('--num-patients', type=int, default=None)
    parser.add_argument('--image-size', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--subvolumes',
        action='store_true',
        help='also write the 3D benchmark of the val/test series into '
        'OUT_DIR/deeplesion3d (NIH-named sub-volume NIfTI files, 3D boxes '
        'of every lesion as annotations.pkl/.json)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    summary = make_synthetic_deeplesion(
        args.out_dir,
        num_patients=args.num_patients,
        image_size=args.image_size,
        seed=args.seed,
        preset=args.preset,
        subvolumes=args.subvolumes)
    print(f'wrote {summary["slices"]} slices of {summary["series"]} series '
          f'({summary["image_size"]} px, '
          f'{summary["pixel_spacing"][0]:.3g}-'
          f'{summary["pixel_spacing"][1]:.3g} mm/px) and {summary["csv"]} '
          f'in {time.time() - t0:.1f} s')
    print(f'{"split":<6} {"patients":>8} {"images":>7} {"lesions":>8} '
          f'{"noisy":>6}')
    for name, s in summary['splits'].items():
        print(f'{name:<6} {s["patients"]:>8} {s["images"]:>7} '
              f'{s["lesions"]:>8} {s["noisy"]:>6}')
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ('series_with_gaps', 'tubes', 'slice_intervals')
            },
            default=str))
    for name, s in summary.get('subvolumes', {}).items():
        print(f'3D {name}: {s["subvolumes"]} sub-volumes, {s["boxes"]} 3D '
              f'boxes ({s["empty"]} sub-volumes without lesion) in '
              f'{args.out_dir}/deeplesion3d')
    return 0


if __name__ == '__main__':
    sys.exit(main())
