"""DeepLesion 3D benchmark: whole-volume detection on fully annotated
sub-volumes, scored by the 3D FROC (and P3D against key-slice marks).

    python tools/test_3d.py CONFIG CKPT --subvolumes DIR \
        --annotations FILE [--split test] [--out-dir DIR] \
        [--key-slices DL_info.csv] [--dump FILE]
    python tools/test_3d.py --predictions FILE --annotations FILE \
        [--split test] [--out-dir DIR]            # re-score, no model

Every annotated sub-volume ``{series}_{first}-{last}.nii.gz`` of DIR runs
through :func:`cspr_det.apis.inference_ct` on its own slices; its linked 3D
candidates become ``[x1, y1, z1, x2, y2, z2, score]`` rows in whole-series
slice numbers (the released n x 7 format). One result file per sub-volume
is kept in ``OUT_DIR/per_subvolume`` so that an interrupted run resumes
where it stopped (same settings). A sub-volume that cannot be read is
counted and named in the report (no predictions) and the run goes on; a
resumed run tries it again.

Writes to OUT_DIR: ``predictions.pkl`` and ``predictions.json``,
``froc3d.json``, ``froc3d.csv``, ``froc3d_curve.png``. Bad input (missing
file, a name that does not parse, an annotation outside its sub-volume,
wrong structure or shape) stops with one line before anything is written.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time

import numpy as np
from mmengine.config import DictAction
from mmengine.utils import ProgressBar

from cspr_det.apis import init_detector, read_ct_volume
from cspr_det.apis.subvolume_boxes import (DEEPLESION_BOX_PADDING,
                                           predict_subvolume,
                                           remove_box_padding)
from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.cli.infer import (add_box_padding_arg, add_link_args,
                                check_box_padding_arg, check_link_args,
                                link_kwargs)
from cspr_det.datasets.deeplesion3d_annotations import (AnnotationError,
                                                        load_3d_annotations,
                                                        load_3d_predictions,
                                                        parse_subvolume_name,
                                                        save_3d_boxes)
from cspr_det.datasets.deeplesion3d_subvolumes import DeepLesion3DSubvolumes
from cspr_det.datasets.deeplesion_csv import read_deeplesion_csv
from cspr_det.evaluation.functional.froc3d import froc3d, size_strata
from cspr_det.evaluation.metrics.froc3d_report import (froc3d_summary,
                                                       froc3d_table,
                                                       write_froc3d_report)
from cspr_det.utils.safe_pickle import UnsafePickleError


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='DeepLesion 3D benchmark (3D '
                                'FROC on fully annotated sub-volumes)')
    p.add_argument('config', nargs='?', help='detector config')
    p.add_argument('checkpoint', nargs='?', help='detector checkpoint')
    p.add_argument('--subvolumes', help='folder of the sub-volume NIfTI files')
    p.add_argument(
        '--annotations',
        required=True,
        help='3D annotations (released .pkl or its .json form)')
    p.add_argument('--split', default='test', help='split (default test)')
    p.add_argument('--out-dir', default='work_dirs/test_3d')
    p.add_argument(
        '--predictions',
        help='re-score these predictions (.pkl/.json, '
        '{name: (n, 7)}) instead of running a model')
    p.add_argument(
        '--dump',
        help='also write the predictions to this '
        'file: FILE.pkl and FILE.json (extension replaced)')
    p.add_argument(
        '--key-slices',
        help='DL_info.csv: also report P3D '
        '(predictions against the key-slice marks)')
    p.add_argument(
        '--lesion-types',
        help='JSON {split: {name: [type of '
        'every 3D box]}} (the synthetic generator writes one): '
        'strata by lesion type')
    p.add_argument('--iou-thr', type=float, default=0.3)
    p.add_argument(
        '--overlap', default='iobb', choices=('iou', 'iobb', 'iogt', 'iobbgt'))
    p.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='2D detections kept for linking (the linking defaults here '
        'were chosen on the synthetic validation sub-volumes, see '
        'docs/user_guides/deeplesion3d.md)')
    p.add_argument('--link-iou', type=float, default=0.5)
    p.add_argument('--max-gap', type=int, default=0)
    p.add_argument(
        '--top-k',
        type=int,
        default=50,
        help='3D candidates kept per sub-volume (0: all)')
    add_box_padding_arg(p)
    add_link_args(p)
    p.set_defaults(candidate_score='mean_len')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--debug', action='store_true')
    return p.parse_args(argv)


def _check_args(args) -> None:
    if args.predictions:
        if args.config or args.checkpoint:
            raise CLIError('give CONFIG CKPT or --predictions, not both')
        if not osp.isfile(args.predictions):
            raise CLIError(f'{args.predictions}: no such file')
    elif not (args.config and args.checkpoint and args.subvolumes):
        raise CLIError('give CONFIG CKPT --subvolumes DIR (or --predictions '
                       'FILE to re-score)')
    for name in ('config', 'checkpoint', 'annotations', 'key_slices',
                 'lesion_types'):
        path = getattr(args, name)
        if path and not osp.isfile(path):
            raise CLIError(f'{path}: no such file ({name})')
    if args.subvolumes and not osp.isdir(args.subvolumes):
        raise CLIError(f'{args.subvolumes}: no such folder')
    if not 0 < args.iou_thr <= 1:
        raise CLIError(f'--iou-thr must be in (0, 1], got {args.iou_thr}')
    check_box_padding_arg(args)
    if not args.predictions:
        check_link_args(args)


def _load_inputs(args):
    """Annotations, sub-volume entries and predictions, all validated."""
    try:
        gts = load_3d_annotations(args.annotations, args.split)
        preds = load_3d_predictions(args.predictions) \
            if args.predictions else None
    except UnsafePickleError as exc:
        raise CLIError(str(exc)) from None
    if preds is not None:
        unknown = sorted(set(preds) - set(gts))
        if unknown:
            raise CLIError(f'{args.predictions}: sub-volume {unknown[0]} is '
                           f'not in the {args.split} annotations '
                           f'({len(unknown)} such)')
        return gts, None, preds
    data = DeepLesion3DSubvolumes(args.subvolumes, {args.split: gts},
                                  args.split)
    return gts, data, None


def _key_slice_marks(csv_path: str, gts: dict):
    """Key-slice marks ``[x1, y1, k, x2, y2, k]`` of every sub-volume,
    their lesion types (DL_info.csv rows in the sub-volume's range) and the
    pixel size of every sub-volume whose series has a row."""
    records, _ = read_deeplesion_csv(csv_path)
    by_series = {}
    for rec in records:
        by_series.setdefault(rec['series'], []).append(rec)
    marks, types, pixel_mm = {}, {}, {}
    for name in gts:
        series, first, last = parse_subvolume_name(name)
        if by_series.get(series):
            pixel_mm[name] = float(by_series[series][0]['spacing'][0])
        rows = [
            r for r in by_series.get(series, [])
            if first <= r['key_slice'] <= last
        ]
        marks[name] = np.asarray([[
            r['bbox_xyxy'][0], r['bbox_xyxy'][1], r['key_slice'],
            r['bbox_xyxy'][2], r['bbox_xyxy'][3], r['key_slice']
        ] for r in rows], np.float64).reshape(-1, 6)
        types[name] = [int(r['lesion_type']) for r in rows]
    return marks, types, pixel_mm


def _settings_key(args) -> str:
    keep = dict(
        config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        score_thr=args.score_thr,
        link_iou=args.link_iou,
        max_gap=args.max_gap,
        top_k=args.top_k,
        box_padding=args.box_padding,
        cfg_options=str(args.cfg_options))
    link = link_kwargs(args)
    if link != dict(
            extend_thr=None, min_slices=1, candidate_score='max',
            full_length=3):  # the defaults keep earlier keys valid
        keep.update(link)
    return hashlib.sha1(json.dumps(keep,
                                   sort_keys=True).encode()).hexdigest()[:16]


def _write_json(path: str, doc) -> None:
    tmp = path + '.part'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def _run_model(args, data) -> tuple:
    """Predictions of every sub-volume (resuming from per-sub-volume
    files) and the list of unreadable sub-volumes."""
    key = _settings_key(args)
    per_dir = osp.join(args.out_dir, 'per_subvolume')
    preds, failed, todo = {}, {}, []
    for entry in data:
        path = osp.join(per_dir, entry['name'] + '.json')
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                done = json.load(f)
            if done.get('settings') == key and not done.get('error'):
                preds[entry['name']] = np.asarray(done['boxes'],
                                                  np.float64).reshape(-1, 7)
                continue
        todo.append(entry)
    print(f'{len(data) - len(todo)} of {len(data)} sub-volumes already '
          f'done in {per_dir}; {len(todo)} to run')
    # built when the first readable sub-volume needs it (a bad checkpoint
    # stops the run before any file is written)
    model = None
    bar = ProgressBar(len(todo)) if todo and not args.no_progress else None
    for entry in todo:
        name, error = entry['name'], None
        boxes = np.zeros((0, 7))
        try:
            volume = read_ct_volume(entry['path'])
        except (OSError, ValueError, RuntimeError) as exc:
            volume, error = None, exc
        if volume is not None:
            if model is None:
                model = init_detector(args.config, args.checkpoint,
                                      args.device, args.cfg_options)
            try:
                boxes, _ = predict_subvolume(
                    model,
                    volume,
                    entry['first'],
                    entry['last'],
                    score_thr=args.score_thr,
                    link_iou=args.link_iou,
                    max_gap=args.max_gap,
                    top_k=args.top_k or None,
                    batch_size=args.batch_size,
                    box_padding=args.box_padding,
                    **link_kwargs(args))
            except (OSError, ValueError, RuntimeError) as exc:
                error = exc
        if error is not None:
            error = f'{type(error).__name__}: {str(error).splitlines()[0]}'
            failed[name] = error
        preds[name] = boxes
        os.makedirs(per_dir, exist_ok=True)
        _write_json(
            osp.join(per_dir, name + '.json'),
            dict(settings=key, boxes=boxes.tolist(), error=error))
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stdout.write('\n')
    return {e['name']: preds[e['name']] for e in data}, failed


def _type_strata(types: dict, names: list) -> dict:
    """``{'type <code>': mask}`` over the lesions of ``names`` in order."""
    flat = np.concatenate(
        [np.asarray(types[n], np.int64).reshape(-1)
         for n in names]) if names else np.zeros(0)
    return {
        f'type {code}': flat == code
        for code in sorted(set(flat.tolist()) - {-1})
    }


def _score(args,
           gts,
           preds,
           marks=None,
           types=None,
           pixel_mm=None,
           box_types=None):
    """3D (and P3D) FROC summaries with size (and type) strata."""
    names = list(gts)
    empty = np.zeros((0, 7))
    pred_list = [preds.get(n, empty) for n in names]
    mm = [pixel_mm[n] for n in names] \
        if pixel_mm and all(n in pixel_mm for n in names) else None
    out = {}
    gt_list = [gts[n] for n in names]
    res = froc3d(
        pred_list,
        None,
        gt_list,
        iou_thr=args.iou_thr,
        overlap=args.overlap,
        mode='3D')
    strata = size_strata(gt_list, mm)
    if box_types is not None:
        strata.update(_type_strata(box_types, names))
    out['3D'] = froc3d_summary(res, strata)
    if marks is not None and sum(len(marks[n]) for n in names):
        mark_list = [marks[n] for n in names]
        res = froc3d(
            pred_list,
            None,
            mark_list,
            iou_thr=args.iou_thr,
            overlap=args.overlap,
            mode='P3D')
        # a key-slice mark is the RECIST extent padded by 5 px
        # (DL_info.csv): the size strata measure the extent
        strata = size_strata([
            remove_box_padding(
                np.c_[np.asarray(m, np.float64).reshape(-1, 6),
                      np.zeros(len(m))], DEEPLESION_BOX_PADDING)[:, :6]
            for m in mark_list
        ], mm)
        strata.update(_type_strata(types, names))
        out['P3D'] = froc3d_summary(res, strata)
    return out


def _box_types(path: str, split: str, gts: dict) -> dict:
    """``{name: [type per 3D box]}`` of a lesion-type file, checked against
    the annotations."""
    with open(path, encoding='utf-8') as f:
        try:
            doc = json.load(f)
        except ValueError as exc:
            raise AnnotationError(f'{path}: not valid JSON ({exc})') from None
    types = doc.get(split) if isinstance(doc, dict) else None
    if not isinstance(types, dict):
        raise AnnotationError(f'{path}: no split {split!r}')
    for name, boxes in gts.items():
        if len(types.get(name, [])) != len(boxes):
            raise AnnotationError(f'{path}[{split!r}][{name!r}]: expected '
                                  f'{len(boxes)} lesion types')
    return {n: types[n] for n in gts}


def main(args) -> int:
    _check_args(args)
    tic = time.perf_counter()
    gts, data, preds = _load_inputs(args)
    marks = types = pixel_mm = box_types = None
    if args.key_slices:
        marks, types, pixel_mm = _key_slice_marks(args.key_slices, gts)
    if args.lesion_types:
        box_types = _box_types(args.lesion_types, args.split, gts)
    failed = {}
    if preds is None:
        preds, failed = _run_model(args, data)
    summaries = _score(args, gts, preds, marks, types, pixel_mm, box_types)
    pred_files = []
    stems = [osp.join(args.out_dir, 'predictions')]
    if args.dump:
        stems.append(osp.splitext(args.dump)[0])
    for stem in stems:
        for ext in ('.pkl', '.json'):
            save_3d_boxes(preds, stem + ext)
            pred_files.append(stem + ext)
    files = write_froc3d_report(
        summaries, args.out_dir,
        dict(
            split=args.split,
            annotations=args.annotations,
            num_subvolumes=len(gts),
            unreadable=failed,
            seconds=time.perf_counter() - tic))
    for mode, s in summaries.items():
        print(froc3d_table(s))
    if failed:
        named = '; '.join(f'{k} ({v})' for k, v in failed.items())
        print(f'{len(failed)} unreadable sub-volume(s), scored with no '
              f'prediction: {named}')
    print(f'files written: {", ".join(pred_files + files)}')
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
