"""Data-efficiency study: detection quality on the test split vs fraction of
annotated training patients, from a pre-trained backbone and from scratch.

    python tools/analysis_tools/data_efficiency.py CONFIG \\
        --pretrained work_dirs/vdt/epoch_100.pth \\
        --fractions 0.1 0.2 0.4 0.6 1.0 --work-dir work_dirs/data_eff \\
        [--budget epochs|iters] [--seeds 0 1 2] [--subset-seed 0] \\
        [--metric deeplesion/mean_sens] [--jobs J] [--skip-finished] \\
        [--launcher pytorch --gpus N] [--cfg-options k=v ...]

Subsets. For every fraction f the annotated training patients of the
config's training annotation file (the innermost dataset of
``train_dataloader.dataset`` with ``ann_file``; wrappers such as
``RepeatDataset`` are unwrapped) are subsampled at patient level: one fixed
random order of the patients drawn with ``--subset-seed``, the first
``ceil(f * n)`` kept, so smaller fractions are subsets of larger ones.
Patients without any annotation are dropped, so 1.0 means "all annotated
training patients". The file must be COCO-style JSON (``images`` /
``annotations``, what ``tools/dataset_converters/deeplesion.py`` writes and
``cspr_det.DeepLesionDataset`` reads); the patient of an image is
``image[--patient-key]`` (default ``patient``) or the ``PPPPPP`` of a
DeepLesion ``PPPPPP_SS_ss`` file name. The subset goes to
``WORK_DIR/frac_<f>/train_subset.json``.

Budgets (``--budget``). ``epochs`` (default): every run trains the config's
``max_epochs``, so a 10 % run also gets 10 % of the iterations.
``iters``: a run on n_f training samples trains
``round(max_epochs * n_full / n_f)`` epochs (n = ``len`` of the built
training dataset, after its filters), i.e. about the iterations of the
full-data run, so only the amount of annotation changes. The LR milestones,
the validation and checkpoint intervals and every other epoch-valued
schedule entry scale with the epoch count (so each run validates, and can
pick its best checkpoint, the same number of times at the same points of
its schedule); iteration-valued entries (the warm-up) stay as they are
(:mod:`cspr_det.utils.training_budget`).

Runs. Every (fraction, initialisation, training seed) is one run:
``--pretrained`` initialises the backbone with ``init_cfg=dict(
type=--init-type, checkpoint=..., prefix=--prefix, exclude=--exclude,
adapt_in_channels=--adapt-in-channels)``, ``scratch`` uses
``init_cfg=None``; ``randomness.seed`` is the training seed (``--seeds``,
the patient subset stays the same). Its full config is written to
``WORK_DIR/frac_<f>/<init>_seed<s>.py`` and run by the shared
:class:`cspr_det.utils.study_runner.StudyRunner`: ``tools/train.py``, then
``tools/test.py`` on the best-validation checkpoint, scored on the config's
**test** split (the value of ``--metric`` in the test metrics), in
subprocesses, ``--jobs`` at a time, under ``torchrun`` with ``--launcher
pytorch --gpus N``. Failed runs are named and left out; ``--skip-finished``
reads back finished runs.

Outputs in ``WORK_DIR``: ``data_efficiency_runs.csv`` (one row per run),
``data_efficiency.csv`` and ``data_efficiency.md`` (per fraction and
initialisation: mean and population std over the seeds, epochs and
iterations), ``data_efficiency.png`` (mean vs fraction with the std as
error bars and band). ``--dry-run`` writes the subsets, configs and the
planned runs only.
"""
import argparse
import copy
import csv
import json
import os
import os.path as osp
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from cspr_det.utils.patient_subsets import choose_patients

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_SCRIPT = osp.join(REPO, 'tools', 'train.py')
TEST_SCRIPT = osp.join(REPO, 'tools', 'test.py')
SERIES_RE = re.compile(r'(?:^|[/\\])(\d{6})_\d{2}_\d{2}(?:[/\\_]|$)')
INITS = ('pretrained', 'scratch')


def patient_of(record: Dict[str, Any], patient_key: Optional[str]) -> str:
    """Patient id of one COCO ``images`` record.

    Args:
        record: The image record.
        patient_key: Field holding the patient id; when absent from the
            record, ``patient`` / ``patient_id`` and then the DeepLesion
            series name in ``file_name`` / ``series`` are used.

    Returns:
        str: The patient id.

    Raises:
        KeyError: No patient id can be found (the record is named).
    """
    keys = [patient_key] if patient_key else []
    keys += ['patient', 'patient_id', 'Patient_index', 'patient_index']
    for key in keys:
        if key in record and record[key] not in (None, ''):
            return str(int(record[key])) if str(
                record[key]).isdigit() else str(record[key])
    for key in ('file_name', 'img_path', 'series'):
        value = record.get(key)
        if isinstance(value, str):
            m = SERIES_RE.search(value)
            if m:
                return str(int(m.group(1)))
    raise KeyError(f'no patient id in record {str(record)[:200]}; pass '
                   '--patient-key')


def subsample_coco(ann: dict, fraction: float, seed: int,
                   patient_key: Optional[str] = None) -> Tuple[dict, dict]:
    """Patient-level subsample of a COCO-style annotation dict.

    Returns:
        tuple: (new annotation dict, info dict with ``patients``,
        ``patients_total``, ``images``, ``annotations``).
    """
    image_patient = {
        img['id']: patient_of(img, patient_key)
        for img in ann['images']
    }
    annotated = {image_patient[a['image_id']] for a in ann['annotations']
                 if a['image_id'] in image_patient}
    keep = set(choose_patients(sorted(annotated), fraction, seed))
    images = [
        img for img in ann['images'] if image_patient[img['id']] in keep
    ]
    image_ids = {img['id'] for img in images}
    anns = [a for a in ann['annotations'] if a['image_id'] in image_ids]
    out = dict(ann)
    out['images'] = images
    out['annotations'] = anns
    return out, dict(
        patients=len(keep),
        patients_total=len(annotated),
        images=len(images),
        annotations=len(anns))


def read_coco(path: str) -> dict:
    """Load a COCO-style training annotation file, or fail naming it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'training annotation file not found: {path}')
    if path.lower().endswith('.csv'):
        raise ValueError(
            f'{path}: the study subsamples COCO-style JSON (what the dataset '
            'reads); convert DL_info.csv with '
            'tools/dataset_converters/deeplesion.py first')
    with open(path, encoding='utf-8') as f:
        try:
            ann = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not JSON ({e})') from None
    if not (isinstance(ann, dict) and 'images' in ann
            and 'annotations' in ann):
        raise ValueError(f'{path}: not COCO-style JSON (needs images and '
                         'annotations)')
    return ann


def subsample_file(src: str, dst: str, fraction: float, seed: int,
                   patient_key: Optional[str] = None) -> dict:
    """Write a patient-level subset of the COCO-style file ``src`` to
    ``dst``. Returns the info dict of :func:`subsample_coco`."""
    out, info = subsample_coco(read_coco(src), fraction, seed, patient_key)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    with open(dst, 'w', encoding='utf-8') as f:
        json.dump(out, f)
    return info


def find_train_dataset(cfg) -> dict:
    """Innermost dataset config of ``train_dataloader`` with ``ann_file``."""
    ds = cfg['train_dataloader']['dataset']
    while 'ann_file' not in ds:
        if 'dataset' in ds:
            ds = ds['dataset']
        else:
            raise ValueError(
                'cannot find the training annotation file: '
                'train_dataloader.dataset (or its wrapped dataset) has no '
                'ann_file (ConcatDataset is not supported)')
    return ds


def resolve_path(path: str, data_root: Optional[str]) -> str:
    if osp.isabs(path) or not data_root:
        return path
    return osp.join(data_root, path)


def train_set_size(cfg) -> int:
    """``len`` of the training dataset that ``cfg`` builds (annotations
    loaded and filtered, images not read)."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return len(DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset)))


def backbone_init(pretrained: Optional[str], init_type: str, prefix: str,
                  exclude: Sequence[str] = (),
                  adapt_in_channels: Sequence[str] = ()) -> Optional[dict]:
    """The backbone ``init_cfg`` of one run (None = from scratch)."""
    if pretrained is None:
        return None
    init = dict(type=init_type, checkpoint=osp.abspath(pretrained),
                prefix=prefix)
    for flag, key, value in (('--exclude', 'exclude', exclude),
                             ('--adapt-in-channels', 'adapt_in_channels',
                              adapt_in_channels)):
        if value:
            if init_type != 'cspr_det.PretrainedBackbone':
                raise ValueError(f'{flag} needs --init-type '
                                 'cspr_det.PretrainedBackbone')
            init[key] = list(value)
    return init


def plan_runs(args, base) -> Tuple[list, List[Dict[str, Any]]]:
    """Write the subsets and run configs; return the runs and one info dict
    per fraction. Runs in the main thread (mmengine's Config is not
    thread-safe)."""
    from cspr_det.utils.study_runner import StudyRun
    from cspr_det.utils.training_budget import (budget_epochs,
                                                is_epoch_based,
                                                iteration_warmups,
                                                iters_per_epoch,
                                                scale_epoch_schedule)
    epoch_based = is_epoch_based(base)
    if not epoch_based and args.budget == 'epochs':
        raise ValueError('--budget epochs needs an EpochBasedTrainLoop; this '
                         'config trains by iterations, which is already an '
                         'equal-iterations budget (use --budget iters)')
    train_ds = find_train_dataset(base)
    ann_src = resolve_path(train_ds['ann_file'], train_ds.get('data_root'))
    full_size = train_set_size(base)
    world = args.gpus if args.launcher == 'pytorch' else 1
    batch = int(base.train_dataloader.batch_size)
    inits = [i for i in INITS if i != 'pretrained' or args.pretrained]
    inits = [i for i in inits if i != 'scratch' or not args.no_scratch]
    runs, infos = [], []
    for fraction in sorted(args.fractions):
        frac_dir = osp.abspath(osp.join(args.work_dir, f'frac_{fraction:g}'))
        subset = osp.join(frac_dir, 'train_subset.json')
        info = subsample_file(ann_src, subset, fraction, args.subset_seed,
                              args.patient_key)
        cfg_f = copy.deepcopy(base)
        find_train_dataset(cfg_f)['ann_file'] = subset
        size = train_set_size(cfg_f)
        if epoch_based:
            epochs = budget_epochs(int(base.train_cfg.max_epochs), full_size,
                                   size, args.budget)
            scale_epoch_schedule(cfg_f, epochs)
            per_epoch = iters_per_epoch(size, batch, world)
            total = epochs * per_epoch
        else:
            epochs, per_epoch = None, None
            total = int(base.train_cfg.max_iters)
        info.update(fraction=fraction, train_samples=size, epochs=epochs,
                    iters_per_epoch=per_epoch, total_iters=total)
        infos.append(info)
        print(f'fraction {fraction:g}: {info["patients"]}/'
              f'{info["patients_total"]} patients, {info["images"]} images, '
              f'{size} training samples, {epochs} epochs x {per_epoch} = '
              f'{total} iterations ({args.budget} budget)', flush=True)
        for warmup in iteration_warmups(cfg_f):
            if warmup > total:
                print(f'warning: fraction {fraction:g} trains {total} '
                      f'iterations, fewer than a {warmup}-iteration warm-up',
                      file=sys.stderr)
        for init in inits:
            for seed in args.seeds:
                cfg = copy.deepcopy(cfg_f)
                cfg.model.backbone.init_cfg = backbone_init(
                    args.pretrained if init == 'pretrained' else None,
                    args.init_type, args.prefix, args.exclude,
                    args.adapt_in_channels)
                cfg.merge_from_dict({'randomness.seed': seed})
                run_dir = osp.join(frac_dir, f'{init}_seed{seed}')
                cfg.work_dir = run_dir
                # beside the work dir: the Runner dumps its own copy into it
                cfg_path = run_dir + '.py'
                cfg.dump(cfg_path)
                runs.append(StudyRun(
                    name=f'frac{fraction:g}_{init}_seed{seed}',
                    config=cfg_path, work_dir=run_dir,
                    factors=dict(fraction=fraction, init=init, seed=seed)))
    return runs, infos


def summarize(results, infos: List[dict], metric: str,
              budget: str) -> List[Dict[str, Any]]:
    """One row per (fraction, init): mean and population std of ``metric``
    over the successful seeds, with the fraction's sizes and budget."""
    from cspr_det.utils.study_runner import aggregate
    by_fraction = {i['fraction']: i for i in infos}
    rows = []
    for agg in aggregate(results, ('fraction', 'init'), [metric]):
        info = by_fraction[agg['fraction']]
        rows.append(dict(
            fraction=agg['fraction'], init=agg['init'], budget=budget,
            epochs=info['epochs'], total_iters=info['total_iters'],
            patients=info['patients'], train_samples=info['train_samples'],
            n=agg['n'], mean=agg[metric], std=agg[metric + '_std'],
            values=';'.join(f'{v:.6g}' for v in agg[metric + '_values'])))
    return sorted(rows, key=lambda r: (r['fraction'], INITS.index(r['init'])))


def markdown(summary: List[Dict[str, Any]], metric: str, budget: str) -> str:
    """The summary as a markdown table, plus where the pre-trained runs
    reach the full-data scratch mean."""
    from cspr_det.utils.study_runner import format_mean_std
    inits = [i for i in INITS if any(r['init'] == i for r in summary)]
    lines = [f'{metric} on the test split, {budget} budget; mean ± '
             'population std over the training seeds (n runs)', '',
             '| patients (%) | patients | training samples | epochs | '
             'iterations | ' + ' | '.join(inits) + ' |',
             '|---' * (5 + len(inits)) + '|']
    for fraction in sorted({r['fraction'] for r in summary}):
        sel = {r['init']: r for r in summary if r['fraction'] == fraction}
        any_row = next(iter(sel.values()))
        cells = [f'{fraction * 100:g}', str(any_row['patients']),
                 str(any_row['train_samples']), str(any_row['epochs']),
                 str(any_row['total_iters'])]
        for init in inits:
            r = sel.get(init)
            cells.append('-' if r is None else
                         f'{format_mean_std(r["mean"], r["std"], r["n"])} '
                         f'({r["n"]})')
        lines.append('| ' + ' | '.join(cells) + ' |')
    full = [r for r in summary if r['init'] == 'scratch'
            and r['fraction'] == 1.0]
    pre = sorted((r for r in summary if r['init'] == 'pretrained'),
                 key=lambda r: r['fraction'])
    if full and pre:
        reach = [r for r in pre if r['mean'] >= full[0]['mean']]
        lines.append('')
        lines.append(
            'smallest fraction whose pre-trained mean reaches the 100 % '
            f'scratch mean ({full[0]["mean"]:.3f}): '
            + (f'{reach[0]["fraction"] * 100:g} %' if reach else 'none')
            + ' (means only; compare the spread)')
    return '\n'.join(lines)


def plot(summary: List[Dict[str, Any]], metric: str, title: str,
         out_png: str) -> Dict[str, Tuple[np.ndarray, ...]]:
    """Mean ``metric`` vs fraction per initialisation, the std over seeds as
    error bars and a shaded band (none for a single seed).

    Returns:
        dict: ``{init: (x in %, mean, std)}`` as drawn.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    drawn = {}
    for init in INITS:
        pts = sorted((r['fraction'] * 100, r['mean'], r['std'], r['n'])
                     for r in summary if r['init'] == init)
        if not pts:
            continue
        x, mean, std, n = (np.array(v, float) for v in zip(*pts))
        std = np.where(n > 1, std, 0.0)
        line = ax.errorbar(x, mean, yerr=std, fmt='o-', capsize=3,
                           label=f'{init} (n={int(n.max())})')
        ax.fill_between(x, mean - std, mean + std, alpha=0.2,
                        color=line[0].get_color(), linewidth=0)
        drawn[init] = (x, mean, std)
    ax.set_xlabel('annotated training patients (%)')
    ax.set_ylabel(f'{metric} (test)')
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return drawn


def _write_csv(path: str, rows: List[Dict[str, Any]]) -> None:
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run_rows(runs, results, infos: List[dict], metric: str,
             runner=None) -> List[Dict[str, Any]]:
    """One CSV row per run (``results`` None: planned, not run)."""
    by_fraction = {i['fraction']: i for i in infos}
    rows = []
    for k, run in enumerate(runs):
        info = by_fraction[run.factors['fraction']]
        res = results[k] if results is not None else None
        row = dict(run.factors)
        row.update(
            status='planned' if res is None else
            ('ok' if res.ok else 'failed'),
            value=res.metrics[metric] if res is not None and res.ok else '',
            epochs=info['epochs'], train_samples=info['train_samples'],
            iters_per_epoch=info['iters_per_epoch'],
            total_iters=info['total_iters'], patients=info['patients'],
            patients_total=info['patients_total'], images=info['images'],
            annotations=info['annotations'],
            checkpoint=(res.checkpoint or '') if res is not None else '',
            work_dir=run.work_dir,
            error=(res.error or '') if res is not None else '')
        if res is None and runner is not None:
            row['command'] = ' '.join(runner.train_command(run))
        rows.append(row)
    return rows


def parse_args(argv=None):
    from mmengine.config import DictAction

    from cspr_det.utils.study_runner import add_runner_args
    parser = argparse.ArgumentParser(
        description='Train a detection config on 10-100% of the annotated '
        'training patients, pre-trained vs scratch, scored on the test split')
    parser.add_argument('config', help='detection config')
    parser.add_argument('--pretrained',
                        help='pre-training checkpoint for the backbone '
                        '(omit to run from scratch only)')
    parser.add_argument('--fractions', type=float, nargs='+',
                        default=[0.1, 0.2, 0.4, 0.6, 1.0])
    add_runner_args(parser, default_work_dir='work_dirs/data_efficiency')
    parser.add_argument('--budget', choices=('epochs', 'iters'),
                        default='epochs',
                        help='epochs: every run trains the config\'s epochs; '
                        'iters: smaller fractions train proportionally more '
                        'epochs (about equal iterations)')
    parser.add_argument('--subset-seed', type=int, default=0,
                        help='seed of the patient order of the subsets')
    parser.add_argument('--seed', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--metric', default='deeplesion/mean_sens',
                        help='test metric to report (a key of the test '
                        'metrics log)')
    parser.add_argument('--patient-key', default=None,
                        help='image field holding the patient id')
    parser.add_argument('--init-type', default='cspr_det.PretrainedBackbone',
                        help='init_cfg type used with --pretrained '
                        '(or Pretrained)')
    parser.add_argument('--prefix', default='backbone.',
                        help='key prefix of the backbone in --pretrained')
    parser.add_argument('--exclude', nargs='+', default=[],
                        help='regexes of backbone tensors not loaded from '
                        '--pretrained (e.g. collapse: slice-count dependent '
                        'GTM weights)')
    parser.add_argument('--adapt-in-channels', nargs='+', default=[],
                        help='regexes of conv weights (the stem) tiled over '
                        'a different number of input channels, e.g. a '
                        '1-channel pre-trained stem for 2 HU windows')
    parser.add_argument('--no-scratch', action='store_true',
                        help='skip the from-scratch runs')
    parser.add_argument('--dry-run', action='store_true',
                        help='write subsets, configs and the planned runs; '
                        'do not train')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides applied to every run')
    return parser.parse_args(argv)


def _check_args(args) -> Optional[str]:
    if args.seed is not None:
        return ('--seed is gone: --subset-seed sets the patient order, '
                '--seeds the training seeds')
    if not osp.isfile(args.config):
        return f'config not found: {args.config}'
    if args.pretrained and not osp.isfile(args.pretrained):
        return f'checkpoint not found: {args.pretrained}'
    bad = [f for f in args.fractions if not 0 < f <= 1]
    if bad:
        return f'fractions must be in (0, 1], got {bad}'
    if len(set(args.fractions)) != len(args.fractions):
        return f'--fractions repeats a value: {args.fractions}'
    if not args.pretrained and args.no_scratch:
        return 'nothing to run (--no-scratch without --pretrained)'
    return None


def main(argv=None) -> int:
    from mmengine.config import Config

    from cspr_det.utils.study_runner import runner_from_args

    args = parse_args(argv)
    problem = _check_args(args)
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    try:
        runner = runner_from_args(args, TRAIN_SCRIPT, TEST_SCRIPT,
                                  required_keys=[args.metric])
        base = Config.fromfile(args.config)
        if args.cfg_options:
            base.merge_from_dict(args.cfg_options)
        runs, infos = plan_runs(args, base)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    os.makedirs(args.work_dir, exist_ok=True)
    runs_csv = osp.join(args.work_dir, 'data_efficiency_runs.csv')
    if args.dry_run:
        _write_csv(runs_csv, run_rows(runs, None, infos, args.metric, runner))
        print(f'wrote {runs_csv} ({len(runs)} planned runs)')
        return 0
    results = runner.run_all(runs)
    _write_csv(runs_csv, run_rows(runs, results, infos, args.metric))
    print(f'wrote {runs_csv}')
    failed = [r.run.name for r in results if not r.ok]
    summary = summarize(results, infos, args.metric, args.budget)
    if summary:
        csv_path = osp.join(args.work_dir, 'data_efficiency.csv')
        _write_csv(csv_path, summary)
        table = markdown(summary, args.metric, args.budget)
        with open(osp.join(args.work_dir, 'data_efficiency.md'), 'w',
                  encoding='utf-8') as f:
            f.write(table + '\n')
        print(table)
        png = osp.join(args.work_dir, 'data_efficiency.png')
        seeds = len(args.seeds)
        plot(summary, args.metric,
             f'test split, {args.budget} budget, mean ± std over '
             f'{seeds} seed{"s" * (seeds > 1)}', png)
        print(f'wrote {csv_path}, {png}')
    if failed:
        print(f'error: failed runs, left out of the summary: {failed}; '
              'rerun with --skip-finished to redo only them',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
