"""Convert NIH DeepLesion's DL_info.csv into COCO-style annotation files.

Example:
    python tools/dataset_converters/deeplesion.py \
        --csv data/deeplesion/DL_info.csv --out-dir data/deeplesion/annotations

writes ``deeplesion_{train,val,test}.json`` (official patient-level split)
and prints the number of images/lesions per split, the rows whose box left
the image (clipped to it and kept, as the official protocols count them) and
the rejected rows (a box of zero size or entirely outside the image among
them).
"""
import argparse
import sys

from cspr_det.datasets.deeplesion_coco import (convert_deeplesion_csv,
                                               format_summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert DeepLesion DL_info.csv to COCO-style json')
    parser.add_argument('--csv', required=True, help='path of DL_info.csv')
    parser.add_argument(
        '--out-dir', required=True, help='folder for deeplesion_*.json')
    parser.add_argument(
        '--drop-noisy',
        action='store_true',
        help='drop lesions flagged Possibly_noisy and key slices left '
        'without lesions')
    parser.add_argument(
        '--prefix', default='deeplesion', help='output file name prefix')
    parser.add_argument(
        '--check-images',
        metavar='IMAGES_PNG_DIR',
        default=None,
        help='also report series folders, key slices and context slices '
        'missing under this Images_png folder')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = convert_deeplesion_csv(
            args.csv,
            args.out_dir,
            drop_noisy=args.drop_noisy,
            prefix=args.prefix,
            images_dir=args.check_images)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
