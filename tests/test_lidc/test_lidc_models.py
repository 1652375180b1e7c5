"""LIDC models: one 3D classifier class for pre-training and nodules, the
fusion FCN head, shapes and gradients."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from cspr_det.registry import MODELS
from cspr_det.structures import VolumeSegDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_BASE = osp.join(REPO, 'configs/_base_/models/lidc_resnet3d18_cls.py')
SEG_BASE = osp.join(REPO,
                    'configs/_base_/models/lidc_fcn-fusion_resnet3d18_seg.py')
PRETRAIN_BASE = osp.join(REPO, 'configs/_base_/models/vdt_resnet3d18.py')


def test_one_classifier_class_for_pretraining_and_nodules():
    cls = Config.fromfile(CLS_BASE).model
    pre = Config.fromfile(PRETRAIN_BASE).model
    assert cls.type == pre.type == 'cspr_det.VolumeClassifier'
    assert cls.head.type == pre.head.type == 'cspr_det.LinearClsHead3D'


@torch.no_grad()
def test_nodule_classifier_shapes_full_width():
    model = MODELS.build(Config.fromfile(CLS_BASE).model).eval()
    x = torch.randn(1, 1, 48, 48, 48)
    feats = model.backbone(x)
    assert [tuple(f.shape) for f in feats] == [(1, 512, 2, 2, 2)]
    assert model(x, mode='tensor').shape == (1, 2)
    samples = model(x, [BaseDataElement()], mode='predict')
    assert samples[0].pred_score.shape == (2, )
    assert torch.allclose(samples[0].pred_score.sum(), torch.tensor(1.0))


def test_classifier_trains_on_volume_batches():
    cfg = Config.fromfile(CLS_BASE).model
    cfg.backbone.base_channels = 4
    cfg.head.in_channels = 32
    model = MODELS.build(cfg)
    data = dict(
        inputs=[torch.rand(1, 24, 24, 24) * 255 for _ in range(2)],
        data_samples=[
            BaseDataElement(gt_label=torch.tensor([y])) for y in (0, 1)
        ])
    data = model.data_preprocessor(data, True)
    assert data['inputs'].shape == (2, 1, 24, 24, 24)
    losses = model(**data, mode='loss')
    logits = model(data['inputs'], mode='tensor')
    # plain cross-entropy (no label smoothing) in the LIDC configs
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(logits, torch.tensor([0, 1])))
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_class_weighted_head():
    head = MODELS.build(
        dict(
            type='cspr_det.LinearClsHead3D',
            num_classes=2,
            in_channels=4,
            label_smoothing=0.0,
            class_weight=[1.0, 3.0]))
    feats = torch.randn(5, 4, 2, 2, 2)
    labels = torch.tensor([0, 1, 1, 0, 0])
    samples = [BaseDataElement(gt_label=labels[i:i + 1]) for i in range(5)]
    expected = F.cross_entropy(
        head(feats), labels, weight=torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(head.loss(feats, samples)['loss_cls'], expected)
    with pytest.raises(ValueError, match='class_weight'):
        MODELS.build(
            dict(
                type='cspr_det.LinearClsHead3D',
                num_classes=2,
                in_channels=4,
                class_weight=[1.0]))


def test_fusion_head_shapes_and_gradients():
    head = MODELS.build(
        dict(type='cspr_det.LIDCFusionHead3D', in_channels=(64, 128, 512)))
    assert head.fuse_deep.in_channels == 640
    assert head.fuse_stem.in_channels == 576
    assert head.convs[0].conv.weight.shape == (128, 512, 3, 3, 3)
    assert head.conv_seg.weight.shape == (2, 128, 1, 1, 1)
    maps = [
        torch.randn(2, 64, 8, 8, 8, requires_grad=True),
        torch.randn(2, 128, 4, 4, 4, requires_grad=True),
        torch.randn(2, 512, 2, 2, 2, requires_grad=True)
    ]
    out = head(maps)
    assert out.shape == (2, 2, 8, 8, 8)
    out.sum().backward()
    assert all(m.grad.abs().sum() > 0 for m in maps)
    with pytest.raises(ValueError, match='deep map must be'):
        head([maps[0], maps[1], maps[1]])
    with pytest.raises(ValueError, match='tuple of backbone maps'):
        head(maps[0])
    with pytest.raises(TypeError, match='num_convs is fixed'):
        MODELS.build(dict(type='cspr_det.LIDCFusionHead3D', num_convs=2))


def test_segmentor_encoder_strides_and_loss():
    cfg = Config.fromfile(SEG_BASE).model
    cfg.backbone.base_channels = 4
    cfg.decode_head.update(
        in_channels=(4, 8, 32), fuse_channels=16, channels=8)
    model = MODELS.build(cfg)
    x = torch.randn(2, 1, 24, 24, 24)
    feats = model.backbone(x)
    # stem at full size, stage 2 at 1/2, stage 4 at 1/4
    assert [tuple(f.shape) for f in feats] == [(2, 4, 24, 24, 24),
                                               (2, 8, 12, 12, 12),
                                               (2, 32, 6, 6, 6)]
    assert model(x, mode='tensor').shape == (2, 2, 24, 24, 24)
    gt = torch.zeros(24, 24, 24, dtype=torch.long)
    gt[8:16, 8:16, 8:16] = 1
    samples = [VolumeSegDataSample(gt_seg=gt.clone()) for _ in range(2)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_ce', 'loss_dice', 'acc_seg'}
    (losses['loss_ce'] + losses['loss_dice']).backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
