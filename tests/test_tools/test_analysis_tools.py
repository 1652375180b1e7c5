"""Small analysis tools: the slice-ablation option builder and the FROC table
printer."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')


def _load(rel):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(rel))[0], osp.join(REPO, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_slice_options_set_every_loader_and_the_backbone():
    from mmengine.config import Config
    mod = _load('tools/analysis_tools/slice_ablation.py')
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
    mod = _load('tools/analysis_tools/print_froc.py')
    assert mod.main([str(tmp_path / 'froc.json')]) == 0
    out = capsys.readouterr().out
    assert 'DeepLesion FROC: 2 images, 2 lesions' in out
    assert 'sens@4' in out
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(a=1)))
    assert mod.main([str(bad)]) == 2
    assert mod.main([str(tmp_path / 'missing.json')]) == 2
