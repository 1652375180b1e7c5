"""VolumeSegmentor: data preprocessor, loss/predict/tensor modes, a few
Runner-free training iterations, post-processing, pre-trained encoder and
the model base configs."""
import copy
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper

from cspr_det.models.segmentors import (VolumeSegDataPreprocessor,
                                        keep_largest_component)
from cspr_det.registry import MODELS
from cspr_det.structures import VolumeSegDataSample

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
BASE = osp.join(REPO, 'configs', '_base_', 'models')


def tiny_cfg(**test_cfg):
    """The StdUNet base config at 1/16 width."""
    cfg = Config.fromfile(osp.join(BASE, 'unet3d_resnet3d18.py')).model
    cfg.backbone.base_channels = 4
    cfg.neck.in_channels = (4, 4, 8, 16, 32)
    cfg.neck.channels = (4, 4, 8, 16, 32)
    cfg.decode_head.in_channels = 4
    cfg.decode_head.channels = 4
    cfg.test_cfg.update(test_cfg)
    return cfg.to_dict()


def sphere_case(shape=(16, 32, 32), seed=0, case_id='c0'):
    """A bright sphere in noise (0-255 units) and its mask."""
    g = torch.Generator().manual_seed(seed)
    zz, yy, xx = torch.meshgrid(
        *[torch.arange(s).float() for s in shape], indexing='ij')
    c = [s / 2 for s in shape]
    r = min(shape) / 3
    mask = ((zz - c[0])**2 + (yy - c[1])**2 + (xx - c[2])**2) < r * r
    img = 60 + 20 * torch.randn(shape, generator=g) + 120 * mask.float()
    sample = VolumeSegDataSample(
        metainfo=dict(
            case_id=case_id,
            spacing=(1.0, 1.0, 1.0),
            img_shape=tuple(shape),
            ori_shape=tuple(shape)))
    sample.gt_seg = mask.long()
    return img[None], sample


def batch(*cases):
    return dict(
        inputs=[c[0] for c in cases],
        data_samples=[copy.deepcopy(c[1]) for c in cases])


def test_data_preprocessor_pads_normalises_and_pads_gt():
    pre = VolumeSegDataPreprocessor(
        mean=100.0, std=50.0, pad_size_divisor=8, pad_value=0)
    a, sa = sphere_case((5, 9, 8))
    b, sb = sphere_case((3, 16, 6), case_id='c1')
    out = pre(dict(inputs=[a, b], data_samples=[sa, sb]))
    x, samples = out['inputs'], out['data_samples']
    assert x.shape == (2, 1, 8, 16, 8) and x.dtype == torch.float32
    torch.testing.assert_close(x[0, :, :5, :9, :8], (a - 100) / 50)
    assert torch.all(x[0, :, 5:] == -2.0) and torch.all(x[1, :, :, :,
                                                          6:] == -2.0)
    assert samples[0].gt_seg.shape == (8, 16, 8)
    assert torch.all(samples[0].gt_seg[5:] == 255)
    assert torch.equal(samples[0].gt_seg[:5, :9, :8], sa.gt_seg)
    assert samples[1].batch_input_shape == (8, 16, 8)
    assert samples[1].img_shape == (3, 16, 6)
    bad = VolumeSegDataSample()
    bad.gt_seg = torch.zeros(4, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match='gt_seg .* and input .* differ'):
        pre(dict(inputs=[a], data_samples=[bad]))
    with pytest.raises(ValueError, match='std must be > 0'):
        VolumeSegDataPreprocessor(std=0)


def test_modes_loss_tensor_predict():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(mode='whole'))
    model.init_weights()
    data = model.data_preprocessor(
        batch(sphere_case(), sphere_case(seed=1)), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_ce', 'loss_dice', 'acc_seg'}
    assert all(torch.isfinite(v) for v in losses.values())
    logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (2, 2, 16, 32, 32)
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert preds[0].pred_seg.shape == (16, 32, 32)
    assert preds[0].pred_seg.dtype == torch.long
    assert 'seg_logits' not in preds[0]
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(data['inputs'], mode='features')


def test_runner_free_training_iterations_reduce_the_loss():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    shape = (16, 16, 16)
    data = batch(sphere_case(shape, seed=0), sphere_case(shape, seed=1))
    before = model.backbone.conv1.weight.detach().clone()
    totals = []
    for _ in range(4):
        log_vars = model.train_step(copy.deepcopy(data), optim)
        totals.append(float(log_vars['loss'].detach()))
        assert set(log_vars) == {'loss', 'loss_ce', 'loss_dice', 'acc_seg'}
    assert all(torch.isfinite(torch.tensor(totals)))
    # fitting one batch: the loss falls at every step
    assert all(b < a for a, b in zip(totals, totals[1:])), totals
    assert not torch.equal(before, model.backbone.conv1.weight)


def test_predict_crops_padding_and_slide_equals_whole_for_one_window():
    torch.manual_seed(0)
    cfg = tiny_cfg(
        mode='slide',
        window=(32, 64, 64),
        stride=(16, 32, 32),
        return_logits=True)
    slide = MODELS.build(cfg).eval()
    cfg['test_cfg']['mode'] = 'whole'
    whole = MODELS.build(cfg).eval()
    whole.load_state_dict(slide.state_dict())
    img, sample = sphere_case((13, 30, 27))
    with torch.no_grad():
        a = slide.test_step(batch((img, sample)))[0]
        b = whole.test_step(batch((img, sample)))[0]
    # one window covers the padded (16, 32, 32) extent: identical passes
    assert a.pred_seg.shape == (13, 30, 27) and a.gt_seg.shape == (13, 30, 27)
    assert a.seg_logits.shape == (2, 13, 30, 27)
    torch.testing.assert_close(a.seg_logits, b.seg_logits)
    assert torch.equal(a.gt_seg, sample.gt_seg)


def test_sliding_window_labels_path_matches_logits_path():
    torch.manual_seed(0)
    cfg = tiny_cfg(
        mode='slide',
        window=(16, 32, 32),
        stride=(8, 16, 16),
        sw_batch_size=3,
        weighting='gaussian')
    labels_only = MODELS.build(cfg).eval()
    cfg['test_cfg']['return_logits'] = True
    with_logits = MODELS.build(cfg).eval()
    with_logits.load_state_dict(labels_only.state_dict())
    img, sample = sphere_case((20, 40, 36))
    with torch.no_grad():
        a = labels_only.test_step(batch((img, sample)))[0]
        b = with_logits.test_step(batch((img, sample)))[0]
    assert 'seg_logits' not in a and b.seg_logits.shape == (2, 20, 40, 36)
    assert torch.equal(a.pred_seg, b.seg_logits.argmax(0))
    assert torch.equal(a.pred_seg, b.pred_seg)


def test_predict_resizes_to_ori_shape():
    model = MODELS.build(tiny_cfg(mode='whole')).eval()
    img, sample = sphere_case((16, 32, 32))
    sample.set_metainfo(dict(ori_shape=(8, 64, 64)))
    with torch.no_grad():
        out = model.test_step(batch((img, sample)))[0]
    assert out.pred_seg.shape == (8, 64, 64)


def test_largest_component_modes_and_test_cfg():
    labels = torch.zeros(6, 10, 10, dtype=torch.long)
    labels[1:5, 1:6, 1:6] = 1  # liver
    labels[2:4, 2:4, 2:4] = 2  # tumour inside it
    labels[1, 8, 8] = 1  # stray liver voxel
    labels[4, 8, 1] = 2  # stray tumour voxel
    out = keep_largest_component(labels, 'foreground')
    assert out[1, 8, 8] == 0 and out[4, 8, 1] == 0
    assert torch.equal(out[1:5, 1:6, 1:6], labels[1:5, 1:6, 1:6])
    per = keep_largest_component(labels, 'per_class')
    assert per[1, 8, 8] == 0 and per[4, 8, 1] == 0 and per[3, 3, 3] == 2
    only_two = keep_largest_component(labels, 'per_class', classes=[2])
    assert only_two[1, 8, 8] == 1 and only_two[4, 8, 1] == 0
    # a diagonal neighbour joins only with full connectivity
    diag = torch.zeros(3, 3, 3, dtype=torch.long)
    diag[0, 0, 0] = diag[1, 1, 1] = diag[2, 2, 2] = 1
    assert keep_largest_component(diag).sum() == 1
    assert keep_largest_component(diag, fully_connected=True).sum() == 3
    with pytest.raises(ValueError, match='largest_component must be'):
        MODELS.build(tiny_cfg(largest_component='biggest'))
    with pytest.raises(ValueError, match='unknown test_cfg key'):
        MODELS.build(tiny_cfg(windows=(1, 2, 3)))
    with pytest.raises(ValueError, match='stride .* exceeds the window'):
        MODELS.build(tiny_cfg(window=(8, 8, 8), stride=(9, 4, 4)))


def test_predict_applies_largest_component():
    model = MODELS.build(
        tiny_cfg(mode='whole', largest_component='foreground')).eval()
    img, sample = sphere_case((16, 32, 32))

    def fake_logits(x):  # two foreground blobs, the larger one kept
        out = torch.zeros(x.size(0), 2, *x.shape[2:])
        out[:, 1, 2:8, 2:10, 2:10] = 5.0
        out[:, 1, 10:12, 20:22, 20:22] = 5.0
        return out

    model.encode_decode = fake_logits
    with torch.no_grad():
        out = model.test_step(batch((img, sample)))[0]
    assert out.pred_seg.sum() == 6 * 8 * 8


def test_pretrained_encoder_through_init_cfg(tmp_path):
    # a VDT-style checkpoint: ResNet3D-18 with pre-training strides under
    # the 'backbone.' prefix, plus a classifier head
    torch.manual_seed(1)
    src = MODELS.build(
        dict(
            type='cspr_det.ResNet3D',
            depth=18,
            base_channels=4,
            stem_stride=(1, 2, 2)))
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(10, 32)
    ckpt = str(tmp_path / 'vdt.pth')
    torch.save(dict(state_dict=state), ckpt)
    cfg = tiny_cfg()
    cfg['backbone']['init_cfg'] = dict(
        type='cspr_det.PretrainedBackbone',
        checkpoint=ckpt,
        prefix='backbone.')
    model = MODELS.build(cfg)
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(handler)
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in src.state_dict().items())
    total = len(loaded)
    assert any(
        f'loaded {total}/{total} tensors into ResNet3D' in r.getMessage()
        for r in records)
    # decoder and head are not in the checkpoint: their init is random
    assert model.decode_head.conv_seg.weight.std() > 0


@pytest.mark.parametrize('name,encoder', [('unet3d_resnet3d18.py', 'ResNet3D'),
                                          ('unet3d_mp3d63.py', 'MP3DResNet')])
def test_model_base_configs_build(name, encoder):
    cfg = Config.fromfile(osp.join(BASE, name))
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == encoder
    assert model.backbone.out_channels[0] == 64
    assert list(model.neck.in_channels) == list(model.backbone.out_channels)
    assert model.neck.channels == [64, 64, 128, 256, 512]
    assert model.test_cfg['window'] == (32, 256, 256)
    assert model.test_cfg['stride'] == (12, 128, 128)
    assert model.data_preprocessor.pad_size_divisor == 16
    assert [type(m).__name__ for m in model.decode_head.losses
            ] == ['VoxelCrossEntropyLoss', 'SoftDiceLoss']
