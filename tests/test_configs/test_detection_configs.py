"""Every detection config builds: its model runs a training step and a
prediction on a small stack, and its datasets load a sample through the
configured pipelines (data root pointed at a tiny synthetic DeepLesion)."""
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DETECTION_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'deeplesion', '*.py')))
# "--cfg-options model.backbone.init_cfg.checkpoint=PATH" in a config's header
DOCUMENTED_OVERRIDE = re.compile(r'--cfg-options\s+([\w.]+)=PATH')
IMAGENET_CONFIGS = [
    osp.join(REPO, 'configs', 'deeplesion', name)
    for name in ('faster-rcnn_r50_fpn_8xb2-24e_deeplesion-3slice.py',
                 'faster-rcnn_3dce-r50_fpn_8xb2-24e_deeplesion-27slice.py')
]


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


def _spy_inputs(module, store, name):
    """Record the first positional argument of each ``module`` call."""
    module.register_forward_pre_hook(
        lambda _, args: store.__setitem__(name, args[0]))


def _check_level_wiring(feats, strides, channels, size):
    """One map per configured stride, at that stride, of the head's width."""
    assert len(feats) == len(strides)
    for feat, stride in zip(feats, strides):
        side = math.ceil(size / stride)
        assert tuple(feat.shape) == (1, channels, side, side), (stride,
                                                                feat.shape)


def _num_channels(cfg):
    """Slices x HU windows of the configured stack (the 2.5D contract)."""
    loader = cfg.train_dataloader.dataset.pipeline[0]
    assert loader['type'] == 'cspr_det.LoadDeepLesionSlices'
    return loader['num_slices'] * len(loader['windows'])


@pytest.mark.parametrize(
    'path',
    DETECTION_CONFIGS,
    ids=[osp.basename(p) for p in DETECTION_CONFIGS])
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
        bboxes=torch.tensor([[10., 12., 30., 34.]]), labels=torch.tensor([0]))
    data = dict(
        inputs=[torch.rand(s, size, size) * 255], data_samples=[sample])
    data = model.data_preprocessor(data, True)
    assert data['inputs'].shape == (1, s, size, size)
    seen = {}
    dense_head = model.rpn_head if getattr(model, 'with_rpn', False) \
        else model.bbox_head
    _spy_inputs(dense_head, seen, 'dense')
    roi_extractor = getattr(
        getattr(model, 'roi_head', None), 'bbox_roi_extractor', None)
    if roi_extractor is not None:
        _spy_inputs(roi_extractor, seen, 'roi')
    model.train()
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    # wiring: the RPN (or one-stage head) gets one map per anchor stride, at
    # that stride and of its input width; the RoI extractor gets one map per
    # featmap stride
    _check_level_wiring(seen['dense'],
                        [s[0] for s in dense_head.prior_generator.strides],
                        dense_head.in_channels, size)
    if roi_extractor is not None:
        _check_level_wiring(seen['roi'], roi_extractor.featmap_strides,
                            roi_extractor.out_channels, size)
    model.eval()
    with torch.no_grad():
        pred = model(**data, mode='predict')
    assert len(pred) == 1
    assert pred[0].pred_instances.bboxes.shape[-1] == 4


@pytest.mark.parametrize(
    'path',
    DETECTION_CONFIGS,
    ids=[osp.basename(p) for p in DETECTION_CONFIGS])
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
            for k in ('instances', 'slice_interval', 'spacing',
                      'scale_factor'):
                assert k in meta
    metric = cfg.val_evaluator
    assert metric['type'] == 'cspr_det.DeepLesionFROCMetric'


@pytest.mark.parametrize(
    'path', [
        p for p in DETECTION_CONFIGS
        if DOCUMENTED_OVERRIDE.search(open(p).read())
    ],
    ids=lambda p: osp.basename(p))
def test_documented_overrides_merge(path, monkeypatch):
    """Every ``--cfg-options KEY=PATH`` a config documents merges through
    tools/train.py's option parsing, keeping the rest of the dict."""
    from cspr_det.cli.train_test import load_config
    monkeypatch.setenv('LOCAL_RANK', '0')
    train = load_tool('tools/train.py')
    plain = Config.fromfile(path)
    for key in DOCUMENTED_OVERRIDE.findall(open(path).read()):
        args = train.parse_args(
            [path, '--cfg-options', f'{key}=checkpoints/local.pth'])
        cfg = load_config(args)
        *parents, leaf = key.split('.')
        merged, before = cfg, plain
        for part in parents:
            merged, before = merged[part], before[part]
        assert leaf in before  # the documented key exists in the config
        assert merged[leaf] == 'checkpoints/local.pth'
        assert {k: v for k, v in merged.items() if k != leaf} == \
            {k: v for k, v in before.items() if k != leaf}


@pytest.mark.parametrize(
    'path', IMAGENET_CONFIGS, ids=[osp.basename(p) for p in IMAGENET_CONFIGS])
def test_imagenet_backbone_loads_a_local_torchvision_file(path, tmp_path):
    """The ImageNet ResNet-50 pointed at a local torchvision-layout file
    (the documented override) takes its weights from it; no download."""
    from mmdet.registry import MODELS
    cfg = Config.fromfile(path)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'resnet50.pth')
    backbone = MODELS.build(cfg.model.backbone)
    weights = {
        k: v + 1 if v.is_floating_point() else v
        for k, v in backbone.state_dict().items()
    }
    weights.update({
        'fc.weight': torch.zeros(1000, 2048),
        'fc.bias': torch.zeros(1000)
    })  # a classifier file
    torch.save(weights, str(tmp_path / 'resnet50.pth'))
    backbone.init_weights()
    got = backbone.state_dict()
    for key, value in got.items():
        assert torch.equal(value, weights[key]), key
    # frozen statistics: training mode leaves every BN in eval mode
    backbone.train()
    norms = [
        m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert norms and not any(m.training for m in norms)
