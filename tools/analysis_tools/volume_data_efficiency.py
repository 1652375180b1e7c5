"""Data-efficiency study on 3D volume tasks: the test metric vs fraction
of training **patients**, from a pre-trained encoder and from scratch.

    python tools/analysis_tools/volume_data_efficiency.py CONFIG \\
        [--pretrained CKPT] [--fractions 0.1 0.2 0.4 0.6 1.0] \\
        [--budget epochs|iters] [--seeds 0 1 2] [--subset-seed 0] \\
        [--metric cls/auc] [--work-dir DIR] [--jobs J] [--skip-finished] \\
        [--dry-run] [--cfg-options k=v ...]

CONFIG trains on one of the volume datasets:

- LIDC nodules (``configs/classification/lidc/``,
  ``configs/segmentation/lidc/``; ``cspr_det.LIDCNoduleDataset``): a
  fraction keeps that share of the training patients of the
  (patient-disjoint) split with all their nodules
  (``patient_fraction=f``);
- LiTS / BTCV cases (``configs/segmentation/{lits,btcv}/``;
  ``cspr_det.LiTSDataset``, ``cspr_det.BTCVDataset``, one case per
  patient): a fraction keeps that share of the training cases
  (``case_fraction=f``).

One fixed random patient order per ``--subset-seed``
(:func:`cspr_det.utils.patient_subsets.choose_patients`), so smaller
fractions are subsets of larger ones; val and test stay whole.

Budgets (:mod:`cspr_det.utils.training_budget`). Epoch-based configs (the
classifiers): ``epochs`` (default) trains the config's epochs on every
subset, ``iters`` about the full run's iterations (epoch-valued schedule
entries scale with the epochs). Iteration-based configs (the segmentors,
infinite sampler) always train the config's iterations, i.e. the ``iters``
budget; asking ``--budget epochs`` of them is refused.

Every (fraction, init, seed) is one run of the shared
:class:`cspr_det.utils.study_runner.StudyRunner` (``tools/train.py``, then
``tools/test.py`` on the best-validation checkpoint): ``--pretrained``
initialises the encoder through ``cspr_det.PretrainedBackbone`` (prefix
``backbone.``), ``scratch`` leaves it random. The metric ``--metric``
(default ``cls/auc`` for classifiers, ``seg/mDice`` for segmentors) is read
from the **test** split (LIDC threshold statistics use a threshold chosen
on val). Outputs in ``--work-dir``: ``runs.csv``, ``summary.md`` (mean ±
population std over the seeds) and ``summary.png``.
"""
import argparse
import copy
import csv
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
INITS = ('pretrained', 'scratch')


def parse_args(argv=None):
    from mmengine.config import DictAction

    from cspr_det.utils.study_runner import add_runner_args
    from cspr_det.utils.training_budget import BUDGETS
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--pretrained', default=None,
                   help='checkpoint of the encoder (prefix backbone.)')
    p.add_argument('--no-scratch', action='store_true')
    p.add_argument('--fractions', type=float, nargs='+',
                   default=[0.1, 0.2, 0.4, 0.6, 1.0])
    p.add_argument('--budget', choices=BUDGETS, default=None,
                   help='epochs (default for epoch-based configs) or '
                   'iters (iteration-based configs: always)')
    p.add_argument('--subset-seed', type=int, default=0)
    p.add_argument('--metric', default=None,
                   help='test metric (default cls/auc or seg/mDice)')
    p.add_argument('--dry-run', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_runner_args(p, 'work_dirs/volume_data_efficiency')
    args = p.parse_args(argv)
    if any(not 0 < f <= 1 for f in args.fractions):
        p.error(f'--fractions must be in (0, 1], got {args.fractions}')
    return args


# training dataset class -> (fraction argument, its seed argument, what one
# sample is, the per-sample key that names its patient, extra build args)
_KINDS = {
    'LIDCNoduleDataset': ('patient_fraction', 'patient_fraction_seed',
                          'nodules', 'patient_id', dict(check_files=False)),
    'BaseVolumeSegDataset': ('case_fraction', 'case_fraction_seed', 'cases',
                             'case_id', {}),
}


def dataset_kind(ds_cfg) -> tuple:
    """The :data:`_KINDS` entry of a training dataset config; ValueError for
    a dataset the study does not know."""
    from cspr_det.registry import DATASETS
    cls = DATASETS.get(ds_cfg.get('type', ''))
    for klass in getattr(cls, '__mro__', ()):
        if klass.__name__ in _KINDS:
            return _KINDS[klass.__name__]
    raise ValueError(
        f'the config trains on {ds_cfg.get("type")!r}; the study needs '
        'cspr_det.LIDCNoduleDataset or a cspr_det.BaseVolumeSegDataset '
        '(cspr_det.LiTSDataset, cspr_det.BTCVDataset) as '
        'train_dataloader.dataset')


def _train_size(cfg) -> tuple:
    """(samples, patients) of the config's training dataset."""
    from cspr_det.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    *_, patient_key, extra = dataset_kind(ds_cfg)
    ds_cfg.update(pipeline=[], **extra)
    ds = DATASETS.build(ds_cfg)
    return len(ds), len({ds.get_data_info(i)[patient_key]
                         for i in range(len(ds))})


def plan_runs(args, base) -> tuple:
    """Write one config per (fraction, init, seed); the runs and one info
    dict per fraction."""
    from cspr_det.utils.study_runner import StudyRun
    from cspr_det.utils.training_budget import (budget_epochs,
                                                is_epoch_based,
                                                scale_epoch_schedule)
    fraction_key, seed_key, unit, _, _ = dataset_kind(
        base.train_dataloader.dataset)
    full, _ = _train_size(base)
    inits = [i for i in INITS if (i != 'pretrained' or args.pretrained)
             and (i != 'scratch' or not args.no_scratch)]
    runs, infos = [], []
    for fraction in sorted(args.fractions):
        cfg_f = copy.deepcopy(base)
        cfg_f.train_dataloader.dataset.update({
            fraction_key: fraction,
            seed_key: args.subset_seed
        })
        size, patients = _train_size(cfg_f)
        epochs = None
        if is_epoch_based(cfg_f):
            epochs = budget_epochs(int(base.train_cfg.max_epochs), full, size,
                                   args.budget)
            scale_epoch_schedule(cfg_f, epochs)
        infos.append(dict(fraction=fraction, samples=size, unit=unit,
                          patients=patients, epochs=epochs))
        print(f'fraction {fraction:g}: {patients} training patients, {size} '
              f'{unit}, ' + (f'{epochs} epochs' if epochs else
                             f'{base.train_cfg.max_iters} iterations'),
              flush=True)
        for init in inits:
            for seed in args.seeds:
                cfg = copy.deepcopy(cfg_f)
                cfg.model.backbone.init_cfg = None if init == 'scratch' else \
                    dict(type='cspr_det.PretrainedBackbone',
                         checkpoint=args.pretrained, prefix='backbone.')
                cfg.merge_from_dict({'randomness.seed': seed})
                run_dir = osp.abspath(osp.join(
                    args.work_dir, f'frac_{fraction:g}', f'{init}_seed{seed}'))
                cfg.work_dir = run_dir
                os.makedirs(osp.dirname(run_dir), exist_ok=True)
                cfg.dump(run_dir + '.py')
                runs.append(StudyRun(
                    name=f'frac{fraction:g}_{init}_seed{seed}',
                    config=run_dir + '.py', work_dir=run_dir,
                    factors=dict(fraction=fraction, init=init, seed=seed)))
    return runs, infos


def write_summary(args, results, infos, metric: str) -> str:
    """runs.csv, summary.md and summary.png; returns the markdown."""
    from cspr_det.utils.study_runner import aggregate, format_mean_std
    with open(osp.join(args.work_dir, 'runs.csv'), 'w', newline='',
              encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['fraction', 'init', 'seed', metric, 'error'])
        for r in results:
            value = r.metrics.get(metric, '') if r.ok else ''
            writer.writerow([r.run.factors['fraction'], r.run.factors['init'],
                             r.run.factors['seed'], value, r.error or ''])
    rows = aggregate(results, ('fraction', 'init'), [metric])
    inits = [i for i in INITS if any(r['init'] == i for r in rows)]
    lines = [f'{metric} on the test split ({args.budget} budget); mean ± '
             'population std over the training seeds', '',
             f'| patients (%) | patients | {infos[0]["unit"]} | ' +
             ' | '.join(inits) +
             ' |', '|---' * (3 + len(inits)) + '|']
    for info in infos:
        cells = [f'{info["fraction"] * 100:g}', str(info['patients']),
                 str(info['samples'])]
        for init in inits:
            sel = [r for r in rows
                   if r['fraction'] == info['fraction'] and r['init'] == init]
            cells.append(format_mean_std(sel[0][metric], sel[0][
                metric + '_std'], sel[0]['n']) if sel else 'failed')
        lines.append('| ' + ' | '.join(cells) + ' |')
    text = '\n'.join(lines) + '\n'
    with open(osp.join(args.work_dir, 'summary.md'), 'w',
              encoding='utf-8') as f:
        f.write(text)
    _plot(rows, inits, metric, osp.join(args.work_dir, 'summary.png'))
    return text


def _plot(rows, inits, metric: str, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for init in inits:
        sel = sorted((r for r in rows if r['init'] == init),
                     key=lambda r: r['fraction'])
        x = [100 * r['fraction'] for r in sel]
        ax.errorbar(x, [r[metric] for r in sel],
                    yerr=[r[metric + '_std'] for r in sel], marker='o',
                    capsize=3, label=init)
    ax.set_xlabel('training patients (%)')
    ax.set_ylabel(f'test {metric}')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config

    import cspr_det  # noqa: F401
    from cspr_det.utils.study_runner import runner_from_args
    base = Config.fromfile(args.config)
    if args.cfg_options:
        base.merge_from_dict(args.cfg_options)
    try:
        dataset_kind(base.train_dataloader.dataset)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    from cspr_det.utils.training_budget import is_epoch_based
    if args.budget is None:
        args.budget = 'epochs' if is_epoch_based(base) else 'iters'
    elif args.budget == 'epochs' and not is_epoch_based(base):
        print('error: --budget epochs needs an epoch-based config; '
              f'{args.config} trains a fixed number of iterations (the '
              'iters budget)', file=sys.stderr)
        return 1
    if args.pretrained and not osp.isfile(args.pretrained):
        print(f'error: --pretrained not found: {args.pretrained}',
              file=sys.stderr)
        return 1
    seg = base.model.type == 'cspr_det.VolumeSegmentor'
    metric = args.metric or ('seg/mDice' if seg else 'cls/auc')
    os.makedirs(args.work_dir, exist_ok=True)
    runs, infos = plan_runs(args, base)
    if args.dry_run:
        print(f'{len(runs)} runs planned in {args.work_dir} (dry run)')
        return 0
    runner = runner_from_args(
        args, osp.join(REPO, 'tools', 'train.py'),
        osp.join(REPO, 'tools', 'test.py'), required_keys=[metric],
        cwd=os.getcwd())
    results = runner.run_all(runs)
    print(write_summary(args, results, infos, metric))
    failed = [r for r in results if not r.ok]
    return 1 if failed and len(failed) == len(results) else 0


if __name__ == '__main__':
    sys.exit(main())
