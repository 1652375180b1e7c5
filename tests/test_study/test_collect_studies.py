"""One table of several study cells (tools/analysis_tools/collect_studies)."""
import csv
import json

import numpy as np
import pytest

from tool_loader import load_tool

collect = load_tool('tools/analysis_tools/collect_studies.py')
HEAD = [
    'fraction', 'init', 'seed', 'status', 'metric', 'value', 'seg/mHD95',
    'epochs', 'train_samples', 'unit', 'iters_per_epoch', 'total_iters',
    'patients', 'patients_total', 'checkpoint', 'work_dir', 'error'
]


def _cell(path, rows, work_dirs=False):
    path.mkdir(parents=True, exist_ok=True)
    with open(path / 'data_efficiency_runs.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(HEAD)
        for fraction, init, seed, status, value, hd in rows:
            run = path / f'frac_{fraction:g}' / f'{init}_seed{seed}'
            w.writerow([
                fraction, init, seed, status, 'seg/mDice', value, hd, '', 2,
                'cases', '', 300, 2, 18, '',
                str(run) if work_dirs else '', ''
            ])


def test_cells_are_summarised_per_init_with_spread_and_values(tmp_path):
    root = tmp_path / 'study'
    _cell(root / 'lits' / 'base', [
        (0.1, 'pretrained', 2, 'ok', 0.8, 30.0),
        (0.1, 'pretrained', 0, 'ok', 0.9, 10.0),
        (0.1, 'pretrained', 1, 'failed', '', ''),
        (0.1, 'scratch', 0, 'ok', 0.7, 20.0),
    ])
    _cell(root / 'lits' / 'no_stem',
          [(0.1, 'pretrained', 0, 'ok', 0.85, 12.5)])
    out = tmp_path / 't.md'
    assert collect.main(
        [str(root), '--out',
         str(out), '--csv',
         str(tmp_path / 't.csv')]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == ('| cell | patients (%) | init | seeds | seg/mDice | '
                        'seg/mHD95 |')
    std = np.std([0.9, 0.8])
    assert lines[2] == (f'| lits/base | 10 | pretrained | 0 2 (1 not '
                        f'finished) | 0.850 ± {std:.3f} (0.9 0.8) | '
                        '20.0 ± 10.0 (10 30) |')
    assert lines[3] == '| lits/base | 10 | scratch | 0 | 0.700 | 20.0 |'
    assert lines[4] == '| lits/no_stem | 10 | pretrained | 0 | 0.850 | 12.5 |'
    with open(tmp_path / 't.csv') as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]['seg/mDice mean']) == pytest.approx(0.85)
    assert rows[0]['n'] == '2'


def test_a_root_without_studies_is_named(tmp_path, capsys):
    assert collect.main([str(tmp_path)]) == 2
    assert 'no data_efficiency_runs.csv under' in capsys.readouterr().err


def test_validation_curves_are_averaged_per_point(tmp_path):
    """Iteration-based runs log step 0 for validation: points are placed at
    multiples of the config's val_interval; epoch-based ones keep the
    logged epoch."""
    root = tmp_path / 'study'
    runs = []
    for seed, values in ((0, (0.5, 0.7)), (1, (0.7, 0.9))):
        run = root / 'cell' / 'frac_0.1' / f'pretrained_seed{seed}'
        (run / '20261207_000000' / 'vis_data').mkdir(parents=True)
        lines = [dict(loss=1.0, step=10)
                 ] + [dict(**{'seg/mDice': v}, step=0) for v in values]
        (run / '20261207_000000' / 'vis_data' / 'scalars.json').write_text(
            '\n'.join(json.dumps(x) for x in lines))
        (tmp_path / 'study' / 'cell' / 'frac_0.1' /
         f'pretrained_seed{seed}.py').write_text(
             "train_cfg = dict(type='IterBasedTrainLoop', val_interval=50)\n")
        runs.append((0.1, 'pretrained', seed, 'ok', values[-1], 1.0))
    _cell(root / 'cell', runs, work_dirs=True)
    assert collect.validation_curve(
        str(root / 'cell' / 'frac_0.1' / 'pretrained_seed0'), 'seg/mDice') == {
            50: 0.5,
            100: 0.7
        }
    out = tmp_path / 't.md'
    assert collect.main(
        [str(root), '--val-curve', 'seg/mDice', '--out',
         str(out)]) == 0
    head, _, row = out.read_text().splitlines()
    assert head.endswith('| val seg/mDice at 50 | val seg/mDice at 100 |')
    assert row.endswith('| 0.600 | 0.800 |')
