"""Benchmark the 3D segmentation training loader: random crops per second
from the converted arrays against reading the NIfTI each time.

Example:
    python tools/analysis_tools/benchmark_seg_loader.py --samples 40
    CFG=configs/segmentation/lits/unet3d_resnet3d18_8xb2-3281i_lits-liver.py
    python tools/analysis_tools/benchmark_seg_loader.py --samples 40 \
        --config $CFG

Writes ``--cases`` synthetic LiTS cases at real size (512 x 512, 0.65-0.8
mm pixels, 2.5 mm slices, ``.nii.gz``) to a temporary folder (or uses
``--raw``; ``--uncompressed`` keeps ``.nii`` as LiTS ships them) and
converts them (1 mm slices). Then, one process, same seed:

- **arrays**: the training pipeline of the LiTS configs on the converted
  arrays (memory-mapped; a 32-slice window is read, then flips, in-plane
  scale, 256 x 256 crop, HU window, packing);
- **nifti**: the same crops, but every sample reads its case's NIfTI
  (decompression), reorients and resamples it to 1 mm (what the converter
  does once) before cropping.

With ``--config`` it also times one training step (forward + backward) of
that config's model on a batch of the crops, to tell whether one loader
process keeps up with the model.
"""
import argparse
import os.path as osp
import shutil
import sys
import tempfile
import time

import numpy as np

PIPELINE = [
    dict(type='cspr_det.RandomZCrop3D', size=32, fg_prob=0.5),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', )),
    dict(type='cspr_det.RandomScale3D', scale_range=(0.8, 1.2)),
    dict(type='cspr_det.RandomCrop3D', crop_size=(256, 256)),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('x', )),
    dict(type='cspr_det.HUWindow3D', window=(-200, 250)),
    dict(type='cspr_det.PackVolumeSegInputs')
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--samples',
        type=int,
        default=30,
        help='crops per loader (default 30)')
    p.add_argument(
        '--cases',
        type=int,
        default=2,
        help='synthetic cases to generate (default 2)')
    p.add_argument('--image-size', type=int, default=512)
    p.add_argument(
        '--slice-spacing',
        type=float,
        default=2.5,
        help='source slice spacing in mm (default 2.5)')
    p.add_argument(
        '--raw',
        help='use this LiTS-layout folder instead of '
        'generating one')
    p.add_argument(
        '--config', help='also time a training step of this '
        "config's model")
    p.add_argument(
        '--uncompressed',
        action='store_true',
        help='keep the generated files as .nii (as LiTS ships '
        'them) instead of .nii.gz')
    p.add_argument(
        '--task',
        default='liver',
        choices=('liver', 'liver_tumour'),
        help='LiTS task of the crops\' labels (tumour merged '
        'into the liver for "liver"); match --config')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--keep', help='keep the generated data in this folder')
    return p.parse_args(argv)


def _compress(raw: str) -> None:
    """Replace every generated ``.nii`` by a ``.nii.gz``."""
    import os

    import SimpleITK as sitk

    from cspr_det.datasets.volume_converter import find_case_files
    for kind in ('volume', 'segmentation'):
        for path in find_case_files(raw, kind + r'-(\d+)\.nii').values():
            sitk.WriteImage(sitk.ReadImage(path), path + '.gz', True)
            os.remove(path)


def _pipeline():
    from mmcv.transforms import Compose
    from mmengine.registry import TRANSFORMS, init_default_scope
    init_default_scope('mmdet')
    return Compose([TRANSFORMS.build(c) for c in PIPELINE])


def _lut(task: str) -> np.ndarray:
    """(256,) uint8 source label -> training id of a LiTS task (255
    ignore), as :class:`cspr_det.datasets.LiTSDataset` builds it."""
    from cspr_det.datasets.base_volume_seg_dataset import build_label_lut
    from cspr_det.datasets.lits_dataset import LITS_TASKS
    return build_label_lut(LITS_TASKS[task]['label_map'],
                           LITS_TASKS[task]['classes'])


def _info(case: dict, root: str, task: str = 'liver') -> dict:
    return dict(
        case_id=case['case_id'],
        img_path=osp.join(root, case['image']),
        seg_map_path=osp.join(root, case['label']),
        fg_z_range=case['fg_z_range'],
        spacing=tuple(case['spacing']),
        label_lut=_lut(task))


def time_arrays(cases, root, n, seed, task='liver'):
    """ms per crop through LoadVolumeArrays (memory-mapped)."""
    from cspr_det.datasets.transforms import LoadVolumeArrays
    load, pipe = LoadVolumeArrays(lazy=True), _pipeline()
    np.random.seed(seed)
    outs, t0 = [], time.perf_counter()
    for i in range(n):
        outs.append(pipe(load(_info(cases[i % len(cases)], root, task))))
    return (time.perf_counter() - t0) / n, outs


def time_nifti(cases, raw_root, n, seed, task='liver'):
    """ms per crop when every sample reads and resamples the NIfTI."""
    import SimpleITK as sitk

    from cspr_det.fileio import (read_image, reorient, resample_intensity,
                                 resample_labels, target_grid)
    pipe = _pipeline()
    np.random.seed(seed)
    t0 = time.perf_counter()
    for i in range(n):
        case = cases[i % len(cases)]
        img = reorient(
            read_image(
                osp.join(raw_root, case['source']['image']), check=False))
        lab = reorient(
            read_image(
                osp.join(raw_root, case['source']['label']), check=False))
        grid = target_grid(img, (1.0, None, None))
        hu = np.round(sitk.GetArrayFromImage(resample_intensity(
            img, grid))).astype(np.int16)
        seg = sitk.GetArrayFromImage(resample_labels(lab, grid))
        res = _info(case, '', task)
        res.update(img=hu, gt_seg=seg)
        pipe(res)
    return (time.perf_counter() - t0) / n


def time_model(config: str, outs, repeat: int = 2) -> float:
    """Seconds per training step of ``config``'s model on loader crops."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    bs = cfg.train_dataloader.batch_size
    times = []
    for r in range(repeat + 1):
        batch = outs[r * bs:(r + 1) * bs] or outs[:bs]
        data = model.data_preprocessor(
            dict(
                inputs=[b['inputs'] for b in batch],
                data_samples=[b['data_samples'] for b in batch]), True)
        t0 = time.perf_counter()
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:])) / bs  # first step warms up


def main(argv=None) -> int:
    args = parse_args(argv)
    import cspr_det  # noqa: F401
    from cspr_det.datasets.synthetic.make_synthetic_seg import \
        make_synthetic_lits
    from cspr_det.datasets.volume_converter import (convert_dataset,
                                                    find_case_files,
                                                    load_index)
    tmp = args.keep or tempfile.mkdtemp(prefix='bench_seg_')
    try:
        raw = args.raw
        if raw is None:
            raw = osp.join(tmp, 'raw')
            t0 = time.time()
            make_synthetic_lits(
                raw,
                num_cases=args.cases,
                seed=args.seed,
                preset='real',
                image_size=args.image_size,
                tumours=(1, 2),
                slice_spacing=((args.slice_spacing, 1.0), ),
                split_fractions=(1, 0, 0),
                oblique_prob=0.0)
            if not args.uncompressed:  # .nii.gz, as BTCV ships
                _compress(raw)
            print(f'generated {args.cases} case(s) in '
                  f'{time.time() - t0:.1f} s')
        images = find_case_files(raw, r'volume-(\d+)\.nii(?:\.gz)?')
        labels = find_case_files(raw, r'segmentation-(\d+)\.nii(?:\.gz)?')
        cases = [
            dict(
                case_id=f'volume-{n}',
                image=images[n],
                label=labels[n],
                split='train') for n in sorted(images)
        ]
        out = osp.join(tmp, 'converted')
        t0 = time.time()
        convert_dataset(
            cases,
            out,
            'lits', (1.0, None, None),
            range(3),
            raw_root=osp.abspath(raw))
        convert_s = time.time() - t0
        index = load_index(osp.join(out, 'index.json'))
        conv = index['cases']
        shapes = ', '.join('x'.join(map(str, c['shape'])) for c in conv)
        print(f'converted {len(conv)} case(s) ({shapes} at 1 mm) in '
              f'{convert_s:.1f} s')
        time_arrays(conv, out, 2, args.seed, args.task)  # warm the page cache
        ms_a, outs = time_arrays(conv, out, args.samples, args.seed, args.task)
        n_nifti = max(2, args.samples // 5)
        ms_n = time_nifti(conv, osp.abspath(raw), n_nifti, args.seed,
                          args.task)
        crop = tuple(outs[0]['inputs'].shape[1:])
        print(f'{"loader":<34}{"samples/s":>10}{"ms/sample":>11}')
        print(f'{"converted arrays (memory-mapped)":<34}{1 / ms_a:>10.2f}'
              f'{1000 * ms_a:>11.1f}')
        print(f'{"NIfTI read + resampled per sample":<34}{1 / ms_n:>10.2f}'
              f'{1000 * ms_n:>11.1f}')
        print(f'crop {crop}; arrays are {ms_n / ms_a:.1f}x faster '
              f'({args.samples} / {n_nifti} samples, one process)')
        if args.config:
            step = time_model(args.config, outs)
            verdict = 'keeps up' if ms_a < step else 'does NOT keep up'
            print(f'model training step: {step:.2f} s per sample '
                  f'({1 / step:.2f} samples/s); one loader process '
                  f'{verdict} ({step / ms_a:.0f}x the model rate)')
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
