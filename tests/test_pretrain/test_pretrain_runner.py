"""A few mmengine Runner iterations of VDT pre-training on generated images,
then the checkpoint initialises a fresh backbone."""
import glob
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from cspr_det.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CPU_CFG = osp.join(REPO, 'configs', 'pretrain',
                   'vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py')


def test_runner_trains_validates_and_transfers(image_root, tmp_path):
    cfg = Config.fromfile(CPU_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.backbone.base_channels = 4
    cfg.model.head.in_channels = 32
    cfg.model.head.num_classes = 3
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg[loader]
        dl.dataset.data_root = str(image_root)
        dl.num_workers = 0
        dl.persistent_workers = False
        dl.batch_size = 4
    cfg.train_cfg.max_epochs = 1  # 12 images / 4 = 3 iterations
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', T_max=1, by_epoch=True, begin=0,
             end=1, convert_to_iter_based=True)
    ]
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'

    runner = Runner.from_cfg(cfg)
    before = runner.model.backbone.conv1.weight.detach().clone()
    runner.train()
    assert runner.iter == 3
    after = runner.model.backbone.conv1.weight.detach()
    assert not torch.equal(before, after)  # the optimiser stepped
    metrics = runner.val_loop.run()
    assert set(metrics) >= {'accuracy/top1', 'accuracy/top5'}
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    assert metrics['accuracy/top5'] == 100.0  # 3 classes

    ckpt = osp.join(cfg.work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    assert glob.glob(osp.join(cfg.work_dir, 'best_accuracy_top1_*.pth'))
    target = MODELS.build(
        dict(
            type='cspr_det.ResNet3D',
            depth=18,
            base_channels=4,
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
