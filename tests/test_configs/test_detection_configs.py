"""Every detection config builds: its model runs a training step and a
prediction on a small stack, and its datasets load a sample through the
configured pipelines (data root pointed at a tiny synthetic DeepLesion)."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DETECTION_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'deeplesion', '*.py')))


def test_there_are_configs():
    names = {osp.basename(p) for p in DETECTION_CONFIGS}
    for required in (
            'faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py',
            'faster-rcnn_p3d63_fpn_8xb2-24e_deeplesion-9slice.py',
            'faster-rcnn_mp3d18ba-gtm_fpn_8xb2-24e_deeplesion-9slice.py',
            'faster-rcnn_r50_fpn_8xb2-24e_deeplesion-3slice.py',
            'faster-rcnn_3dce-r50_fpn_8xb2-24e_deeplesion-27slice.py',
            'retinanet_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py'):
        assert required in names


def _num_channels(cfg):
    """Slices x HU windows of the configured stack (the 2.5D contract)."""
    loader = cfg.train_dataloader.dataset.pipeline[0]
    assert loader['type'] == 'cspr_det.LoadDeepLesionSlices'
    return loader['num_slices'] * len(loader['windows'])


@pytest.mark.parametrize(
    'path', DETECTION_CONFIGS, ids=[osp.basename(p) for p in DETECTION_CONFIGS])
def test_model_builds_and_runs(path):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    assert 'cspr_det' in cfg.custom_imports['imports']
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    s = _num_channels(cfg)
    size = 64
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            pad_shape=(size, size),
            batch_input_shape=(size, size),
            scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 12., 30., 34.]]),
        labels=torch.tensor([0]))
    data = dict(inputs=[torch.rand(s, size, size) * 255], data_samples=[sample])
    data = model.data_preprocessor(data, True)
    assert data['inputs'].shape == (1, s, size, size)
    model.train()
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    model.eval()
    with torch.no_grad():
        pred = model(**data, mode='predict')
    assert len(pred) == 1
    assert pred[0].pred_instances.bboxes.shape[-1] == 4


@pytest.mark.parametrize(
    'path', DETECTION_CONFIGS, ids=[osp.basename(p) for p in DETECTION_CONFIGS])
def test_datasets_build_and_load(path, tiny_deeplesion):
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(path)
    init_default_scope('mmdet')
    s = _num_channels(cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds_cfg = cfg[key].dataset
        assert not osp.isabs(ds_cfg.data_root)  # no machine paths
        ds_cfg.data_root = tiny_deeplesion + '/'
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
        item = dataset[0]
        inputs = item['inputs']
        assert inputs.shape[0] == s
        if key != 'train_dataloader':
            meta = item['data_samples'].metainfo
            for k in ('instances', 'slice_interval', 'spacing', 'scale_factor'):
                assert k in meta
    metric = cfg.val_evaluator
    assert metric['type'] == 'cspr_det.DeepLesionFROCMetric'
