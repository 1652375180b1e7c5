"""One table of several study cells (tools/analysis_tools/collect_studies)."""
import csv

import numpy as np
import pytest

from tool_loader import load_tool

collect = load_tool('tools/analysis_tools/collect_studies.py')
HEAD = [
    'fraction', 'init', 'seed', 'status', 'metric', 'value', 'seg/mHD95',
    'epochs', 'train_samples', 'unit', 'iters_per_epoch', 'total_iters',
    'patients', 'patients_total', 'checkpoint', 'work_dir', 'error'
]


def _cell(path, rows):
    path.mkdir(parents=True)
    with open(path / 'data_efficiency_runs.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(HEAD)
        for fraction, init, seed, status, value, hd in rows:
            w.writerow([
                fraction, init, seed, status, 'seg/mDice', value, hd, '', 2,
                'cases', '', 300, 2, 18, '', '', ''
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
