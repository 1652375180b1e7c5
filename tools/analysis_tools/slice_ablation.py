"""3D-context ablation: train and test one detection config with different
numbers of input slices (e.g. 1, 3, 9) and tabulate the FROC.

Every run uses the same config, schedule and seed; only the slice loader's
``num_slices`` (train/val/test) and the backbone's ``num_slices`` change. Each
run goes through the shared :class:`cspr_det.cli.study_runner.StudyRunner`
(also used by ``data_efficiency.py``): training, then the test of its best
checkpoint (best mean sensitivity on the validation split), scored on the
test split, in subprocesses, ``--jobs`` at a time, optionally under
``torchrun`` (``--launcher pytorch --gpus N``).
Failed runs are named and left out of the table; ``--skip-finished`` reads
back runs that already have a result. The table gives the mean ± population
std over ``--seeds``.

Example (synthetic DeepLesion, 2 CPU cores):
    python tools/analysis_tools/slice_ablation.py \\
        configs/deeplesion/\\
faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py \\
        --slices 1 3 9 --seeds 0 --work-dir work_dirs/slice_ablation
"""
import argparse
import csv
import os
import os.path as osp
import sys
from typing import List

from cspr_det.cli.study_runner import (TEST_STEP, TRAIN_STEP, StudyRun,
                                       add_runner_args, aggregate,
                                       format_mean_std, runner_from_args)

RATES = ('0.5', '1', '2', '4', '8', '16')
PREFIX = 'deeplesion/'


def slice_options(config: str, num_slices: int) -> List[str]:
    """``--cfg-options`` entries setting ``num_slices`` everywhere."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    opts = [f'model.backbone.num_slices={num_slices}']
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[key].dataset.pipeline
        idx = [
            i for i, t in enumerate(pipeline)
            if str(t.get('type', '')).endswith('LoadDeepLesionSlices')
        ]
        if len(idx) != 1:
            raise ValueError(f'{key} of {config} needs exactly one '
                             'cspr_det.LoadDeepLesionSlices transform')
        opts.append(f'{key}.dataset.pipeline.{idx[0]}.num_slices={num_slices}')
    return opts


def table(results, slices) -> str:
    """Markdown table: per slice count, mean ± std over the seeds of every
    FROC rate, the mean sensitivity (0.5-4) and AP50."""
    keys = [f'{PREFIX}sens@{r}'
            for r in RATES] + [f'{PREFIX}mean_sens', f'{PREFIX}ap50']
    rows = {r['slices']: r for r in aggregate(results, ('slices', ), keys)}
    lines = [
        '| slices | seeds | ' + ' | '.join(f'sens@{r}' for r in RATES) +
        ' | mean (0.5-4) | AP50 |', '|---' * (len(RATES) + 4) + '|'
    ]
    for s in slices:
        row = rows.get(s)
        if row is None:
            continue
        lines.append(f'| {s} | {row["n"]} | ' + ' | '.join(
            format_mean_std(row[k], row[k + '_std'], row['n'])
            for k in keys) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--slices', type=int, nargs='+', default=[1, 3, 9])
    add_runner_args(parser, default_work_dir='work_dirs/slice_ablation')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra key=value overrides for every run')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config file not found: {args.config}', file=sys.stderr)
        return 2
    # mmengine's Config parsing is not thread-safe: build every run's
    # options here, before any worker thread starts
    try:
        runner = runner_from_args(
            args,
            train_step=TRAIN_STEP,
            test_step=TEST_STEP,
            required_keys=[f'{PREFIX}sens@{r}'
                           for r in RATES] + [f'{PREFIX}mean_sens'])
        slice_opts = {s: slice_options(args.config, s) for s in args.slices}
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    runs = [
        StudyRun(
            name=f'{s}slice_seed{seed}',
            config=args.config,
            work_dir=osp.abspath(
                osp.join(args.work_dir, f'{s}slice_seed{seed}')),
            cfg_options=slice_opts[s] + [f'randomness.seed={seed}'] +
            list(args.cfg_options),
            factors=dict(slices=s, seed=seed)) for s in args.slices
        for seed in args.seeds
    ]
    results = runner.run_all(runs)
    ok = [r for r in results if r.ok]
    failed = [r.run.name for r in results if not r.ok]
    if not ok:
        print('error: every run failed', file=sys.stderr)
        return 1
    os.makedirs(args.work_dir, exist_ok=True)
    csv_path = osp.join(args.work_dir, 'slice_ablation.csv')
    with open(csv_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['slices', 'seed', 'mean_sens', 'ap50'] +
                        [f'sens@{r}' for r in RATES])
        for r in ok:
            m = r.metrics
            writer.writerow([
                r.run.factors['slices'], r.run.factors['seed'],
                m[f'{PREFIX}mean_sens'],
                m.get(f'{PREFIX}ap50', float('nan'))
            ] + [m[f'{PREFIX}sens@{rate}'] for rate in RATES])
    text = table(results, args.slices)
    with open(
            osp.join(args.work_dir, 'slice_ablation.md'), 'w',
            encoding='utf-8') as f:
        f.write(text + '\n')
    print(text)
    print(f'[ablation] wrote {csv_path}')
    if failed:
        print(
            f'error: failed runs, left out of the table: {failed}; rerun '
            'with --skip-finished to redo only them',
            file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
