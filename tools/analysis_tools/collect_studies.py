"""Gather the runs of several data-efficiency study work dirs into one table.

    python tools/analysis_tools/collect_studies.py ROOT [ROOT ...] \\
        [--val-curve seg/mDice] [--out table.md] [--csv table.csv]

Every folder under a ``ROOT`` that holds ``data_efficiency_runs.csv``
(written by ``tools/analysis_tools/data_efficiency.py``) is one *cell*,
named by its path relative to the root (e.g. ``lits/no_stem``). For every
(cell, fraction, initialisation) the table gives the runs that finished,
their seeds, and per metric column of the run table (``value``, the
study's ``--metric``, and every ``--report-metrics`` column) the mean ±
population standard deviation and the values in seed order (the value
alone for a single run). ``--val-curve KEY`` adds the validation value of
``KEY`` at every validation point (iteration or epoch), averaged over the
finished seeds: how fast each arm gets there, beside where it ends. Failed or
planned runs are counted, not averaged.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List

import numpy as np
from mmengine.config import Config

from cspr_det.cli.study_runner import format_mean_std, mean_std

RUNS_FILE = 'data_efficiency_runs.csv'
# run-table columns that are not metrics
FIXED = ('fraction', 'init', 'seed', 'status', 'metric', 'epochs',
         'train_samples', 'unit', 'iters_per_epoch', 'total_iters', 'patients',
         'patients_total', 'checkpoint', 'work_dir', 'error', 'command')


def find_cells(root: str) -> List[str]:
    """Folders under ``root`` (itself included) with a run table, sorted."""
    found = []
    for here, _, files in os.walk(root):
        if RUNS_FILE in files:
            found.append(here)
    return sorted(found)


def read_runs(cell_dir: str) -> List[Dict[str, str]]:
    with open(
            osp.join(cell_dir, RUNS_FILE), newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def summarize_cell(name: str,
                   runs: List[Dict[str, str]]) -> List[Dict[str, object]]:
    """One row per (fraction, init) of one cell.

    Args:
        name: Cell name.
        runs: Rows of its run table; the ``value`` column is shown under
            the name in its ``metric`` column (the study's ``--metric``).
    """
    rows = []
    groups: Dict[tuple, List[Dict[str, str]]] = {}
    for run in runs:
        groups.setdefault((float(run['fraction']), run['init']),
                          []).append(run)
    for (fraction, init), members in sorted(groups.items()):
        ok = sorted((r for r in members if r['status'] == 'ok'),
                    key=lambda r: int(r['seed']))
        metrics = [
            k for k in members[0] if k not in FIXED and any(r[k] for r in ok)
        ]
        row: Dict[str, object] = dict(
            cell=name,
            fraction=fraction,
            init=init,
            n=len(ok),
            not_ok=len(members) - len(ok),
            seeds=' '.join(r['seed'] for r in ok))
        for key in metrics:
            values = [float(r[key]) for r in ok]
            label = members[0].get('metric') or 'value' \
                if key == 'value' else key
            row[f'{label} mean'], row[f'{label} std'] = mean_std(values)
            row[f'{label} values'] = ' '.join(f'{v:.4g}' for v in values)
        rows.append(row)
    return rows


def validation_curve(work_dir: str, key: str) -> Dict[int, float]:
    """``{iteration or epoch: value}`` of one validation metric of one run,
    read from the newest ``<timestamp>/vis_data/scalars.json`` of its work
    dir. Epoch-based runs log the epoch as the step; iteration-based runs
    log no useful step, so point ``i`` is put at ``i * val_interval`` read
    from the run's config (``<work_dir>.py``)."""
    logs = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not logs:
        return {}
    values, steps = [], []
    with open(logs[-1], encoding='utf-8') as f:
        for line in f:
            entry = json.loads(line)
            if key in entry:
                values.append(float(entry[key]))
                steps.append(int(entry.get('step', 0)))
    cfg_path = work_dir.rstrip('/') + '.py'
    if values and osp.isfile(cfg_path):
        train_cfg = Config.fromfile(cfg_path).train_cfg
        if train_cfg.get('type') == 'IterBasedTrainLoop':
            interval = int(train_cfg.get('val_interval', 1))
            steps = [interval * (i + 1) for i in range(len(values))]
    return dict(zip(steps, values))


def add_curves(rows: List[Dict[str, object]], runs_by_cell: Dict[str, list],
               key: str) -> None:
    """Add ``'<key> at <step>'`` means over the finished seeds to each row."""
    for row in rows:
        curves = [
            validation_curve(r['work_dir'], key)
            for r in runs_by_cell[row['cell']]
            if r['status'] == 'ok' and float(r['fraction']) == row['fraction']
            and r['init'] == row['init']
        ]
        steps = sorted(set().union(*curves)) if curves else []
        for step in steps:
            got = [c[step] for c in curves if step in c]
            row[f'val {key} at {step}'] = float(np.mean(got))


def markdown(rows: List[Dict[str, object]]) -> str:
    """The rows as one markdown table (mean ± std (values))."""
    metrics: List[str] = []
    for row in rows:
        for key in row:
            if key.endswith(' mean') and key[:-5] not in metrics:
                metrics.append(key[:-5])
    curve_keys: List[str] = []
    for row in rows:
        curve_keys += [
            k for k in row if k.startswith('val ') and k not in curve_keys
        ]
    head = ['cell', 'patients (%)', 'init', 'seeds'] + metrics + curve_keys
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in rows:
        cells = [
            str(row['cell']), f'{row["fraction"] * 100:g}',
            str(row['init']), f'{row["seeds"]}' +
            (f' ({row["not_ok"]} not finished)' if row['not_ok'] else '')
        ]
        for m in metrics:
            if f'{m} mean' not in row:
                cells.append('-')
                continue
            text = format_mean_std(row[m + ' mean'], row[m + ' std'], row['n'],
                                   1 if 'HD95' in m else 3)
            # the values only where there is a spread to show
            cells.append(text +
                         (f' ({row[m + " values"]})' if row['n'] > 1 else ''))
        for k in curve_keys:
            cells.append(f'{row[k]:.{1 if "HD95" in k else 3}f}' if k in
                         row else '-')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='One table of the runs of several study work dirs')
    parser.add_argument('roots', nargs='+', help='study work dirs or roots')
    parser.add_argument(
        '--val-curve',
        metavar='KEY',
        help='also the validation KEY (e.g. seg/mDice) at every validation '
        'point, mean over the finished seeds')
    parser.add_argument('--out', help='write the markdown table here')
    parser.add_argument('--csv', help='write the rows as CSV here')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    rows, runs_by_cell = [], {}
    for root in args.roots:
        if not osp.isdir(root):
            print(f'error: not a folder: {root}', file=sys.stderr)
            return 2
        cells = find_cells(root)
        if not cells:
            print(f'error: no {RUNS_FILE} under {root}', file=sys.stderr)
            return 2
        for cell in cells:
            name = osp.relpath(cell, root)
            name = osp.basename(osp.abspath(root)) if name == '.' else name
            runs_by_cell[name] = read_runs(cell)
            rows += summarize_cell(name, runs_by_cell[name])
    if args.val_curve:
        add_curves(rows, runs_by_cell, args.val_curve)
    table = markdown(rows)
    print(table)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(table + '\n')
    if args.csv:
        keys: List[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys]
        with open(args.csv, 'w', newline='', encoding='utf-8') as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
