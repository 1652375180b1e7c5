"""tools/analysis_tools/benchmark_infer_ct.py on a tiny volume: figures are
reported, each PNG is decoded once, the fast path is taken."""
import json

from ct_fixtures import FAST_OPTIONS
from tool_loader import load_tool

bench = load_tool('tools/analysis_tools/benchmark_infer_ct.py')


def test_benchmark_reports_figures(tmp_path, capsys):
    out = str(tmp_path / 'figures.json')
    figures = bench.main([
        '--format', 'png', '--size', '64', '--slices', '3', '--batch-size',
        '2', '--out', out, '--work-dir',
        str(tmp_path), '--cfg-options'
    ] + [f'{k}={v}' for k, v in FAST_OPTIONS.items()])
    with open(out) as f:
        assert json.load(f) == figures
    assert figures['slices'] == 3 and figures['fast_path'] is True
    assert 0 < figures['non_model_share'] < 1
    assert figures['total_s'] >= figures['model_s'] + figures['prepare_s']
    assert abs(figures['slices_per_s'] - 3 / figures['total_s']) < 1e-9
    assert figures['decodes_per_file'] == 1.0
    assert 'outside the model' in capsys.readouterr().out
