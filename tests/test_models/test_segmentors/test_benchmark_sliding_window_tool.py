"""tools/analysis_tools/benchmark_sliding_window.py on a tiny volume,
measured in-process (the script runs each method in a spawned process)."""
import json

import numpy as np
import pytest

from tests.tool_loader import load_tool

bench = load_tool('tools/analysis_tools/benchmark_sliding_window.py')


def _spec(method, tmp_path):
    return dict(
        method=method,
        size=[16, 16, 28],
        window=[16, 16, 16],
        stride=[8, 8, 8],
        sw_batch_size=2,
        num_classes=3,
        base_channels=4,
        repeat=1,
        device='cpu',
        threads=0,
        out=str(tmp_path / f'{method}.npy'))


def test_measure_outputs_and_checks(tmp_path, capsys):
    methods = ['cspr_det', 'cspr_det-labels']
    try:
        import monai  # noqa: F401
        methods.append('monai')
    except ImportError:
        pass
    res = {m: bench._measure(_spec(m, tmp_path)) for m in methods}
    logits = np.load(res['cspr_det']['out'])
    labels = np.load(res['cspr_det-labels']['out'])
    assert logits.shape == (1, 3, 16, 16, 28)
    assert labels.shape == (1, 16, 16, 28)
    assert res['cspr_det']['windows'] == 3
    assert res['cspr_det']['seconds'] > 0
    assert res['cspr_det']['cpu_seconds'] > 0
    assert bench.label_agreement(res['cspr_det-labels']['out'],
                                 res['cspr_det']['out']) == 1.0
    assert bench.max_abs_diff(res['cspr_det']['out'],
                              res['cspr_det']['out']) == 0.0
    if 'monai' in res:
        assert bench.max_abs_diff(res['cspr_det']['out'],
                                  res['monai']['out']) < 1e-5
        res['cspr_det']['max_abs_diff'] = 0.0
        for key in ('time_ratio', 'cpu_time_ratio', 'memory_ratio'):
            res['cspr_det'][key] = 1.0
    bench._print_table(
        dict(
            device='cpu',
            torch='x',
            threads=1,
            size=[16, 16, 28],
            window=[16, 16, 16],
            stride=[8, 8, 8],
            sw_batch_size=2,
            base_channels=4,
            num_classes=3), res)
    out = capsys.readouterr().out
    assert 'cspr_det-labels' in out and 'windows' in out
    json.dumps({m: {k: v for k, v in r.items()} for m, r in res.items()})


def test_std_unet_widths_scale():
    model = bench.build_std_unet(8, 4)
    assert model.backbone.out_channels == [8, 8, 16, 32, 64]
    assert model.decode_head.conv_seg.out_channels == 4
    assert model.decode_head.channels == 2


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        bench.parse_args(['--size', '16', '512', '512'])
    with pytest.raises(SystemExit):
        bench.parse_args(['--stride', '40', '128', '128'])
    args = bench.parse_args([])
    assert args.size == [200, 512, 512] and args.window == [32, 256, 256]
    assert args.stride == [12, 128, 128] and args.base_channels == 64
