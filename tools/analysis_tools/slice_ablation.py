"""3D-context ablation: train and test one detection config with different
numbers of input slices (e.g. 1, 3, 9) and tabulate the FROC.

Every run uses the same config, schedule and seed; only the slice loader's
``num_slices`` (train/val/test) and the backbone's ``num_slices`` change. Each
run is ``tools/train.py`` followed by ``tools/test.py`` on its best checkpoint
(best mean sensitivity on the validation split), in subprocesses.

Example (synthetic DeepLesion, 2 CPU cores):
    python tools/analysis_tools/slice_ablation.py \
        configs/deeplesion/faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py \
        --slices 1 3 9 --seeds 0 --work-dir work_dirs/slice_ablation
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

RATES = ('0.5', '1', '2', '4', '8', '16')


def slice_options(config: str, num_slices: int) -> List[str]:
    """``--cfg-options`` entries setting ``num_slices`` everywhere."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    opts = [f'model.backbone.num_slices={num_slices}']
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[key].dataset.pipeline
        idx = [i for i, t in enumerate(pipeline)
               if str(t.get('type', '')).endswith('LoadDeepLesionSlices')]
        if len(idx) != 1:
            raise ValueError(f'{key} of {config} needs exactly one '
                             'cspr_det.LoadDeepLesionSlices transform')
        opts.append(f'{key}.dataset.pipeline.{idx[0]}.num_slices={num_slices}')
    return opts


def run(cmd: List[str], log_path: str, env: Dict = None) -> None:
    with open(log_path, 'w') as log:
        proc = subprocess.run(cmd, cwd=REPO, stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'command failed ({proc.returncode}), see {log_path}: '
                           + ' '.join(cmd))


def train_and_test(config: str, opts: List[str], work_dir: str,
                   threads: int = 0, skip_finished: bool = False) -> Dict:
    """Train ``config`` with ``--cfg-options opts`` into ``work_dir``, test
    its best checkpoint and return the FROC metrics of the test split.

    With ``skip_finished`` a run whose ``test/froc.json`` exists is read
    back instead of trained again.
    """
    os.makedirs(work_dir, exist_ok=True)
    report_path = osp.join(work_dir, 'test', 'froc.json')
    if skip_finished and osp.isfile(report_path):
        with open(report_path) as f:
            return json.load(f)['metrics']
    py = sys.executable
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    run([py, 'tools/train.py', config, '--work-dir', work_dir,
         '--cfg-options'] + opts, osp.join(work_dir, 'train_stdout.log'), env)
    best = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')))
    if not best:
        raise RuntimeError(f'no best checkpoint in {work_dir}')
    test_dir = osp.join(work_dir, 'test')
    run([py, 'tools/test.py', config, best[-1], '--work-dir', test_dir,
         '--cfg-options'] + opts, osp.join(work_dir, 'test_stdout.log'), env)
    with open(osp.join(test_dir, 'froc.json')) as f:
        report = json.load(f)
    return report['metrics']


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--slices', type=int, nargs='+', default=[1, 3, 9])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-dir', default='work_dirs/slice_ablation')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra key=value overrides for every run')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs in parallel (each gets cores/jobs threads)')
    parser.add_argument('--skip-finished', action='store_true',
                        help='read back runs whose test/froc.json exists '
                        'instead of training them again')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config file not found: {args.config}', file=sys.stderr)
        return 2
    # mmengine's Config parsing is not thread-safe: build every run's
    # options here, before any worker thread starts
    try:
        slice_opts = {s: slice_options(args.config, s) for s in args.slices}
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    jobs = [(s, seed) for s in args.slices for seed in args.seeds]
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else 0

    def one(job):
        s, seed = job
        wd = osp.join(args.work_dir, f'{s}slice_seed{seed}')
        print(f'[ablation] {s} slice(s), seed {seed} -> {wd}', flush=True)
        opts = slice_opts[s] + [f'randomness.seed={seed}'] + args.cfg_options
        try:
            m = train_and_test(args.config, opts, wd, threads,
                               args.skip_finished)
        except Exception as e:  # keep the other runs going
            print(f'[ablation] {s} slice(s), seed {seed} FAILED: {e}',
                  file=sys.stderr, flush=True)
            return None
        row = dict(slices=s, seed=seed,
                   mean_sens=m['mean_sens'], ap50=m.get('ap50', float('nan')))
        row.update({f'sens@{r}': m[f'sens@{r}'] for r in RATES})
        print(f'[ablation] {s} slice(s), seed {seed}: mean sens (0.5-4) '
              f'{row["mean_sens"]:.4f}', flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, jobs))
    rows = [r for r in results if r is not None]
    failed = [job for job, r in zip(jobs, results) if r is None]
    if not rows:
        print('error: every run failed', file=sys.stderr)
        return 1
    os.makedirs(args.work_dir, exist_ok=True)
    csv_path = osp.join(args.work_dir, 'slice_ablation.csv')
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ['| slices | seeds | ' + ' | '.join(f'sens@{r}' for r in RATES) +
             ' | mean (0.5-4) | AP50 |',
             '|---' * (len(RATES) + 4) + '|']
    for s in args.slices:
        sel = [r for r in rows if r['slices'] == s]
        if not sel:
            continue

        def fmt(key):
            v = np.array([r[key] for r in sel], float)
            return f'{v.mean():.3f}' + (f' ± {v.std():.3f}' if len(v) > 1 else '')
        lines.append(f'| {s} | {len(sel)} | ' +
                     ' | '.join(fmt(f'sens@{r}') for r in RATES) +
                     f' | {fmt("mean_sens")} | {fmt("ap50")} |')
    table = '\n'.join(lines)
    with open(osp.join(args.work_dir, 'slice_ablation.md'), 'w') as f:
        f.write(table + '\n')
    print(table)
    print(f'[ablation] wrote {csv_path}')
    if failed:
        print('error: failed runs (slices, seed), left out of the table: '
              f'{failed}; rerun with --skip-finished to redo only them',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
