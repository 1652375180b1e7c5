"""Every pre-training config builds its model and datasets (on a tiny
generated image folder) and the model runs on its test pipeline output."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS, init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'pretrain', '*.py')))
EXPECTED = {
    'vdt_resnet3d18_8xb32-cosine-100e_imagenet.py': ('ResNet3D', 1000, 224),
    'vdt_mp3d63-gtm_8xb32-cosine-100e_imagenet.py': ('MP3DResNet', 1000,
                                                     224),
    'vdt_p3d63_8xb32-cosine-100e_imagenet.py': ('P3DResNet', 1000, 224),
    'vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py': ('ResNet3D', 10,
                                                            32),
    'vdt_mp3d18ba-gtm-c16_1xb64-cosine-3e_fashion-mnist.py': ('MP3DResNet',
                                                              10, 32),
}


def test_every_config_is_listed():
    assert sorted(osp.basename(c) for c in CONFIGS) == sorted(EXPECTED)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, image_root):
    backbone_type, num_classes, size = EXPECTED[osp.basename(path)]
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports.imports == ['cspr_det']
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == backbone_type
    assert model.head.num_classes == num_classes
    assert cfg.train_dataloader.dataset.data_root.startswith('data/')

    samples = []
    for loader in ('train_dataloader', 'val_dataloader'):
        ds_cfg = cfg[loader].dataset.copy()
        ds_cfg.data_root = str(image_root)
        ds = DATASETS.build(ds_cfg)
        assert len(ds) == (12 if loader == 'train_dataloader' else 6)
        sample = ds[0]
        assert sample['inputs'].shape == (3, size, size)
        samples.append(sample)
    if size > 64:  # keep the big models cheap: classify a small crop
        for s in samples:
            s['inputs'] = s['inputs'][:, :32, :32]
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate(samples))
        preds = model(**data, mode='predict')
    assert len(preds) == 2
    assert preds[0].pred_score.shape == (num_classes, )


def test_imagenet_recipe():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'pretrain',
                 'vdt_resnet3d18_8xb32-cosine-100e_imagenet.py'))
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert (opt.optimizer.lr, opt.optimizer.momentum,
            opt.optimizer.weight_decay) == (0.1, 0.9, 1e-4)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR'
    assert cfg.param_scheduler[0].eta_min == 0.0
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.model.head.label_smoothing == 0.1
    assert cfg.model.data_preprocessor.mean == [114.495]
    assert cfg.model.data_preprocessor.std == [57.63]
    assert cfg.model.backbone.stem_stride == (1, 2, 2)
