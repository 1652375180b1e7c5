"""VDT pre-training through mmengine's Runner on generated images: a short
run learns a separable problem, the validation loop reports exact
accuracies, and the checkpoint initialises a fresh backbone."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from cspr_det.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CPU_CFG = osp.join(REPO, 'configs', 'pretrain',
                   'vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py')

# Three classes told apart by their grey level (noise sd 10): separable, so
# a working loop must get far above chance (33.3 %) in a few dozen steps.
LEVELS = (30, 128, 225)
CHANCE = 100.0 / len(LEVELS)
MARGIN = 50.0  # required top-1 above chance after the short run
SIZE = 16  # image and crop size (the config's 32 costs 4x the compute)


def write_grey_level_folder(root, split, per_class, seed, size=SIZE):
    """Write ``root/split/class_<c>/<i>.png``: grey images of level
    ``LEVELS[c]`` plus Gaussian noise."""
    rng = np.random.RandomState(seed)
    for c, level in enumerate(LEVELS):
        folder = osp.join(str(root), split, f'class_{c}')
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            img = np.clip(rng.normal(level, 10, (size, size)), 0, 255)
            cv2.imwrite(osp.join(folder, f'{i:03d}.png'), img.astype(np.uint8))


@pytest.fixture
def grey_level_root(tmp_path):
    write_grey_level_folder(tmp_path, 'train', per_class=8, seed=0)
    write_grey_level_folder(tmp_path, 'val', per_class=4, seed=1)
    return tmp_path


def _short_run_cfg(root, work_dir, epochs):
    cfg = Config.fromfile(CPU_CFG)
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.base_channels = 8
    cfg.model.head.in_channels = 64
    cfg.model.head.num_classes = len(LEVELS)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg[loader]
        dl.dataset.data_root = str(root)
        dl.num_workers = 0
        dl.persistent_workers = False
        dl.batch_size = 12
    train_pipeline = cfg.train_dataloader.dataset.pipeline
    assert train_pipeline[1].type == 'cspr_det.RandomResizedCropVDT'
    train_pipeline[1].scale = SIZE
    test_pipeline = cfg.val_dataloader.dataset.pipeline
    assert [t.type for t in test_pipeline[1:3]
            ] == ['cspr_det.ResizeShortEdge', 'CenterCrop']
    test_pipeline[1].scale = SIZE
    test_pipeline[2].crop_size = SIZE
    cfg.train_cfg.max_epochs = epochs  # 24 images / 12 = 2 iterations each
    cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.param_scheduler = [
        dict(
            type='CosineAnnealingLR',
            T_max=epochs,
            by_epoch=True,
            begin=0,
            end=epochs,
            convert_to_iter_based=True)
    ]
    # top-2 of 3 classes says something; top-5 would always be 100 %
    cfg.val_evaluator = dict(type='cspr_det.TopKAccuracy', topk=(1, 2))
    cfg.test_evaluator = cfg.val_evaluator
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    return cfg


def test_short_run_learns_reports_exact_accuracy_and_transfers(
        grey_level_root, tmp_path):
    epochs = 20
    cfg = _short_run_cfg(grey_level_root, tmp_path / 'work', epochs)
    runner = Runner.from_cfg(cfg)
    before = runner.model.backbone.conv1.weight.detach().clone()
    runner.train()
    assert runner.iter == 2 * epochs
    assert not torch.equal(before, runner.model.backbone.conv1.weight)

    # 1) the run learned: top-1 of the validation after the last epoch, on
    # held-out images, is far above chance
    hub = runner.message_hub
    top1 = hub.get_scalar('val/accuracy/top1').current()
    assert top1 >= CHANCE + MARGIN, top1

    # 2) a constructed head whose predictions are known: constant logits
    # (0.5, 0, 1) rank the classes 2, 0, 1 for every image; the validation
    # set has 4 images per class, so top-1 = 4/12 and top-2 = 8/12 exactly.
    trained_head = {
        k: v.clone()
        for k, v in runner.model.head.state_dict().items()
    }
    with torch.no_grad():
        runner.model.head.fc.weight.zero_()
        runner.model.head.fc.bias.copy_(torch.tensor([0.5, 0.0, 1.0]))
    exact = runner.val_loop.run()
    assert set(exact) == {'accuracy/top1', 'accuracy/top2'}
    assert exact['accuracy/top1'] == pytest.approx(100 / 3)
    assert exact['accuracy/top2'] == pytest.approx(200 / 3)
    runner.model.head.load_state_dict(trained_head)

    # 3) the checkpoint initialises a fresh backbone, tensor for tensor
    ckpt = osp.join(cfg.work_dir, f'epoch_{epochs}.pth')
    assert osp.isfile(ckpt)
    assert glob.glob(osp.join(cfg.work_dir, 'best_accuracy_top1_*.pth'))
    target = MODELS.build(
        dict(
            type='cspr_det.ResNet3D',
            depth=18,
            base_channels=8,
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone',
                checkpoint=ckpt,
                prefix='backbone.')))
    target.init_weights()
    trained = runner.model.backbone.state_dict()
    got = target.state_dict()
    assert set(got) == set(trained)
    for k in trained:
        torch.testing.assert_close(got[k], trained[k], msg=k)
