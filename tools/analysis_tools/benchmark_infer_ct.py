"""Throughput of whole-CT inference (``cspr_det.apis.inference_ct``).

Writes a synthetic CT (an elliptic body with organs of different density,
round lesions and noise; default 512 x 512 x 120 at 0.7 x 0.7 x 2.5 mm) as a
DeepLesion PNG folder, a DICOM series or a NIfTI file, then reads it and runs
the detector on every slice, and prints slices/s and where the time goes:
reading (decoding), preparing the slice stacks (interpolation, HU windows,
resizing, packing), the model's forward passes, and linking; the share of
the time outside the forward passes; and, for PNG folders, how many times
each file was decoded.

Without ``--checkpoint`` the demo detector is randomly initialised (its
speed does not depend on its weights; a random network keeps up to its
``max_per_img`` detections per slice, so linking is, if anything, slower).

Example:
    python tools/analysis_tools/benchmark_infer_ct.py --format png
"""
import argparse
import json
import os
import os.path as osp
import tempfile
import time

import numpy as np
from mmengine.config import DictAction

DEMO = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark inference_ct')
    parser.add_argument('--config', default=DEMO, help='detector config')
    parser.add_argument(
        '--checkpoint', help='checkpoint (default: random '
        'initialisation)')
    parser.add_argument(
        '--format', choices=['png', 'dicom', 'nifti'], default='png')
    parser.add_argument('--size', type=int, default=512, help='rows = cols')
    parser.add_argument('--slices', type=int, default=120)
    parser.add_argument(
        '--spacing',
        type=float,
        nargs=3,
        default=(0.7, 0.7, 2.5),
        metavar=('X', 'Y', 'Z'))
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='torch threads (the 2-core reference machine)')
    parser.add_argument(
        '--full-pipeline',
        action='store_true',
        help='run the full test pipeline per slice (no reuse '
        'of windowed / resized slices)')
    parser.add_argument(
        '--work-dir',
        help='where to write the volume '
        '(default: a temporary folder)')
    parser.add_argument('--out', help='write the figures to this JSON file')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys')
    return parser.parse_args(argv)


def synthetic_ct(size: int, depth: int, spacing, seed: int) -> np.ndarray:
    """(D, H, W) int16 HU: air, a body (fat rim, soft tissue, two organs),
    spherical lesions and noise."""
    rng = np.random.default_rng(seed)
    sx, sy, sz = spacing
    y, x = np.mgrid[:size, :size].astype(np.float32)
    xm, ym = (x - size / 2) * sx, (y - size / 2) * sy
    half = size * sx * 0.42
    body = (xm / half)**2 + (ym / (0.75 * half))**2
    base = np.where(body <= 1, 40.0, -1000.0)
    base[(body > 0.85) & (body <= 1)] = -100.0
    base[((xm + 0.35 * half) / (0.3 * half))**2 +
         ((ym + 0.1 * half) / (0.25 * half))**2 <= 1] = 60.0
    base[((xm - 0.45 * half) / (0.1 * half))**2 +
         (ym / (0.12 * half))**2 <= 1] = 180.0
    lesions = [(rng.uniform(-0.5, 0.5) * half, rng.uniform(-0.4, 0.4) * half,
                rng.uniform(0, depth * sz), rng.uniform(5, 20),
                rng.choice([-60.0, 70.0])) for _ in range(8)]
    hu = np.empty((depth, size, size), np.int16)
    for k in range(depth):
        img = base.copy()
        for cx, cy, cz, r, contrast in lesions:
            rr = r**2 - (k * sz - cz)**2
            if rr > 0:
                img[(xm - cx)**2 + (ym - cy)**2 <= rr] += contrast
        img += rng.normal(0, 12, img.shape)
        hu[k] = np.clip(np.round(img), -1024, 3071)
    return hu


def write_volume(hu, spacing, fmt: str, folder: str) -> str:
    """Write ``hu`` as ``fmt``; returns the input path."""
    import cv2
    import SimpleITK as sitk
    if fmt == 'nifti':
        out = osp.join(folder, 'ct.nii.gz')
        image = sitk.GetImageFromArray(hu)
        image.SetSpacing([float(v) for v in spacing])
        sitk.WriteImage(image, out)
        return out
    out = osp.join(folder, fmt)
    os.makedirs(out, exist_ok=True)
    for k, img in enumerate(hu):
        if fmt == 'png':
            cv2.imwrite(
                osp.join(out, f'{k + 1:03d}.png'),
                (img.astype(np.int32) + 32768).astype(np.uint16))
            continue
        s = sitk.GetImageFromArray(img)
        s.SetSpacing([float(spacing[0]), float(spacing[1])])
        for tag, value in (('0008|0060', 'CT'), ('0020|000e', '1.2.3.4.5'),
                           ('0020|0032', f'0\\0\\{k * spacing[2]:.4f}'),
                           ('0020|0037', '1\\0\\0\\0\\1\\0'), ('0020|0013',
                                                               str(k + 1)),
                           ('0028|1052', '-1024'), ('0028|1053', '1')):
            s.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetFileName(osp.join(out, f'slice_{k:04d}.dcm'))
        writer.Execute(s)
    return out


def run(args, folder: str) -> dict:
    import torch

    from cspr_det.apis import inference_ct, init_detector
    from cspr_det.fileio import png_series_reader as png_series
    from cspr_det.fileio import read_ct_volume

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    hu = synthetic_ct(args.size, args.slices, args.spacing, args.seed)
    path = write_volume(hu, args.spacing, args.format, folder)
    print(f'wrote a {args.size} x {args.size} x {args.slices} volume '
          f'({args.format}) in {time.perf_counter() - t0:.1f} s')
    torch.manual_seed(args.seed)
    model = init_detector(
        args.config, args.checkpoint, cfg_options=args.cfg_options)
    decodes = []
    real = png_series.decode_ct_png
    png_series.decode_ct_png = \
        lambda content, p: decodes.append(p) or real(content, p)
    try:
        tic = time.perf_counter()
        volume = read_ct_volume(
            path, spacing=args.spacing if args.format == 'png' else None)
        read_s = time.perf_counter() - tic
    finally:
        png_series.decode_ct_png = real
    # warm-up (first forward passes allocate)
    inference_ct(model, volume, rows=[0, 1], batch_size=2)
    result = inference_ct(
        model,
        volume,
        batch_size=args.batch_size,
        score_thr=args.score_thr,
        fast=not args.full_pipeline)
    result.add_read_time(read_s)
    t = result.timings
    n = len(result.rows)
    figures = dict(
        format=args.format,
        size=args.size,
        slices=n,
        spacing=list(args.spacing),
        threads=args.threads,
        batch_size=args.batch_size,
        fast_path=result.settings['fast_path'],
        slices_per_s=n / t['total_s'],
        read_s=t['read_s'],
        prepare_s=t['prepare_s'],
        model_s=t['model_s'],
        link_s=t['link_s'],
        total_s=t['total_s'],
        non_model_share=t['non_model_share'],
        decodes_per_file=len(decodes) / n if args.format == 'png' else None,
        detections=int(len(result.detections['rows'])),
        candidates=len(result.candidates))
    return figures


def report(figures: dict) -> str:
    lines = [
        f"{figures['slices']} slices of {figures['size']} x "
        f"{figures['size']} ({figures['format']}, fast path "
        f"{figures['fast_path']}, {figures['threads']} threads, batch "
        f"{figures['batch_size']}): {figures['slices_per_s']:.2f} slices/s",
        f"  read {figures['read_s']:.2f} s | prepare "
        f"{figures['prepare_s']:.2f} s | model {figures['model_s']:.2f} s | "
        f"link {figures['link_s']:.2f} s | total {figures['total_s']:.2f} s",
        f"  outside the model: {100 * figures['non_model_share']:.1f} %"
    ]
    if figures['decodes_per_file'] is not None:
        lines.append(f"  PNG decodes per file: "
                     f"{figures['decodes_per_file']:.2f}")
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import cspr_det  # noqa: F401
    if args.work_dir:
        figures = run(args, args.work_dir)
    else:
        with tempfile.TemporaryDirectory() as folder:
            figures = run(args, folder)
    print(report(figures))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(figures, f, indent=1)
    return figures


if __name__ == '__main__':
    main()
