"""Run a trained lesion detector on a whole CT scan.

    python tools/infer_ct.py CONFIG CHECKPOINT INPUT --out-dir DIR [options]

INPUT is a NIfTI file (or any 3D image SimpleITK reads), a DICOM series
folder (``--series-uid`` when it holds several series), a DICOM file (its
series) or a DeepLesion PNG series folder (spacing from ``--spacing`` or the
dataset's ``DL_info.csv``). Every slice becomes the key slice of the model's
slice stack; 2D detections on neighbouring slices are linked into 3D lesion
candidates.

Writes to DIR: ``results.json``, ``detections_2d.csv``, ``candidates.csv``,
``overlays/candidate_<id>_slice<z>.png`` (best slice of each candidate in the
soft-tissue window, box, score and diameters), ``montage.png`` and, with
``--save-nifti``, ``candidates_labels.nii.gz`` (the candidates' 3D boxes in
the geometry of INPUT). Bad input stops with one line naming the file and
writes nothing.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from cspr_det.cli.errors import CLIError, run_cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Detect lesions on a whole CT (NIfTI, DICOM series or '
        'DeepLesion PNG folder)')
    parser.add_argument('config', help='detector config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('input', help='NIfTI file, DICOM folder/file or '
                        'DeepLesion PNG series folder')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument('--series-uid', help='DICOM SeriesInstanceUID to '
                        'read from a folder with several series')
    parser.add_argument('--spacing', type=float, nargs=3,
                        metavar=('X', 'Y', 'Z'),
                        help='voxel size in mm of a PNG series (default: '
                        'from DL_info.csv)')
    parser.add_argument('--z-range', type=int, nargs=2,
                        metavar=('FIRST', 'LAST'),
                        help='run slices FIRST..LAST (0-based rows of the '
                        'volume in LPS order, inclusive)')
    parser.add_argument('--stride', type=int, default=1,
                        help='run every N-th slice')
    parser.add_argument('--batch-size', type=int, default=4,
                        help='slices per forward pass')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='keep (and link) 2D detections scoring at '
                        'least this')
    parser.add_argument('--link-iou', type=float, default=0.3,
                        help='IoU linking detections on neighbouring slices')
    parser.add_argument('--max-gap', type=int, default=0,
                        help='slices a 3D candidate may skip')
    parser.add_argument('--top-k', type=int, default=50,
                        help='keep the K best 3D candidates (0: all)')
    parser.add_argument('--save-nifti', action='store_true',
                        help='write the 3D boxes as a NIfTI label volume')
    parser.add_argument('--max-overlays', type=int, default=20,
                        help='overlay PNGs to write')
    parser.add_argument('--montage-size', type=int, default=12,
                        help='candidates in the montage')
    parser.add_argument('--window', type=float, nargs=2,
                        default=(-175.0, 275.0), metavar=('MIN', 'MAX'),
                        help='display window of the images (HU)')
    parser.add_argument('--non-strict', action='store_true',
                        help='load only the matching tensors of a checkpoint '
                        'that does not fit the config')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load CHECKPOINT without the allow-list of '
                        'checkpoint globals: for an old file you trust only, '
                        'since unpickling it can run code (see '
                        'docs/security.md)')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--debug', action='store_true',
                        help='show full tracebacks instead of one-line errors')
    return parser.parse_args(argv)


def _check_args(args) -> None:
    if not osp.isfile(args.config):
        raise CLIError(f'config file not found: {args.config}')
    if not osp.isfile(args.checkpoint):
        raise CLIError(f'checkpoint not found: {args.checkpoint}')
    if not osp.exists(args.input):
        raise CLIError(f'CT input not found: {args.input}')
    if osp.isfile(args.out_dir):
        raise CLIError(f'--out-dir {args.out_dir} is a file')
    for name, ok in (('--stride', args.stride >= 1),
                     ('--batch-size', args.batch_size >= 1),
                     ('--score-thr', 0 <= args.score_thr <= 1),
                     ('--link-iou', 0 < args.link_iou <= 1),
                     ('--max-gap', args.max_gap >= 0),
                     ('--top-k', args.top_k >= 0),
                     ('--window', args.window[0] < args.window[1])):
        if not ok:
            raise CLIError(f'invalid {name}')


def _summary(result, files) -> str:
    vol, t = result.volume, result.timings
    lines = [
        f'{vol.name}: {vol.num_slices} slices of {vol.hu.shape[1]} x '
        f'{vol.hu.shape[2]} px, spacing '
        f'{tuple(round(v, 3) for v in vol.spacing)} mm',
        f'{len(result.rows)} slices in {t["total_s"]:.1f} s '
        f'({len(result.rows) / max(t["total_s"], 1e-9):.2f} slices/s, '
        f'{100 * t["non_model_share"]:.0f} % outside the model); '
        f'{len(result.detections["rows"])} 2D detections, '
        f'{len(result.candidates)} 3D candidates'
    ]
    for cand in result.candidates[:10]:
        lines.append(
            f"  #{cand['id']:<3d} score {cand['score']:.3f}  slice "
            f"{cand['best_slice']} ({cand['z_first']}-{cand['z_last']})  "
            f"{cand['long_mm']:.1f} x {cand['short_mm']:.1f} mm")
    lines.append(f'{len(files)} files written to {osp.dirname(files[0])}'
                 if files else 'no files written')
    return '\n'.join(lines)


def main(args) -> int:
    import cspr_det  # noqa: F401  (registries, checkpoint loader)
    from cspr_det.apis import inference_ct, init_detector, read_ct_volume
    from cspr_det.apis.ct_outputs import write_ct_outputs

    _check_args(args)
    tic = time.perf_counter()
    volume = read_ct_volume(args.input, args.series_uid, args.spacing)
    read_s = time.perf_counter() - tic
    model = init_detector(args.config, args.checkpoint, args.device,
                          args.cfg_options, strict=not args.non_strict,
                          trust_checkpoint=args.trust_checkpoint)
    result = inference_ct(
        model,
        volume,
        z_range=args.z_range,
        stride=args.stride,
        batch_size=args.batch_size,
        score_thr=args.score_thr,
        link_iou=args.link_iou,
        max_gap=args.max_gap,
        top_k=args.top_k or None,
        progress=not args.no_progress)
    result.add_read_time(read_s)
    files = write_ct_outputs(result, args.out_dir, args.save_nifti,
                             args.max_overlays, args.montage_size,
                             args.window)
    print(_summary(result, [f for f in files
                            if osp.dirname(f) == osp.abspath(args.out_dir)]))
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
