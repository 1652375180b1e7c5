"""Every LIDC config is built (model at full width, datasets on the tiny
synthetic set) and runs a few Runner iterations, validation and test.

The Runner runs use 4 base channels and 16^3 crops so each takes seconds on
a CPU; the full-width models and 48^3 crops are built and checked here and
in test_lidc_models.py."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from cspr_det.models.utils.backbone_arch import describe_backbone
from cspr_det.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs/classification/lidc/*.py')) +
    glob.glob(osp.join(REPO, 'configs/segmentation/lidc/*.py')))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _name(path):
    return osp.basename(path)[:-3]


def _is_seg(cfg):
    return cfg.model.type == 'cspr_det.VolumeSegmentor'


def test_all_configs_found():
    assert len(CONFIGS) == 9


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_builds(path, tiny_lidc):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    if _is_seg(cfg):
        assert type(model.decode_head).__name__ == 'LIDCFusionHead3D'
        assert model.backbone.stem_skip and model.backbone.out_indices == (1,
                                                                           3)
    else:
        assert type(model).__name__ == 'VolumeClassifier'
        assert model.head.num_classes == 2
        assert model.head.label_smoothing == 0.0
    protocol = 'reference' if 'reference-split' in path else 'patient'
    for key in LOADERS:
        ds_cfg = copy.deepcopy(cfg[key].dataset)
        ds_cfg.data_root = tiny_lidc
        ds = DATASETS.build(ds_cfg)
        assert ds.split_protocol == protocol
        sample = ds[0]
        assert tuple(sample['inputs'].shape) == (1, 48, 48, 48)
    if 'data_root' in cfg and 'synthetic' not in path:
        assert cfg.data_root == 'data/lidc/'


def _small(cfg, root, work_dir):
    """4 base channels, 16^3 crops, CPU optimiser, 2 training iterations."""
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    cfg.optim_wrapper = dict(
        type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer)
    cfg.model.backbone.base_channels = 4
    for key in LOADERS:
        loader = cfg[key]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = root
        for t in loader.dataset.pipeline:
            if t['type'] == 'cspr_det.CentreCrop3D':
                t['size'] = 16
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    if _is_seg(cfg):
        cfg.model.decode_head.update(
            in_channels=(4, 8, 32), fuse_channels=16, channels=8)
        cfg.train_cfg = dict(
            type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    else:
        cfg.model.head.in_channels = 32
        cfg.train_dataloader.dataset.indices = 4
        cfg.train_cfg = dict(
            type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)


def _fake_checkpoint(cfg, path, record_arch):
    """A pre-training-like checkpoint for the config's (small) backbone."""
    backbone = MODELS.build(cfg.model.backbone)
    # new conv weights; norm parameters and statistics as initialised
    state = {
        f'backbone.{k}': torch.randn_like(v) * 0.1 if v.dim() > 1 else v
        for k, v in backbone.state_dict().items()
    }
    meta = {}
    if record_arch:  # what the 2D inflation converter records
        meta['backbone_arch'] = describe_backbone(
            MODELS.build(
                dict(type='cspr_det.ResNet3D', depth=18, base_channels=4)))
    torch.save(dict(state_dict=state, meta=meta), path)
    return state


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_runs_a_few_iterations(path, tiny_lidc, tmp_path, monkeypatch):
    # mmengine formats the whole config with yapf twice per Runner (log and
    # dump), about 40 % of these short runs; that text is not under test
    monkeypatch.setattr(Config, 'pretty_text', property(lambda c: c.text))
    cfg = Config.fromfile(path)
    _small(cfg, tiny_lidc, str(tmp_path / 'work'))
    init = cfg.model.backbone.get('init_cfg')
    if init and init.get('type') == 'cspr_det.PretrainedBackbone':
        init.checkpoint = str(tmp_path / 'pretrained.pth')
        state = _fake_checkpoint(
            cfg, init.checkpoint, record_arch='inflated' in path)
        model = MODELS.build(cfg.model)
        model.init_weights()
        for key in ('conv1.weight', 'layer4.1.conv2.weight'):
            torch.testing.assert_close(model.backbone.state_dict()[key],
                                       state[f'backbone.{key}'])
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.test()
    key = 'seg/mDice' if _is_seg(cfg) else 'cls/auc'
    assert key in metrics
    assert glob.glob(osp.join(cfg.work_dir, 'best_*.pth'))
