"""Data-efficiency study for every task family: the test metric vs the
fraction of training patients, from a pre-trained backbone and from scratch.

    python tools/analysis_tools/data_efficiency.py CONFIG \\
        [--pretrained CKPT] [--fractions 0.1 0.2 0.4 0.6 1.0] \\
        [--budget epochs|iters] [--seeds 0 1 2] [--subset-seed 0] \\
        [--metric KEY] [--work-dir DIR] [--jobs J] [--skip-finished] \\
        [--launcher pytorch --gpus N] [--dry-run] [--cfg-options k=v ...]

CONFIG trains on one of these datasets (``train_dataloader.dataset``, or
the dataset inside a wrapper such as ``RepeatDataset``); the study subsets
it through the dataset's own patient-level fraction arguments, so no
annotation file is rewritten:

- DeepLesion key slices (``configs/deeplesion/``;
  ``cspr_det.DeepLesionDataset``): ``patient_fraction`` of the patients
  with at least one annotation, with all their images; the patient of an
  image is its ``patient`` field (``--patient-key`` names another) or the
  ``PPPPPP`` of its ``PPPPPP_SS_ss`` series;
- LIDC nodules (``configs/classification/lidc/``,
  ``configs/segmentation/lidc/``; ``cspr_det.LIDCNoduleDataset``):
  ``patient_fraction`` of the training patients with all their nodules;
- LiTS / BTCV cases (``configs/segmentation/{lits,btcv}/``;
  ``cspr_det.LiTSDataset``, ``cspr_det.BTCVDataset``, one case per
  patient): ``case_fraction`` of the training cases.

Every dataset draws its subset with
:func:`cspr_det.datasets.patient_subsets.choose_patients`: one fixed random
order of the patients per ``--subset-seed`` (the dataset's
``*_fraction_seed``), the first ``ceil(f * n)`` kept, so smaller fractions
are subsets of larger ones; val and test stay whole.

Budgets (``--budget``, :mod:`cspr_det.cli.training_budget`). Epoch-based
configs (detection, classification): ``epochs`` (default) trains the
config's ``max_epochs`` on every subset, so a 10 % run also gets 10 % of
the iterations; ``iters`` trains a run on n_f samples for
``round(max_epochs * n_full / n_f)`` epochs (n = ``len`` of the built
training dataset, after its filters), about the full run's iterations, so
only the amount of annotation changes. LR milestones, validation and
checkpoint intervals and every other epoch-valued schedule entry scale with
the epochs; iteration-valued entries (the warm-up) stay. Iteration-based
configs (the segmentors) always train the config's iterations, i.e. the
``iters`` budget (the default for them); ``--budget epochs`` is refused.

Runs. Every (fraction, initialisation, training seed) is one run:
``--pretrained`` initialises the backbone with ``init_cfg=dict(
type=--init-type, checkpoint=..., prefix=--prefix, exclude=--exclude,
adapt_in_channels=--adapt-in-channels)``, ``scratch`` uses
``init_cfg=None``; ``randomness.seed`` is the training seed (``--seeds``;
the patient subset stays the same). Its full config is written to
``WORK_DIR/frac_<f>/<init>_seed<s>.py`` and run by
:class:`cspr_det.cli.study_runner.StudyRunner`: training, then the test of
the best-validation checkpoint on the config's **test** split (the value of
``--metric``, by default ``deeplesion/mean_sens`` for detection,
``seg/mDice`` for segmentation and ``cls/auc`` for classification), in
subprocesses, ``--jobs`` at a time, under ``torchrun`` with ``--launcher
pytorch --gpus N``. Failed runs are named and left out; ``--skip-finished``
reads back finished runs.

Outputs in ``WORK_DIR``: ``data_efficiency_runs.csv`` (one row per run),
``data_efficiency.csv`` and ``data_efficiency.md`` (per fraction and
initialisation: mean and population std over the seeds, patients, training
samples, epochs and iterations), ``data_efficiency.png`` (mean vs fraction,
the std as error bars and band). ``--dry-run`` writes the configs and the
planned runs only.
"""
import argparse
import copy
import csv
import os
import os.path as osp
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import DATASETS, init_default_scope

from cspr_det.cli.study_runner import (TEST_STEP, TRAIN_STEP, StudyRun,
                                       add_runner_args, aggregate,
                                       format_mean_std, runner_from_args)
from cspr_det.cli.training_budget import (BUDGETS, budget_epochs,
                                          is_epoch_based, iteration_warmups,
                                          iters_per_epoch,
                                          scale_epoch_schedule)
from cspr_det.datasets import (BaseVolumeSegDataset, DeepLesionDataset,
                               LIDCNoduleDataset)

INITS = ('pretrained', 'scratch')


class DatasetKind(NamedTuple):
    """How the study subsets one training dataset class.

    Attributes:
        cls: The dataset class (subclasses included).
        fraction_arg: Its patient-fraction argument.
        seed_arg: Its argument for the seed of the patient order.
        unit: What one training sample is (a table column).
        patient_key: ``data_info`` key naming a sample's patient.
        metric: Default test metric (None: by model, see
            :func:`default_metric`).
        count_args: Extra arguments when the study builds the dataset to
            count it.
    """
    cls: type
    fraction_arg: str
    seed_arg: str
    unit: str
    patient_key: str
    metric: Optional[str]
    count_args: Dict[str, Any]


KINDS = (
    DatasetKind(DeepLesionDataset, 'patient_fraction', 'patient_fraction_seed',
                'images', 'patient_id', 'deeplesion/mean_sens', {}),
    DatasetKind(LIDCNoduleDataset, 'patient_fraction', 'patient_fraction_seed',
                'nodules', 'patient_id', None, dict(check_files=False)),
    DatasetKind(BaseVolumeSegDataset, 'case_fraction', 'case_fraction_seed',
                'cases', 'case_id', 'seg/mDice', {}),
)
TRAIN_SETS = ', '.join(f'cspr_det.{k.cls.__name__}' for k in KINDS)


def dataset_kind(ds_cfg: dict) -> Optional[DatasetKind]:
    """The :data:`KINDS` entry of a dataset config (None: not a dataset the
    study subsets, e.g. a wrapper)."""
    cls = ds_cfg.get('type')
    if not isinstance(cls, type):
        cls = DATASETS.get(str(cls or ''))
    for kind in KINDS:
        if isinstance(cls, type) and issubclass(cls, kind.cls):
            return kind
    return None


def find_train_dataset(cfg) -> Tuple[dict, DatasetKind]:
    """The training dataset config the study subsets (inside wrappers that
    hold one ``dataset``) and its kind.

    Raises:
        ValueError: No known dataset (a ConcatDataset, or another class).
    """
    ds = cfg['train_dataloader']['dataset']
    while True:
        kind = dataset_kind(ds)
        if kind is not None:
            return ds, kind
        if 'dataset' not in ds:
            break
        ds = ds['dataset']
    raise ValueError(
        f'the config trains on {ds.get("type")!r}; the study needs one of '
        f'{TRAIN_SETS} as train_dataloader.dataset (or inside a wrapper '
        'with one dataset; ConcatDataset is not supported)')


def default_metric(cfg, kind: DatasetKind) -> str:
    """Test metric of a family: the kind's, else ``seg/mDice`` for a
    volume segmentor and ``cls/auc`` for a classifier."""
    if kind.metric:
        return kind.metric
    seg = str(cfg.model.get('type', '')).endswith('VolumeSegmentor')
    return 'seg/mDice' if seg else 'cls/auc'


def train_set_size(cfg) -> Tuple[int, int]:
    """``(samples, patients)`` of the training dataset ``cfg`` builds:
    ``len`` of ``train_dataloader.dataset`` (wrappers included, after the
    dataset's filters; no image is read) and the distinct patients of its
    samples."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    inner, kind = find_train_dataset(
        dict(train_dataloader=dict(dataset=ds_cfg)))
    # not serialized: only counted (mmengine's serialization runs a full
    # garbage collection per build)
    inner.update(pipeline=[], serialize_data=False, **kind.count_args)
    dataset = DATASETS.build(ds_cfg)
    base = dataset
    while not isinstance(base, kind.cls) and hasattr(base, 'dataset'):
        base = base.dataset
    patients = {
        base.get_data_info(i)[kind.patient_key]
        for i in range(len(base))
    }
    patients.discard(None)
    return len(dataset), len(patients)


def resolve_budget(budget: Optional[str], cfg) -> str:
    """``budget`` checked against the config's training loop; None gives
    ``epochs`` for epoch-based configs and ``iters`` for iteration-based
    ones."""
    epoch_based = is_epoch_based(cfg)
    if budget is None:
        return 'epochs' if epoch_based else 'iters'
    if budget == 'epochs' and not epoch_based:
        raise ValueError(
            '--budget epochs needs an EpochBasedTrainLoop; this config '
            'trains a fixed number of iterations, which is already an '
            'equal-iterations budget (use --budget iters)')
    return budget


def backbone_init(pretrained: Optional[str],
                  init_type: str,
                  prefix: str,
                  exclude: Sequence[str] = (),
                  adapt_in_channels: Sequence[str] = (),
                  init_options: Optional[dict] = None) -> Optional[dict]:
    """The backbone ``init_cfg`` of one run (None = from scratch);
    ``init_options`` are further arguments of the initializer (e.g.
    ``bn_stats='reset'`` of ``cspr_det.PretrainedBackbone``)."""
    if pretrained is None:
        return None
    init = dict(
        type=init_type, checkpoint=osp.abspath(pretrained), prefix=prefix)
    for key, value in (init_options or {}).items():
        if key in init:
            raise ValueError(f'--init-options {key}: set it with its own '
                             'option')
        init[key] = value
    for flag, key, value in (('--exclude', 'exclude', exclude),
                             ('--adapt-in-channels', 'adapt_in_channels',
                              adapt_in_channels)):
        if value:
            if init_type != 'cspr_det.PretrainedBackbone':
                raise ValueError(f'{flag} needs --init-type '
                                 'cspr_det.PretrainedBackbone')
            init[key] = list(value)
    return init


def plan_runs(args, base) -> Tuple[List[StudyRun], List[Dict[str, Any]]]:
    """Write one config per (fraction, init, seed); return the runs and one
    info dict per fraction. Runs in the main thread (mmengine's Config is
    not thread-safe). ``args.budget`` None is resolved here."""
    _, kind = find_train_dataset(base)
    if args.patient_key and kind.cls is not DeepLesionDataset:
        raise ValueError(f'--patient-key is for DeepLesion configs; this '
                         f'one trains on {kind.cls.__name__}')
    args.budget = resolve_budget(args.budget, base)
    epoch_based = is_epoch_based(base)
    full_size, full_patients = train_set_size(base)
    world = args.gpus if args.launcher == 'pytorch' else 1
    batch = int(base.train_dataloader.batch_size)
    inits = [
        i for i in INITS if (i != 'pretrained' or args.pretrained) and (
            i != 'scratch' or not args.no_scratch)
    ]
    runs, infos = [], []
    for fraction in sorted(args.fractions):
        cfg_f = copy.deepcopy(base)
        subset = {kind.fraction_arg: fraction, kind.seed_arg: args.subset_seed}
        if args.patient_key:
            subset['patient_key'] = args.patient_key
        find_train_dataset(cfg_f)[0].update(subset)
        size, patients = train_set_size(cfg_f)
        if epoch_based:
            epochs = budget_epochs(
                int(base.train_cfg.max_epochs), full_size, size, args.budget)
            scale_epoch_schedule(cfg_f, epochs)
            per_epoch = iters_per_epoch(size, batch, world)
            total = epochs * per_epoch
        else:
            epochs, per_epoch = None, None
            total = int(base.train_cfg.max_iters)
        infos.append(
            dict(
                fraction=fraction,
                patients=patients,
                patients_total=full_patients,
                train_samples=size,
                unit=kind.unit,
                epochs=epochs,
                iters_per_epoch=per_epoch,
                total_iters=total))
        schedule = (f'{epochs} epochs x {per_epoch} = {total} iterations'
                    if epoch_based else f'{total} iterations')
        print(
            f'fraction {fraction:g}: {patients}/{full_patients} training '
            f'patients, {size} {kind.unit}, {schedule} ({args.budget} '
            'budget)',
            flush=True)
        for warmup in iteration_warmups(cfg_f):
            if warmup > total:
                print(
                    f'warning: fraction {fraction:g} trains {total} '
                    f'iterations, fewer than a {warmup}-iteration warm-up',
                    file=sys.stderr)
        for init in inits:
            for seed in args.seeds:
                cfg = copy.deepcopy(cfg_f)
                cfg.model.backbone.init_cfg = backbone_init(
                    args.pretrained if init == 'pretrained' else None,
                    args.init_type, args.prefix, args.exclude,
                    args.adapt_in_channels, args.init_options)
                cfg.merge_from_dict({'randomness.seed': seed})
                run_dir = osp.abspath(
                    osp.join(args.work_dir, f'frac_{fraction:g}',
                             f'{init}_seed{seed}'))
                cfg.work_dir = run_dir
                os.makedirs(osp.dirname(run_dir), exist_ok=True)
                # beside the work dir: the Runner dumps its own copy into it
                cfg.dump(run_dir + '.py')
                runs.append(
                    StudyRun(
                        name=f'frac{fraction:g}_{init}_seed{seed}',
                        config=run_dir + '.py',
                        work_dir=run_dir,
                        factors=dict(fraction=fraction, init=init, seed=seed)))
    return runs, infos


def summarize(
    results,
    infos: List[dict],
    metric: str,
    budget: str,
    extra_metrics: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """One row per (fraction, init): mean and population std of ``metric``
    over the successful seeds, with the fraction's sizes and budget, and
    ``<m>_mean`` / ``<m>_std`` / ``<m>_values`` for every metric ``m`` of
    ``extra_metrics``."""
    by_fraction = {i['fraction']: i for i in infos}
    rows = []
    for agg in aggregate(results, ('fraction', 'init'),
                         [metric, *extra_metrics]):
        info = by_fraction[agg['fraction']]
        row = dict(
            fraction=agg['fraction'],
            init=agg['init'],
            budget=budget,
            epochs=info['epochs'],
            total_iters=info['total_iters'],
            patients=info['patients'],
            train_samples=info['train_samples'],
            n=agg['n'],
            mean=agg[metric],
            std=agg[metric + '_std'],
            values=';'.join(f'{v:.6g}' for v in agg[metric + '_values']))
        for m in extra_metrics:
            row[f'{m}_mean'] = agg[m]
            row[f'{m}_std'] = agg[m + '_std']
            row[f'{m}_values'] = ';'.join(f'{v:.6g}'
                                          for v in agg[m + '_values'])
        rows.append(row)
    return sorted(rows, key=lambda r: (r['fraction'], INITS.index(r['init'])))


def markdown(summary: List[Dict[str, Any]],
             metric: str,
             budget: str,
             unit: str = 'training samples',
             reach_line: bool = True) -> str:
    """The summary as a markdown table (``unit``: what a training sample
    is), plus (``reach_line``) where the pre-trained runs reach the
    full-data scratch mean."""
    inits = [i for i in INITS if any(r['init'] == i for r in summary)]
    lines = [
        f'{metric} on the test split, {budget} budget; mean ± '
        'population std over the training seeds (n runs)', '',
        f'| patients (%) | patients | {unit} | epochs | iterations | ' +
        ' | '.join(inits) + ' |', '|---' * (5 + len(inits)) + '|'
    ]
    for fraction in sorted({r['fraction'] for r in summary}):
        sel = {r['init']: r for r in summary if r['fraction'] == fraction}
        any_row = next(iter(sel.values()))
        epochs = any_row['epochs']
        cells = [
            f'{fraction * 100:g}',
            str(any_row['patients']),
            str(any_row['train_samples']),
            '-' if epochs is None else str(epochs),
            str(any_row['total_iters'])
        ]
        for init in inits:
            r = sel.get(init)
            cells.append('-' if r is None else
                         f'{format_mean_std(r["mean"], r["std"], r["n"])} '
                         f'({r["n"]})')
        lines.append('| ' + ' | '.join(cells) + ' |')
    full = [
        r for r in summary if r['init'] == 'scratch' and r['fraction'] == 1.0
    ]
    pre = sorted((r for r in summary if r['init'] == 'pretrained'),
                 key=lambda r: r['fraction'])
    if full and pre and reach_line:
        reach = [r for r in pre if r['mean'] >= full[0]['mean']]
        lines.append('')
        lines.append(
            'smallest fraction whose pre-trained mean reaches the 100 % '
            f'scratch mean ({full[0]["mean"]:.3f}): ' +
            (f'{reach[0]["fraction"] * 100:g} %' if reach else 'none') +
            ' (means only; compare the spread)')
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
        line = ax.errorbar(
            x,
            mean,
            yerr=std,
            fmt='o-',
            capsize=3,
            label=f'{init} (n={int(n.max())})')
        ax.fill_between(
            x,
            mean - std,
            mean + std,
            alpha=0.2,
            color=line[0].get_color(),
            linewidth=0)
        drawn[init] = (x, mean, std)
    ax.set_xlabel('training patients (%)')
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


def run_rows(
    runs,
    results,
    infos: List[dict],
    metric: str,
    runner=None,
    extra_metrics: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """One CSV row per run (``results`` None: planned, not run; then the
    training command of each run when ``runner`` is given)."""
    by_fraction = {i['fraction']: i for i in infos}
    rows = []
    for k, run in enumerate(runs):
        info = by_fraction[run.factors['fraction']]
        res = results[k] if results is not None else None
        row = dict(run.factors)
        row.update(
            status='planned' if res is None else
            ('ok' if res.ok else 'failed'),
            metric=metric,
            value=res.metrics[metric] if res is not None and res.ok else '',
            **{
                m: res.metrics.get(m, '') if res is not None and res.ok else ''
                for m in extra_metrics
            },
            epochs=info['epochs'],
            train_samples=info['train_samples'],
            unit=info['unit'],
            iters_per_epoch=info['iters_per_epoch'],
            total_iters=info['total_iters'],
            patients=info['patients'],
            patients_total=info['patients_total'],
            checkpoint=(res.checkpoint or '') if res is not None else '',
            work_dir=run.work_dir,
            error=(res.error or '') if res is not None else '')
        if res is None and runner is not None:
            row['command'] = ' '.join(runner.train_command(run))
        rows.append(row)
    return rows


def write_summary(args, results, infos: List[dict], metric: str) -> str:
    """``data_efficiency.csv``, ``.md`` and ``.png`` in ``args.work_dir``
    from the successful runs; returns the markdown ('' when none
    succeeded)."""
    extra = args.report_metrics
    summary = summarize(results, infos, metric, args.budget, extra)
    if not summary:
        return ''
    _write_csv(osp.join(args.work_dir, 'data_efficiency.csv'), summary)
    table = markdown(summary, metric, args.budget, infos[0]['unit'])
    for m in extra:
        rows = [
            dict(r, mean=r[f'{m}_mean'], std=r[f'{m}_std']) for r in summary
        ]
        table += '\n\n' + markdown(rows, m, args.budget, infos[0]['unit'],
                                   False)
    with open(
            osp.join(args.work_dir, 'data_efficiency.md'), 'w',
            encoding='utf-8') as f:
        f.write(table + '\n')
    seeds = len(args.seeds)
    plot(
        summary, metric, f'test split, {args.budget} budget, mean ± std over '
        f'{seeds} seed{"s" * (seeds > 1)}',
        osp.join(args.work_dir, 'data_efficiency.png'))
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a detection, segmentation or classification '
        'config on fractions of the training patients, pre-trained vs '
        'scratch, scored on the test split')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--pretrained',
        help='pre-training checkpoint for the backbone '
        '(omit to run from scratch only)')
    parser.add_argument(
        '--no-scratch', action='store_true', help='skip the from-scratch runs')
    parser.add_argument(
        '--fractions',
        type=float,
        nargs='+',
        default=[0.1, 0.2, 0.4, 0.6, 1.0])
    add_runner_args(parser, default_work_dir='work_dirs/data_efficiency')
    parser.add_argument(
        '--budget',
        choices=BUDGETS,
        default=None,
        help='epochs (default for epoch-based configs): '
        'every run trains the config\'s epochs; iters '
        '(default and only choice for iteration-based '
        'configs): about equal iterations, smaller '
        'fractions train proportionally more epochs')
    parser.add_argument(
        '--subset-seed',
        type=int,
        default=0,
        help='seed of the patient order of the subsets')
    parser.add_argument('--seed', type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        '--metric',
        default=None,
        help='test metric to report (a key of the test '
        'metrics log; default deeplesion/mean_sens, '
        'seg/mDice or cls/auc by family)')
    parser.add_argument(
        '--patient-key',
        default=None,
        help='DeepLesion: image field holding the patient '
        'id')
    parser.add_argument(
        '--init-type',
        default='cspr_det.PretrainedBackbone',
        help='init_cfg type used with --pretrained '
        '(or Pretrained)')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help='key prefix of the backbone in --pretrained')
    parser.add_argument(
        '--exclude',
        nargs='+',
        default=[],
        help='regexes of backbone tensors not loaded from '
        '--pretrained (e.g. collapse: slice-count dependent '
        'GTM weights)')
    parser.add_argument(
        '--adapt-in-channels',
        nargs='+',
        default=[],
        help='regexes of conv weights (the stem) tiled over '
        'a different number of input channels, e.g. a '
        '1-channel pre-trained stem for 2 HU windows')
    parser.add_argument(
        '--init-options',
        nargs='+',
        action=DictAction,
        default={},
        help='further KEY=VALUE arguments of the pre-trained runs\' '
        'initializer, e.g. bn_stats=reset')
    parser.add_argument(
        '--report-metrics',
        nargs='+',
        default=[],
        help='further test metrics written beside --metric in the '
        'run table and the summaries (e.g. seg/mHD95)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='write the configs and the planned runs; do '
        'not train')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
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
    args = parse_args(argv)
    problem = _check_args(args)
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    try:
        base = Config.fromfile(args.config)
        if args.cfg_options:
            base.merge_from_dict(args.cfg_options)
        _, kind = find_train_dataset(base)
        metric = args.metric or default_metric(base, kind)
        runner = runner_from_args(
            args,
            train_step=TRAIN_STEP,
            test_step=TEST_STEP,
            required_keys=[metric, *args.report_metrics])
        runs, infos = plan_runs(args, base)
    except (ValueError, KeyError, FileNotFoundError) as e:
        text = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'error: {text}', file=sys.stderr)
        return 2
    os.makedirs(args.work_dir, exist_ok=True)
    runs_csv = osp.join(args.work_dir, 'data_efficiency_runs.csv')
    if args.dry_run:
        _write_csv(
            runs_csv,
            run_rows(runs, None, infos, metric, runner, args.report_metrics))
        print(f'{len(runs)} runs planned, listed in {runs_csv} (dry run)')
        return 0
    results = runner.run_all(runs)
    _write_csv(
        runs_csv,
        run_rows(runs, results, infos, metric, None, args.report_metrics))
    print(f'wrote {runs_csv}')
    table = write_summary(args, results, infos, metric)
    if table:
        print(table)
        print('wrote ' + ', '.join(
            osp.join(args.work_dir, f'data_efficiency.{ext}')
            for ext in ('csv', 'md', 'png')))
    failed = [r.run.name for r in results if not r.ok]
    if failed:
        print(
            f'error: failed runs, left out of the summary: {failed}; '
            'rerun with --skip-finished to redo only them',
            file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
