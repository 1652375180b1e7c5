"""How the 3D FROC of whole-volume detection depends on the linking of 2D
detections into 3D candidates (DeepLesion 3D sub-volumes).

    python tools/analysis_tools/linking_study.py CONFIG CKPT \
        --subvolumes DIR --annotations FILE [--split val] \
        [--grid link_iou=0.1,0.3,0.5 max_gap=0,1 ...] [--out-dir DIR]
    python tools/analysis_tools/linking_study.py CONFIG CKPT \
        --subvolumes DIR --annotations FILE --split test \
        --params link_iou=0.3 max_gap=1 min_slices=2 ...

The detector runs ONCE per sub-volume, keeping every 2D detection down to
``--det-thr`` (default: the lowest threshold the grid needs); the
detections are cached in ``OUT_DIR/detections/{name}.npz`` (a rerun, or a
run with another grid whose thresholds are not lower, reuses them without
the model). Then every combination of the grid is re-linked without the
model (:func:`cspr_det.apis.subvolume_boxes.link_subvolume`, which gives
the predictions of ``tools/test_3d.py`` with the same options) and scored
by the 3D FROC (mean sensitivity at 0.125-8 FPs per sub-volume, IoBB >=
0.3 by default). ``z_cover`` is the mean, over the lesions found, of the
fraction of a lesion's slices that the box finding it covers.

Writes ``OUT_DIR/linking_{split}.csv`` and ``.md`` (one row per
combination, best first) and, with ``--params``, the predictions of that
combination ``OUT_DIR/predictions_{split}.pkl`` / ``.json`` (re-score them
with ``tools/test_3d.py --predictions``).
"""
import argparse
import csv
import hashlib
import itertools
import json
import os
import os.path as osp
import sys
import time

import numpy as np
from mmengine.config import DictAction
from mmengine.utils import ProgressBar

from cspr_det.apis import inference_ct, init_detector, read_ct_volume
from cspr_det.apis.lesion_linking import CANDIDATE_SCORES
from cspr_det.apis.subvolume_boxes import link_subvolume, row_slice_numbers
from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.cli.infer import add_box_padding_arg, check_box_padding_arg
from cspr_det.datasets.deeplesion3d_annotations import (load_3d_annotations,
                                                        save_3d_boxes)
from cspr_det.datasets.deeplesion3d_subvolumes import DeepLesion3DSubvolumes
from cspr_det.evaluation.functional.froc3d import FPS_3D, froc3d, overlaps3d
from cspr_det.utils.safe_pickle import UnsafePickleError


def _opt_float(text: str):
    return None if text.lower() in ('none', 'off', '-') else float(text)


#: Options of the linking studied, their parser and the default grid.
PARAMS = dict(
    link_iou=(float, [0.1, 0.3, 0.5]),
    max_gap=(int, [0, 1, 2]),
    min_slices=(int, [1, 2, 3]),
    candidate_score=(str, list(CANDIDATE_SCORES)),
    score_thr=(float, [0.05, 0.3]),
    extend_thr=(_opt_float, [None, 0.02]),
    full_length=(int, [3]),
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='3D FROC of every combination of linking options '
        '(the detector runs once per sub-volume)')
    p.add_argument('config', help='detector config')
    p.add_argument('checkpoint', help='detector checkpoint')
    p.add_argument(
        '--subvolumes',
        required=True,
        help='folder of the sub-volume NIfTI files')
    p.add_argument(
        '--annotations',
        required=True,
        help='3D annotations (released .pkl or its .json form)')
    p.add_argument(
        '--split',
        default='val',
        help='split (default val: choose there, then test)')
    p.add_argument(
        '--grid',
        nargs='+',
        metavar='KEY=V1,V2',
        help='values to try per option (others keep the default '
        f'grid): {", ".join(PARAMS)}; extend_thr=none is off')
    p.add_argument(
        '--params',
        nargs='+',
        metavar='KEY=V',
        help='one combination (options not given: link_iou=0.3 '
        'max_gap=0 min_slices=1 candidate_score=max '
        'score_thr=0.05 extend_thr=none full_length=3)')
    p.add_argument('--out-dir', default='work_dirs/linking_study')
    p.add_argument(
        '--det-thr',
        type=float,
        help='2D detections cached down to this score (default: '
        'the lowest score_thr / extend_thr of the grid)')
    p.add_argument(
        '--top-k',
        type=int,
        default=50,
        help='3D candidates kept per sub-volume (0: all)')
    add_box_padding_arg(p)
    p.add_argument('--iou-thr', type=float, default=0.3)
    p.add_argument(
        '--overlap', default='iobb', choices=('iou', 'iobb', 'iogt', 'iobbgt'))
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--device', default='cpu')
    p.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT without the allow-list of '
        'checkpoint globals (a file you trust only)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--debug', action='store_true')
    return p.parse_args(argv)


def _parse_pairs(items, option: str, single: bool) -> dict:
    out = {}
    for item in items or []:
        key, sep, text = item.partition('=')
        if not sep or key not in PARAMS:
            raise CLIError(f'{option}: {item!r} is not KEY=VALUES with KEY '
                           f'one of {", ".join(PARAMS)}')
        conv = PARAMS[key][0]
        try:
            values = [conv(v) for v in text.split(',') if v != '']
        except ValueError:
            raise CLIError(f'{option}: invalid value in {item!r}') from None
        if not values or (single and len(values) != 1):
            raise CLIError(f'{option}: {item!r} needs '
                           f'{"one value" if single else "values"}')
        if key == 'candidate_score' and set(values) - set(CANDIDATE_SCORES):
            raise CLIError(f'{option}: candidate_score must be among '
                           f'{", ".join(CANDIDATE_SCORES)}')
        out[key] = values
    return out


def _check_combo(combo: dict, option: str) -> None:
    bad = None
    if not 0 < combo['link_iou'] <= 1:
        bad = 'link_iou'
    elif combo['max_gap'] < 0:
        bad = 'max_gap'
    elif combo['min_slices'] < 1:
        bad = 'min_slices'
    elif combo['full_length'] < 1:
        bad = 'full_length'
    elif not 0 <= combo['score_thr'] <= 1:
        bad = 'score_thr'
    elif combo['extend_thr'] is not None and combo['extend_thr'] < 0:
        bad = 'extend_thr'
    if bad:
        raise CLIError(f'{option}: invalid {bad} {combo[bad]}')


def combinations(args) -> tuple:
    """The combinations to run (dicts in grid order) and how many of the
    grid were left out (``extend_thr`` above ``score_thr``)."""
    if args.grid and args.params:
        raise CLIError('give --grid or --params, not both')
    if args.params:
        combo = dict(
            link_iou=0.3,
            max_gap=0,
            min_slices=1,
            candidate_score='max',
            score_thr=0.05,
            extend_thr=None,
            full_length=3)
        combo.update({
            k: v[0]
            for k, v in _parse_pairs(args.params, '--params', True).items()
        })
        _check_combo(combo, '--params')
        if combo['extend_thr'] is not None and \
                combo['extend_thr'] > combo['score_thr']:
            raise CLIError('--params: extend_thr must be <= score_thr')
        return [combo], 0
    grid = {k: v[1] for k, v in PARAMS.items()}
    grid.update(_parse_pairs(args.grid, '--grid', False))
    combos, skipped = [], 0
    for values in itertools.product(*grid.values()):
        combo = dict(zip(grid, values))
        _check_combo(combo, '--grid')
        if combo['extend_thr'] is not None and \
                combo['extend_thr'] > combo['score_thr']:
            skipped += 1
            continue
        combos.append(combo)
    if not combos:
        raise CLIError('--grid: no combination with extend_thr <= score_thr')
    return combos, skipped


def _low_thr(combo: dict) -> float:
    return combo['score_thr'] if combo['extend_thr'] is None \
        else combo['extend_thr']


def _model_key(args) -> str:
    keep = dict(
        config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        batch_size=args.batch_size,
        cfg_options=str(args.cfg_options))
    return hashlib.sha1(json.dumps(keep,
                                   sort_keys=True).encode()).hexdigest()[:16]


def _read_cache(path: str, key: str, det_thr: float):
    """The cached detections of a sub-volume, or None when absent, made by
    another model or at a higher threshold."""
    if not osp.isfile(path):
        return None
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None  # an interrupted write: run it again
    if str(data.get('model_key')) != key or \
            float(data['det_thr']) > det_thr:
        return None
    return data


def _write_cache(path: str, data: dict) -> None:
    tmp = path + '.part'
    with open(tmp, 'wb') as f:
        np.savez(f, **data)
    os.replace(tmp, path)


def cached_detections(args, entries, det_thr: float) -> tuple:
    """The 2D detections of every sub-volume (from the cache, else from the
    model, then cached) and the unreadable sub-volumes."""
    key = _model_key(args)
    cache_dir = osp.join(args.out_dir, 'detections')
    dets, todo, failed = {}, [], {}
    for entry in entries:
        data = _read_cache(
            osp.join(cache_dir, entry['name'] + '.npz'), key, det_thr)
        if data is None:
            todo.append(entry)
        else:
            dets[entry['name']] = data
    print(f'{len(entries) - len(todo)} of {len(entries)} sub-volumes '
          f'cached in {cache_dir}; {len(todo)} to run')
    model = None  # built only when a sub-volume needs it
    bar = ProgressBar(len(todo)) if todo and not args.no_progress else None
    for entry in todo:
        name = entry['name']
        try:
            volume = read_ct_volume(entry['path'])
            numbers = row_slice_numbers(volume, entry['first'], entry['last'])
        except (OSError, ValueError, RuntimeError) as exc:
            failed[name] = f'{type(exc).__name__}: ' \
                f'{str(exc).splitlines()[0]}'
            volume = None
        if volume is not None:
            if model is None:
                model = init_detector(
                    args.config,
                    args.checkpoint,
                    args.device,
                    args.cfg_options,
                    trust_checkpoint=args.trust_checkpoint)
            result = inference_ct(
                model,
                volume,
                batch_size=args.batch_size,
                score_thr=det_thr,
                top_k=None)
            det = result.detections
            data = dict(
                rows=det['rows'],
                boxes=det['boxes'],
                scores=det['scores'],
                labels=det['labels'],
                grid_z=np.asarray(volume.grid_z),
                numbers=numbers,
                det_thr=np.float64(det_thr),
                model_key=np.array(key))
            os.makedirs(cache_dir, exist_ok=True)
            _write_cache(osp.join(cache_dir, name + '.npz'), data)
            dets[name] = data
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stdout.write('\n')
    return dets, failed


def relink(dets: dict,
           names: list,
           combo: dict,
           top_k,
           memos: dict,
           box_padding: float = 0.0) -> list:
    """The ``(n, 7)`` predictions of every sub-volume under ``combo``."""
    out = []
    for name in names:
        d = dets.get(name)
        if d is None:  # unreadable: no prediction
            out.append(np.zeros((0, 7)))
            continue
        out.append(
            link_subvolume(
                d['grid_z'],
                d['numbers'],
                d['rows'],
                d['boxes'],
                d['scores'],
                top_k=top_k,
                memo=memos.setdefault(name, {}),
                box_padding=box_padding,
                **combo))
    return out


def z_cover(preds: list, gts: list, iou_thr: float, overlap: str) -> float:
    """Mean over the found lesions of the fraction of the lesion's slices
    covered by the highest-scoring box that overlaps it enough."""
    fractions = []
    for pred, gt in zip(preds, gts):
        if not len(pred) or not len(gt):
            continue
        n, m = len(pred), len(gt)
        det = np.repeat(pred[:, :6], m, 0).T
        ov = overlaps3d(det, np.tile(gt, (n, 1)).T, overlap).reshape(n, m)
        order = np.argsort(-pred[:, 6], kind='stable')
        for j in range(m):
            hits = order[ov[order, j] >= iou_thr]
            if not len(hits):
                continue
            p = pred[hits[0]]
            inter = min(p[5], gt[j, 5]) - max(p[2], gt[j, 2]) + 1
            fractions.append(max(inter, 0) / (gt[j, 5] - gt[j, 2] + 1))
    return float(np.mean(fractions)) if fractions else float('nan')


COLUMNS = list(PARAMS) + ['mean_sens'] + \
    [f'sens@{f:g}' for f in FPS_3D] + ['z_cover', 'boxes']


def _fmt(value) -> str:
    if value is None:
        return 'none'
    if isinstance(value, float):
        return f'{value:.4f}' if value == value else 'nan'
    return str(value)


def write_table(rows: list, stem: str, header: str) -> list:
    """``stem.csv`` and ``stem.md`` (rows already sorted)."""
    with open(stem + '.csv.part', 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['rank'] + COLUMNS)
        for k, row in enumerate(rows, 1):
            writer.writerow([k] + [_fmt(row[c]) for c in COLUMNS])
    lines = [
        header, '', '| rank | ' + ' | '.join(COLUMNS) + ' |',
        '|' + '---|' * (len(COLUMNS) + 1)
    ]
    lines += [
        f'| {k} | ' + ' | '.join(_fmt(row[c]) for c in COLUMNS) + ' |'
        for k, row in enumerate(rows, 1)
    ]
    with open(stem + '.md.part', 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    for ext in ('.csv', '.md'):
        os.replace(stem + ext + '.part', stem + ext)
    return [stem + '.csv', stem + '.md']


def _combo_text(combo: dict) -> str:
    return ' '.join(f'{k}={_fmt(v)}' for k, v in combo.items())


def main(args) -> int:
    for name in ('config', 'checkpoint', 'annotations'):
        if not osp.isfile(getattr(args, name)):
            raise CLIError(f'{getattr(args, name)}: no such file ({name})')
    if not osp.isdir(args.subvolumes):
        raise CLIError(f'{args.subvolumes}: no such folder')
    if not 0 < args.iou_thr <= 1:
        raise CLIError(f'--iou-thr must be in (0, 1], got {args.iou_thr}')
    if args.top_k < 0 or args.batch_size < 1:
        raise CLIError('invalid --top-k or --batch-size')
    check_box_padding_arg(args)
    combos, skipped = combinations(args)
    need = min(_low_thr(c) for c in combos)
    det_thr = need if args.det_thr is None else args.det_thr
    if not 0 <= det_thr <= need:
        raise CLIError(f'--det-thr {det_thr} must be in [0, {need}] (the '
                       'lowest threshold of the combinations)')
    tic = time.perf_counter()
    try:
        gts = load_3d_annotations(args.annotations, args.split)
    except UnsafePickleError as exc:
        raise CLIError(str(exc)) from None
    entries = list(
        DeepLesion3DSubvolumes(args.subvolumes, {args.split: gts}, args.split))
    dets, failed = cached_detections(args, entries, det_thr)
    names = [e['name'] for e in entries]
    gt_list = [gts[n] for n in names]
    top_k = args.top_k or None
    memos, rows, best_preds = {}, [], None
    bar = ProgressBar(len(combos)) \
        if len(combos) > 1 and not args.no_progress else None
    for combo in combos:
        preds = relink(dets, names, combo, top_k, memos, args.box_padding)
        res = froc3d(
            preds,
            None,
            gt_list,
            iou_thr=args.iou_thr,
            overlap=args.overlap,
            mode='3D')
        row = dict(
            combo,
            mean_sens=res['mean_sens'],
            z_cover=z_cover(preds, gt_list, args.iou_thr, args.overlap),
            boxes=int(res['num_detections']))
        row.update({
            f'sens@{f:g}': float(s)
            for f, s in zip(res['fps'], res['sens'])
        })
        rows.append(row)
        best_preds = preds
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stdout.write('\n')
    order = sorted(range(len(rows)), key=lambda k: -rows[k]['mean_sens'])
    rows = [rows[k] for k in order]
    os.makedirs(args.out_dir, exist_ok=True)
    header = (f'Linking study, split {args.split}: {len(entries)} '
              f'sub-volumes, {sum(len(g) for g in gt_list)} lesions; 3D '
              f'FROC {args.overlap.upper()} >= {args.iou_thr:g}; top-k '
              f'{args.top_k}; 2D detections >= {det_thr:g}; box padding '
              f'removed {args.box_padding:g} px')
    files = write_table(rows, osp.join(args.out_dir, f'linking_{args.split}'),
                        header)
    if args.params:
        stem = osp.join(args.out_dir, f'predictions_{args.split}')
        for ext in ('.pkl', '.json'):
            save_3d_boxes(dict(zip(names, best_preds)), stem + ext)
            files.append(stem + ext)
    print(header)
    for k, row in enumerate(rows[:10], 1):
        print(f'{k:3d}. mean {row["mean_sens"]:.4f}  z_cover '
              f'{_fmt(row["z_cover"])}  ' +
              _combo_text({c: row[c]
                           for c in PARAMS}))
    if skipped:
        print(f'{skipped} combination(s) with extend_thr > score_thr left '
              'out')
    if failed:
        print(f'{len(failed)} unreadable sub-volume(s), scored with no '
              'prediction: ' + '; '.join(f'{k} ({v})'
                                         for k, v in failed.items()))
    best = rows[0]
    print(f'best: mean sensitivity {best["mean_sens"]:.4f} with --params ' +
          _combo_text({c: best[c]
                       for c in PARAMS}))
    print(f'{len(combos)} combination(s) in '
          f'{time.perf_counter() - tic:.1f} s; files written: ' +
          ', '.join(files))
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
