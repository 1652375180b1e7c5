"""The loader benchmark tool runs end to end on a tiny synthetic set."""

from tool_loader import load_tool


def test_benchmark_loader_tool(tmp_path, capsys):
    mod = load_tool('tools/analysis_tools/benchmark_loader.py')
    rc = mod.main([
        '--data-root',
        str(tmp_path), '--num-patients', '1', '--image-size', '48', '--repeat',
        '1'
    ])
    assert rc == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln}
    # 1 mm series at 2.5 mm: 13 PNGs per 9-slice stack; 5 mm: 5 PNGs
    assert lines['1mm'][-1] == '13.0'
    assert lines['5mm'][-1] == '5.0'
    assert '(48, 48, 9)' in out
