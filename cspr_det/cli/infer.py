"""The command-line front ends of whole-scan inference: ``tools/infer.py``
(every task, dispatched on the model) and ``tools/infer_ct.py`` (detection)
share their options, checks, runs and summaries from here."""
import argparse
import os.path as osp
import time
from typing import List, Tuple

from mmengine.config import DictAction

from cspr_det.apis.ct_outputs import write_ct_outputs
from cspr_det.apis.inference import inference_ct
from cspr_det.apis.init_model import init_model
from cspr_det.apis.lesion_linking import CANDIDATE_SCORES
from cspr_det.apis.nodule_inference import inference_nodule
from cspr_det.apis.nodule_outputs import read_centres_csv, write_nodule_outputs
from cspr_det.apis.subvolume_boxes import DEEPLESION_BOX_PADDING
from cspr_det.apis.volume_inference import inference_volume
from cspr_det.apis.volume_outputs import write_volume_outputs
from cspr_det.fileio import read_ct_volume
from .errors import CLIError


def add_common_args(parser: argparse.ArgumentParser,
                    what: str = 'model') -> None:
    """Positionals (config, checkpoint, input) and the options of every
    task."""
    parser.add_argument('config', help=f'{what} config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument(
        'input',
        help='NIfTI file, DICOM folder/file or '
        'DeepLesion PNG series folder')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument(
        '--series-uid',
        help='DICOM SeriesInstanceUID to '
        'read from a folder with several series')
    parser.add_argument(
        '--spacing',
        type=float,
        nargs=3,
        metavar=('X', 'Y', 'Z'),
        help='voxel size in mm of a PNG series (default: '
        'from DL_info.csv)')
    parser.add_argument(
        '--window',
        type=float,
        nargs=2,
        default=(-175.0, 275.0),
        metavar=('MIN', 'MAX'),
        help='display window of the images (HU)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT without the allow-list of '
        'checkpoint globals: for an old file you trust only, '
        'since unpickling it can run code (see '
        'docs/security.md)')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load only the matching tensors of a checkpoint '
        'that does not fit the config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show full tracebacks instead of one-line errors')


def add_detection_args(parser: argparse.ArgumentParser,
                       batch_size: bool = True) -> None:
    """Options of lesion detection (see :func:`inference_ct`)."""
    parser.add_argument(
        '--z-range',
        type=int,
        nargs=2,
        metavar=('FIRST', 'LAST'),
        help='run slices FIRST..LAST (0-based rows of the '
        'volume in LPS order, inclusive)')
    parser.add_argument(
        '--stride', type=int, default=1, help='run every N-th slice')
    if batch_size:
        parser.add_argument(
            '--batch-size',
            type=int,
            default=4,
            help='slices per forward pass')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='keep (and link) 2D detections scoring at '
        'least this')
    parser.add_argument(
        '--link-iou',
        type=float,
        default=0.3,
        help='IoU linking detections on neighbouring slices')
    parser.add_argument(
        '--max-gap',
        type=int,
        default=0,
        help='slices a 3D candidate may skip')
    parser.add_argument(
        '--top-k',
        type=int,
        default=50,
        help='keep the K best 3D candidates (0: all)')
    add_link_args(parser)
    parser.add_argument(
        '--save-nifti',
        action='store_true',
        help='write the 3D boxes as a NIfTI label volume')
    parser.add_argument(
        '--max-overlays', type=int, default=20, help='overlay PNGs to write')
    parser.add_argument(
        '--montage-size',
        type=int,
        default=12,
        help='candidates in the montage')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')


def add_box_padding_arg(parser: argparse.ArgumentParser) -> None:
    """``--box-padding`` of the DeepLesion 3D benchmark tools (see
    :func:`cspr_det.apis.subvolume_boxes.remove_box_padding`)."""
    parser.add_argument(
        '--box-padding',
        type=float,
        default=DEEPLESION_BOX_PADDING,
        help='pixels removed from every side of the predicted boxes '
        '(default 5: DL_info.csv boxes, which the detector learned, are the '
        'RECIST extent padded by 5 px; the 3D annotations are tight; 0 '
        'keeps the predicted extent)')


def check_box_padding_arg(args) -> None:
    """One-line error for a negative ``--box-padding``."""
    if args.box_padding < 0:
        raise CLIError(f'--box-padding must be >= 0, got {args.box_padding}')


def add_link_args(parser: argparse.ArgumentParser) -> None:
    """Which linked tracks become 3D candidates and their score (see
    :mod:`cspr_det.apis.lesion_linking`)."""
    parser.add_argument(
        '--extend-thr',
        type=float,
        help='hysteresis: also link 2D detections down to '
        'this score, so that weak detections on its end '
        'slices extend a candidate that holds one >= '
        '--score-thr (default: off)')
    parser.add_argument(
        '--min-slices',
        type=int,
        default=1,
        help='a 3D candidate needs detections on at least '
        'this many slices')
    parser.add_argument(
        '--candidate-score',
        default='max',
        choices=CANDIDATE_SCORES,
        help='score of a 3D candidate from the scores s of '
        'its n slices: max(s), mean(s), sum(s), max(s) or '
        'mean(s) times min(1, n / --full-length)')
    parser.add_argument(
        '--full-length',
        type=int,
        default=3,
        help='slices from which the *_len scores are no '
        'longer discounted')


def check_link_args(args) -> None:
    """Ranges of the options of :func:`add_link_args` (``args.score_thr``
    is the seed threshold)."""
    if args.extend_thr is not None and \
            not 0 <= args.extend_thr <= args.score_thr:
        raise CLIError(f'invalid --extend-thr {args.extend_thr}: must be in '
                       f'[0, --score-thr ({args.score_thr})]')
    if args.min_slices < 1:
        raise CLIError(f'invalid --min-slices {args.min_slices}')
    if args.full_length < 1:
        raise CLIError(f'invalid --full-length {args.full_length}')


def link_kwargs(args) -> dict:
    """The options of :func:`add_link_args` as keyword arguments of
    :func:`inference_ct`."""
    return dict(
        extend_thr=args.extend_thr,
        min_slices=args.min_slices,
        candidate_score=args.candidate_score,
        full_length=args.full_length)


def add_segmentation_args(parser: argparse.ArgumentParser) -> None:
    """Options of volume segmentation (see :func:`inference_volume`)."""
    parser.add_argument(
        '--target-spacing',
        nargs=3,
        metavar=('Z', 'Y', 'X'),
        help="spacing in mm the segmentor works at ('none' "
        "keeps an axis; default: the config's "
        'target_spacing)')
    parser.add_argument(
        '--save-probabilities',
        action='store_true',
        help='also write one probability NIfTI per class')


def add_classification_args(parser: argparse.ArgumentParser) -> None:
    """Options of nodule scoring (see :func:`inference_nodule`)."""
    parser.add_argument(
        '--centres',
        '--centers',
        dest='centres',
        help='CSV of nodule centres: columns id, x, y, z '
        '(world mm, LPS)')
    parser.add_argument(
        '--hu-window',
        type=float,
        nargs=2,
        metavar=('MIN', 'MAX'),
        help='HU range stored as 0-255 in the crops '
        "(default: the config's nodule_hu_window, else "
        '-1024 400)')


def check_common_args(args) -> None:
    """Files that must exist and a usable output folder."""
    if not osp.isfile(args.config):
        raise CLIError(f'config file not found: {args.config}')
    if not osp.isfile(args.checkpoint):
        raise CLIError(f'checkpoint not found: {args.checkpoint}')
    if not osp.exists(args.input):
        raise CLIError(f'CT input not found: {args.input}')
    if osp.isfile(args.out_dir):
        raise CLIError(f'--out-dir {args.out_dir} is a file')
    if args.window[0] >= args.window[1]:
        raise CLIError('invalid --window')


def check_detection_args(args) -> None:
    """Ranges of the detection options."""
    for name, ok in (('--stride', args.stride
                      >= 1), ('--batch-size', args.batch_size
                              >= 1), ('--score-thr', 0 <= args.score_thr <= 1),
                     ('--link-iou', 0 < args.link_iou <= 1),
                     ('--max-gap', args.max_gap >= 0), ('--top-k', args.top_k
                                                        >= 0)):
        if not ok:
            raise CLIError(f'invalid {name}')
    check_link_args(args)


def read_input(args):
    """The input scan and the seconds its reading took."""
    tic = time.perf_counter()
    volume = read_ct_volume(args.input, args.series_uid, args.spacing)
    return volume, time.perf_counter() - tic


def load_model(args):
    """The model of ``args.config`` / ``args.checkpoint``."""
    return init_model(
        args.config,
        args.checkpoint,
        args.device,
        args.cfg_options,
        strict=not args.non_strict,
        trust_checkpoint=args.trust_checkpoint)


def _files_line(files: List[str], out_dir: str) -> str:
    top = [f for f in files if osp.dirname(f) == osp.abspath(out_dir)]
    return (f'{len(top)} files written to {osp.abspath(out_dir)}'
            if top else 'no files written')


def _scan_line(vol) -> str:
    return (f'{vol.name}: {vol.num_slices} slices of {vol.hu.shape[1]} x '
            f'{vol.hu.shape[2]} px, spacing '
            f'{tuple(round(v, 3) for v in vol.spacing)} mm')


def detection_summary(result, files: List[str], out_dir: str) -> str:
    """What a detection run found and wrote."""
    t = result.timings
    lines = [
        _scan_line(result.volume),
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
    lines.append(_files_line(files, out_dir))
    return '\n'.join(lines)


def run_detection(args, model, volume, read_s: float) -> Tuple[str, list]:
    """Detect, link and write (the outputs of ``tools/infer_ct.py``)."""
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
        progress=not args.no_progress,
        **link_kwargs(args))
    result.add_read_time(read_s)
    files = write_ct_outputs(result, args.out_dir, args.save_nifti,
                             args.max_overlays, args.montage_size, args.window)
    return detection_summary(result, files, args.out_dir), files


def _target_spacing(values):
    if values is None:
        return None
    out = []
    for v in values:
        if str(v).lower() in ('none', 'keep', '-'):
            out.append(None)
            continue
        try:
            out.append(float(v))
        except ValueError:
            raise CLIError(f'invalid --target-spacing value {v!r}') from None
        if not out[-1] > 0:
            raise CLIError(f'invalid --target-spacing value {v!r}')
    return tuple(out)


def run_segmentation(args, model, volume, read_s: float) -> Tuple[str, list]:
    """Segment and write the label NIfTI, volumes CSV, overlay, JSON."""
    result = inference_volume(
        model,
        volume,
        return_probabilities=args.save_probabilities,
        target_spacing=_target_spacing(args.target_spacing))
    result.timings['read_s'] += read_s
    result.timings['total_s'] += read_s
    files = write_volume_outputs(
        result, args.out_dir, args.window,
        getattr(model, 'dataset_meta', {}).get('palette'),
        args.save_probabilities)
    lines = [
        _scan_line(result.volume), f'model grid {result.model_shape} at '
        f'{tuple(round(v, 3) for v in result.model_spacing)} mm (z, y, x); '
        f'{result.timings["total_s"]:.1f} s'
    ]
    lines += [
        f"  {r['label']:>3d} {r['class_name']:<16s} {r['voxels']:>10d} "
        f"voxels {r['volume_ml']:10.2f} mL" for r in result.label_volumes()
    ]
    lines.append(_files_line(files, args.out_dir))
    return '\n'.join(lines), files


def run_classification(args, model, volume, read_s: float) -> Tuple[str, list]:
    """Score the centres of ``--centres`` and write the probabilities."""
    ids, pts = read_centres_csv(args.centres)
    result = inference_nodule(
        model,
        volume,
        pts,
        ids,
        batch_size=args.batch_size,
        hu_window=args.hu_window)
    result.timings['read_s'] += read_s
    result.timings['total_s'] += read_s
    files = write_nodule_outputs(result, args.out_dir)
    lines = [
        _scan_line(result.volume), f'{len(ids)} nodules scored in '
        f'{result.timings["total_s"]:.1f} s; probability of '
        f'{result.classes[-1]!r}:'
    ]
    lines += [
        f"  {r['id']:<16s} ({r['x']:.1f}, {r['y']:.1f}, "
        f"{r['z']:.1f}) mm  {r['probability']:.4f}"
        for r in result.records()[:20]
    ]
    lines.append(_files_line(files, args.out_dir))
    return '\n'.join(lines), files


#: ``tools/infer.py``'s run of each task.
RUNNERS = dict(
    detection=run_detection,
    segmentation=run_segmentation,
    classification=run_classification)
