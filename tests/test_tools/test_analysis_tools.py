"""Small analysis tools: the slice-ablation option builder and the FROC table
printer."""
import json
import os.path as osp

import pytest
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')


def test_slice_options_set_every_loader_and_the_backbone():
    from mmengine.config import Config
    mod = load_tool('tools/analysis_tools/slice_ablation.py')
    opts = mod.slice_options(DEMO, 3)
    assert 'model.backbone.num_slices=3' in opts
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(dict(o.split('=') for o in opts))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loaders = [t for t in cfg[key].dataset.pipeline
                   if t['type'] == 'cspr_det.LoadDeepLesionSlices']
        assert len(loaders) == 1 and int(loaders[0]['num_slices']) == 3
    assert int(cfg.model.backbone.num_slices) == 3


def test_print_froc(tmp_path, capsys):
    from cspr_det.evaluation.metrics.deeplesion_froc_metric import \
        DeepLesionFROCMetric
    import numpy as np
    metric = DeepLesionFROCMetric(out_dir=str(tmp_path), compute_ap50=False)
    inst = [dict(bbox=[10., 10., 30., 30.], lesion_type=4, noisy=0,
                 diameters=[15., 10.])]
    samples = [
        dict(img_id=i, img_path=f'{i}.png', instances=inst,
             slice_interval=5.0, spacing=[0.8, 0.8, 5.0],
             pred_instances=dict(
                 bboxes=np.array([[10., 10., 30., 30.], [60., 60., 70., 70.]]),
                 scores=np.array([0.9, 0.5]),
                 labels=np.array([0, 0]))) for i in range(2)
    ]
    metric.process({}, samples)
    res = metric.evaluate(2)
    assert res['deeplesion/sens@1'] == pytest.approx(1.0)
    mod = load_tool('tools/analysis_tools/print_froc.py')
    assert mod.main([str(tmp_path / 'froc.json')]) == 0
    out = capsys.readouterr().out
    assert 'DeepLesion FROC: 2 images, 2 lesions' in out
    assert 'sens@4' in out
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(a=1)))
    assert mod.main([str(bad)]) == 2
    assert mod.main([str(tmp_path / 'missing.json')]) == 2


def test_slice_ablation_runs_in_threads_and_reports_failures(
        tmp_path, monkeypatch, capsys):
    """Three parallel workers: options are built before the threads start
    (mmengine's Config parsing is not thread-safe), a failed run is named and
    left out of the table, the others are still reported."""
    mod = load_tool('tools/analysis_tools/slice_ablation.py')
    seen = {}

    def fake(config, opts, work_dir, threads=0, skip_finished=False):
        n = int(next(o for o in opts
                     if o.startswith('model.backbone.num_slices=')).split(
                         '=')[1])
        seed = int(next(o for o in opts
                        if o.startswith('randomness.seed=')).split('=')[1])
        seen[(n, seed)] = opts
        if (n, seed) == (3, 1):
            raise RuntimeError('training diverged')
        m = {f'sens@{r}': n / 10 for r in mod.RATES}
        m.update(mean_sens=n / 10 + seed / 100, ap50=0.5)
        return m

    monkeypatch.setattr(mod, 'train_and_test', fake)
    rc = mod.main([DEMO, '--slices', '1', '3', '9', '--seeds', '0', '1',
                   '--jobs', '3', '--work-dir', str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert '3 slice(s), seed 1 FAILED: training diverged' in err
    assert '(3, 1)' in err
    assert len(seen) == 6
    for (n, _), opts in seen.items():
        assert sum(o.endswith(f'num_slices={n}') for o in opts) == 4
    table = (tmp_path / 'slice_ablation.md').read_text()
    assert '| 9 | 2 | 0.900 ± 0.000' in table
    assert '| 3 | 1 | 0.300 |' in table
    rows = (tmp_path / 'slice_ablation.csv').read_text().splitlines()
    assert len(rows) == 1 + 5


def test_slice_ablation_skip_finished_reads_the_report(tmp_path):
    mod = load_tool('tools/analysis_tools/slice_ablation.py')
    (tmp_path / 'test').mkdir()
    metrics = {'mean_sens': 0.42, 'sens@4': 0.5}
    (tmp_path / 'test' / 'froc.json').write_text(
        json.dumps(dict(metrics=metrics)))
    got = mod.train_and_test(DEMO, [], str(tmp_path), skip_finished=True)
    assert got == metrics
