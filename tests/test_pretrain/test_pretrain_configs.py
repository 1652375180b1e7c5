"""Every pre-training config builds its model and datasets (on a tiny
generated image folder), the model runs on its test pipeline output, and what
the file name promises (backbone, depth, batch, epochs, dataset) is what the
config does: learning rate for the batch and a cosine over the whole run."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS, init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'pretrain', '*.py')))
# {algorithm}_{backbone}_{gpus}xb{batch}-cosine-{epochs}e_{dataset}.py
NAME = re.compile(r'^vdt_(?P<backbone>[a-z]+3d)(?P<depth>\d+(?:ba)?)'
                  r'(?:-[a-z0-9-]+)?_(?P<gpus>\d+)xb(?P<batch>\d+)-cosine-'
                  r'(?P<epochs>\d+)e_(?P<dataset>[a-z0-9-]+)\.py$')
BACKBONES = {'resnet3d': 'ResNet3D', 'mp3d': 'MP3DResNet', 'p3d': 'P3DResNet'}
NUM_CLASSES = {
    'imagenet': 1000,
    'fashion-mnist': 10,
    'fashion-mnist-60k': 10,
    # 13 organs and background (tools/dataset_converters/ct_patches_to_folder)
    'synthetic-btcv-patches': 14
}
# The VDT recipe: SGD lr 0.1 for a total batch of 256 (8 GPUs x 32).
RECIPE_LR_PER_IMAGE = 0.1 / 256


def _name(path):
    match = NAME.match(osp.basename(path))
    assert match, f'{osp.basename(path)} does not follow the naming scheme'
    return match.groupdict()


def test_configs_exist_and_follow_the_naming_scheme():
    assert len(CONFIGS) >= 5
    for path in CONFIGS:
        name = _name(path)
        assert name['backbone'] in BACKBONES, path
        assert name['dataset'] in NUM_CLASSES, path


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, image_root):
    name = _name(path)
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports.imports == ['cspr_det']
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == BACKBONES[name['backbone']]
    assert str(model.backbone.depth) == name['depth']
    num_classes = NUM_CLASSES[name['dataset']]
    assert model.head.num_classes == num_classes
    assert cfg.train_dataloader.dataset.data_root.startswith('data/')
    size, = [
        t.crop_size for t in cfg.val_dataloader.dataset.pipeline
        if t.type == 'CenterCrop'
    ]

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


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_learning_rate_matches_the_batch_in_the_name(path):
    """The total batch of the name (gpus x batch) is the dataloader's and
    auto_scale_lr's base, so `--auto-scale-lr` rescales from the right
    point; the ImageNet recipes keep the paper's lr per image."""
    name = _name(path)
    cfg = Config.fromfile(path)
    total = int(name['gpus']) * int(name['batch'])
    assert cfg.train_dataloader.batch_size == int(name['batch'])
    assert cfg.auto_scale_lr.base_batch_size == total
    if name['dataset'] == 'imagenet':
        lr = cfg.optim_wrapper.optimizer.lr
        assert lr / total == pytest.approx(RECIPE_LR_PER_IMAGE)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_cosine_schedule_spans_the_training(path):
    """The cosine reaches its minimum exactly at the last epoch of the name:
    a schedule that ends early trains at lr 0 for the remaining epochs, one
    that ends late never anneals."""
    name = _name(path)
    cfg = Config.fromfile(path)
    epochs = int(name['epochs'])
    assert cfg.train_cfg.max_epochs == epochs
    cosine = [s for s in cfg.param_scheduler if s.type == 'CosineAnnealingLR']
    assert len(cosine) == 1
    cosine = cosine[0]
    assert (cosine.begin, cosine.end, cosine.T_max) == (0, epochs, epochs)
    assert cosine.by_epoch and cosine.convert_to_iter_based
    assert cosine.get('eta_min', 0.0) == 0.0
    # a warm-up, if any, is counted in iterations and ends in epoch 1
    for warmup in cfg.param_scheduler:
        if warmup.type == 'LinearLR':
            assert not warmup.by_epoch and warmup.begin == 0
