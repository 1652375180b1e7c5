"""Overlay a NIfTI segmentation prediction on its source CT, and print the
per-case Dice table of a test run.

Example (after ``tools/test.py`` on a converted LiTS/BTCV dataset):
    python tools/misc/seg_overlay.py \
        --index data/synthetic_lits/converted/index.json \
        --pred-dir work_dirs/demo_seg/test/predictions \
        --metrics work_dirs/demo_seg/test/seg_metrics.json \
        --out work_dirs/demo_seg/test/overlay.png

The prediction is read in the *source* geometry (as written by
``cspr_det.SegPredictionWriterHook``) next to the source image and label
files named in the converter's index, so the picture also shows that the
written file lines up with the input (the three must share one voxel grid).
For display the three are put in the radiological orientation (axes
permuted/flipped only): three axial slices through the ground-truth
foreground and one coronal slice, ground truth in green, prediction in red.
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np
import SimpleITK as sitk


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Overlay a NIfTI prediction on its source CT')
    parser.add_argument(
        '--index', required=True, help="converter's index.json")
    parser.add_argument(
        '--pred-dir',
        required=True,
        help='folder of <case_id>.nii.gz predictions')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument(
        '--case',
        help='case id (default: the first test '
        'case with a prediction)')
    parser.add_argument(
        '--metrics',
        help='seg_metrics.json of the test run: '
        'print its per-case table')
    parser.add_argument(
        '--window',
        nargs=2,
        type=float,
        default=(-200.0, 250.0),
        metavar=('LO', 'HI'),
        help='HU window of the picture')
    return parser.parse_args(argv)


def format_metrics(path: str) -> str:
    """Summary and per-case table of a ``seg_metrics.json``."""
    with open(path) as f:
        rep = json.load(f)
    classes = rep['classes'][1:]
    lines = [
        f'{"case":<16}' + ''.join(f'{"Dice " + c:>18}{"HD95 mm":>9}'
                                  for c in classes)
    ]
    for case in rep['cases']:
        row = f'{case["case_id"]:<16}'
        for c in classes:
            d, h = case['dice'][c], case['hd95_mm'][c]
            row += f'{"-" if d is None else f"{d:.4f}":>18}'
            row += f'{"-" if h is None else f"{h:.1f}":>9}'
        lines.append(row)
    s = rep['summary']
    lines.append('global Dice (sums over cases): ' +
                 ', '.join(f'{c} {s["Dice_" + c.replace(" ", "_")]:.4f}'
                           for c in classes) +
                 f'; mean per-case Dice {s["mDice_case"]:.4f}')
    return '\n'.join(lines)


def _outline(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage
    return mask & ~ndimage.binary_erosion(mask)


def draw(image: np.ndarray, label: np.ndarray, pred: np.ndarray, spacing_zyx,
         window, title: str, out: str) -> None:
    """Three axial slices through the labelled region and a coronal one."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fg = np.flatnonzero((label > 0).reshape(label.shape[0], -1).any(1))
    zs = np.linspace(fg[0], fg[-1], 5)[1:4].round().astype(int) if len(fg) \
        else np.array([label.shape[0] // 2] * 3)
    y = int(np.argwhere(label > 0)[:, 1].mean()) if label.any() else \
        label.shape[1] // 2
    views = [(f'slice {z}', image[z], label[z], pred[z],
              spacing_zyx[1] / spacing_zyx[2]) for z in zs]
    views.append((f'row {y} (coronal)', image[:, y], label[:, y], pred[:, y],
                  spacing_zyx[0] / spacing_zyx[2]))
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.6))
    lo, hi = window
    for ax, (name, img, gt, pr, aspect) in zip(axes, views):
        ax.imshow(
            np.clip(img, lo, hi),
            cmap='gray',
            aspect=aspect,
            origin='lower' if 'coronal' in name else 'upper')
        rgba = np.zeros(img.shape + (4, ))
        rgba[_outline(gt > 0)] = (0.1, 0.9, 0.1, 1.0)
        rgba[_outline(pr > 0)] = (1.0, 0.15, 0.1, 1.0)
        ax.imshow(
            rgba,
            aspect=aspect,
            origin='lower' if 'coronal' in name else 'upper')
        ax.set_title(name)
        ax.axis('off')
    fig.suptitle(f'{title}  (green: ground truth, red: prediction)')
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    with open(args.index) as f:
        index = json.load(f)
    cases = {c['case_id']: c for c in index['cases']}
    if args.case:
        if args.case not in cases:
            print(
                f'error: case {args.case} not in {args.index}',
                file=sys.stderr)
            return 1
        case_id = args.case
    else:
        found = [
            c for c, e in cases.items() if e['split'] == 'test'
            and osp.isfile(osp.join(args.pred_dir, c + '.nii.gz'))
        ]
        if not found:
            print(
                f'error: no test-case prediction in {args.pred_dir}',
                file=sys.stderr)
            return 1
        case_id = found[0]
    case = cases[case_id]
    root = index.get('raw_root') or ''
    pred_path = osp.join(args.pred_dir, case_id + '.nii.gz')
    img = sitk.ReadImage(osp.join(root, case['source']['image']))
    lab = sitk.ReadImage(osp.join(root, case['source']['label']))
    pred = sitk.ReadImage(pred_path)
    for name, other in (('label', lab), ('prediction', pred)):
        if other.GetSize() != img.GetSize() or not np.allclose(
                other.GetDirection(), img.GetDirection(), atol=1e-5):
            print(
                f'error: {case_id}: {name} grid differs from the image',
                file=sys.stderr)
            return 1
    img, lab, pred = (sitk.DICOMOrient(x, 'LPS') for x in (img, lab, pred))
    label = sitk.GetArrayFromImage(lab)
    if index.get('dataset') == 'lits' and not (sitk.GetArrayFromImage(pred)
                                               > 1).any():
        label = (label > 0).astype(np.uint8)  # liver task: tumour is liver
    draw(
        sitk.GetArrayFromImage(img), label, sitk.GetArrayFromImage(pred),
        tuple(reversed(img.GetSpacing())), args.window,
        f'{case_id}: {osp.basename(pred_path)} on '
        f'{osp.basename(case["source"]["image"])}', args.out)
    if args.metrics:
        print(format_metrics(args.metrics))
    print(f'overlay of {case_id} written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
