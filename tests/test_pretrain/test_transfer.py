"""Pre-training checkpoint -> backbone of a downstream model."""
import importlib
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import cspr_det.models.classifiers as classifiers
import cspr_det.models.utils as model_utils
import cspr_det.models.utils.pretrained_backbone as pretrained_backbone
from cspr_det.registry import MODELS, WEIGHT_INITIALIZERS
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

extract_backbone = load_tool('tools/misc/extract_backbone.py')


def _pretrain_ckpt(tmp_path, backbone, in_channels, name='vdt.pth'):
    """A randomised VDT classifier saved like an mmengine checkpoint."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='cspr_det.VolumeClassifier',
            backbone=backbone,
            head=dict(
                type='cspr_det.LinearClsHead3D',
                num_classes=5,
                in_channels=in_channels)))
    state = model.state_dict()
    for v in state.values():  # every tensor distinguishable from init
        if v.dtype.is_floating_point:
            v.copy_(torch.randn_like(v))
    path = osp.join(str(tmp_path), name)
    torch.save(dict(meta=dict(epoch=1), state_dict=state), path)
    return path, {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }


def _assert_all_equal(module, expected, skip=()):
    got = module.state_dict()
    checked = 0
    for k, v in got.items():
        if any(s in k for s in skip):
            continue
        torch.testing.assert_close(v, expected[k], msg=k)
        checked += 1
    return checked


TINY = dict(type='cspr_det.ResNet3D', depth=18, base_channels=4)


def test_pretrained_backbone_loads_every_tensor(tmp_path, capsys):
    init_default_scope('mmdet')
    ckpt, expected = _pretrain_ckpt(tmp_path, dict(TINY, out_indices=(3, )),
                                    32)
    MMLogger.get_instance('test_transfer', log_level='INFO')
    target = MODELS.build(
        dict(
            TINY,
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone',
                checkpoint=ckpt,
                prefix='backbone.')))
    target.init_weights()
    n = _assert_all_equal(target, expected)
    assert n == len(expected) == len(target.state_dict())
    out = capsys.readouterr().out
    assert f'loaded {n}/{n} tensors into ResNet3D' in out
    assert 'missing 0, unexpected 0' in out

    # mmengine's own Pretrained init also works with the prefix
    target2 = MODELS.build(
        dict(
            TINY,
            init_cfg=dict(
                type='Pretrained', checkpoint=ckpt, prefix='backbone.')))
    target2.init_weights()
    assert _assert_all_equal(target2, expected) == n


def test_shape_mismatch_raises_and_exclude(tmp_path):
    init_default_scope('mmdet')
    ckpt, _ = _pretrain_ckpt(tmp_path, dict(TINY, out_indices=(3, )), 32)
    wider = MODELS.build(
        dict(
            TINY,
            base_channels=8,
            init_cfg=dict(type='cspr_det.PretrainedBackbone',
                          checkpoint=ckpt)))
    with pytest.raises(ValueError, match='different shape'):
        wider.init_weights()
    # only the stem conv differs -> excluded, everything else loads
    other = MODELS.build(
        dict(
            TINY,
            stem_kernel=(3, 7, 7),
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone',
                checkpoint=ckpt,
                exclude=[r'^conv1\.'])))
    other.init_weights()
    src = torch.load(ckpt, weights_only=False)['state_dict']
    got = other.state_dict()
    torch.testing.assert_close(got['layer1.0.conv1.weight'],
                               src['backbone.layer1.0.conv1.weight'])
    assert got['conv1.weight'].shape == (4, 1, 3, 7, 7)


def test_pretrained_backbone_lives_in_models_utils():
    """The initializer is a weight-transfer utility of ``models.utils`` (one
    class, exported by the package), registered under its name; the
    classifiers package holds classifiers only."""
    cls = pretrained_backbone.PretrainedBackbone
    assert model_utils.PretrainedBackbone is cls
    for name in ('adapt_in_channels', 'load_pretrained_backbone'):
        assert getattr(model_utils, name) is getattr(pretrained_backbone, name)
    assert cls.__module__ == 'cspr_det.models.utils.pretrained_backbone'
    assert WEIGHT_INITIALIZERS.get('cspr_det.PretrainedBackbone') is cls
    assert not hasattr(classifiers, 'PretrainedBackbone')
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(
            'cspr_det.models.classifiers.pretrained_backbone')


def test_imagenet_start_logs_the_count(tmp_path, capsys):
    """A 2D ImageNet start (torchvision layout: no prefix, ``fc.*``) into
    mmdet's ResNet through PretrainedBackbone logs how many tensors it
    loaded, and the classifier keys as unexpected."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    r18 = dict(
        type='mmdet.ResNet',
        depth=18,
        base_channels=8,
        out_indices=(0, 1, 2, 3))
    state = MODELS.build(r18).state_dict()
    for v in state.values():
        if v.dtype.is_floating_point:
            v.copy_(torch.randn_like(v))
    state.update({
        'fc.weight': torch.randn(10, 64),
        'fc.bias': torch.randn(10)
    })
    path = str(tmp_path / 'resnet18_torchvision.pth')
    torch.save(state, path)
    MMLogger.get_instance('test_transfer_imagenet', log_level='INFO')
    model = MODELS.build(
        dict(
            r18,
            init_cfg=dict(type='cspr_det.PretrainedBackbone',
                          checkpoint=path)))
    model.init_weights()
    n = len(model.state_dict())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k], msg=k)
    out = capsys.readouterr().out
    assert f'loaded {n}/{n} tensors into ResNet from {path}' in out
    assert "unexpected keys: ['fc.bias', 'fc.weight']" in out


def test_adapt_in_channels_keeps_the_response_to_repeated_channels():
    from cspr_det.models.utils import adapt_in_channels
    torch.manual_seed(0)
    w = torch.randn(6, 1, 1, 3, 3)
    x = torch.randn(2, 1, 4, 8, 8)
    w2 = adapt_in_channels(w, 2)
    assert w2.shape == (6, 2, 1, 3, 3)
    torch.testing.assert_close(
        torch.nn.functional.conv3d(x.repeat(1, 2, 1, 1, 1), w2),
        torch.nn.functional.conv3d(x, w))
    # 2 -> 3 channels: channel j reads original channel j % 2, scaled 2/3
    w = torch.randn(4, 2, 1, 1, 1)
    w3 = adapt_in_channels(w, 3)
    torch.testing.assert_close(w3[:, 2], w[:, 0] * 2 / 3)
    torch.testing.assert_close(w3[:, 1], w[:, 1] * 2 / 3)


def test_stem_adapted_to_more_input_channels(tmp_path, capsys):
    """A 1-channel pre-trained stem loads into a 2-window backbone with
    ``adapt_in_channels``; without it the shape mismatch is an error."""
    init_default_scope('mmdet')
    ckpt, expected = _pretrain_ckpt(tmp_path, dict(TINY, out_indices=(3, )),
                                    32)
    MMLogger.get_instance('test_transfer_adapt', log_level='INFO')
    two = MODELS.build(
        dict(
            TINY,
            in_channels=2,
            init_cfg=dict(type='cspr_det.PretrainedBackbone',
                          checkpoint=ckpt)))
    with pytest.raises(ValueError, match='conv1.weight'):
        two.init_weights()
    two = MODELS.build(
        dict(
            TINY,
            in_channels=2,
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone',
                checkpoint=ckpt,
                adapt_in_channels=[r'^conv1\.weight$'])))
    two.init_weights()
    got = two.state_dict()
    assert got['conv1.weight'].shape[1] == 2
    torch.testing.assert_close(
        got['conv1.weight'],
        expected['conv1.weight'].repeat(1, 2, 1, 1, 1) / 2)
    others = [k for k in got if k != 'conv1.weight']
    assert len(others) == len(expected) - 1
    for k in others:
        torch.testing.assert_close(got[k], expected[k], msg=k)
    out = capsys.readouterr().out
    assert 'input channels adapted 1' in out


def test_mp3d_transfer_into_detection_config(tmp_path):
    """VDT MP3D-18ba (3 slices) -> the DeepLesion MP3D-18ba detector
    (9 slices): every backbone tensor but the slice-count dependent GTM
    weights is loaded (GTMs keep their mean initialisation)."""
    init_default_scope('mmdet')
    pre = dict(
        type='cspr_det.MP3DResNet',
        depth='18ba',
        num_slices=3,
        collapse='gtm',
        out_indices=(3, ),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True))
    ckpt, expected = _pretrain_ckpt(tmp_path, pre, 512)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'deeplesion',
                 'faster-rcnn_mp3d18ba-gtm_fpn_8xb2-24e_deeplesion-9slice.py'))
    cfg.model.backbone.init_cfg = dict(
        type='cspr_det.PretrainedBackbone',
        checkpoint=ckpt,
        prefix='backbone.',
        exclude=['collapse'])
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    backbone = detector.backbone
    n = _assert_all_equal(backbone, expected, skip=('collapse', ))
    assert n == len([k for k in expected if 'collapse' not in k])
    gtm = [v for k, v in backbone.state_dict().items() if 'collapse' in k]
    assert gtm and all(
        torch.allclose(v, torch.full_like(v, 1 / 9)) for v in gtm)


@pytest.mark.parametrize('keep', [False, True])
def test_extract_backbone_tool(tmp_path, keep):
    init_default_scope('mmdet')
    ckpt, expected = _pretrain_ckpt(tmp_path, dict(TINY, out_indices=(3, )),
                                    32)
    out = osp.join(str(tmp_path), 'bb.pth')
    if keep:  # through the command line
        cmd = [
            sys.executable,
            osp.join(REPO, 'tools', 'misc', 'extract_backbone.py'), ckpt, out,
            '--keep-prefix'
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        assert res.returncode == 0, res.stderr
        assert f'wrote {len(expected)} tensors' in res.stdout
    else:  # in-process
        assert extract_backbone.main([ckpt, out]) == 0
    saved = torch.load(out, weights_only=False)['state_dict']
    assert all(k.startswith('backbone.') == keep for k in saved)
    target = MODELS.build(
        dict(
            TINY,
            init_cfg=dict(type='cspr_det.PretrainedBackbone', checkpoint=out)))
    target.init_weights()
    assert _assert_all_equal(target, expected) == len(expected)
    with pytest.raises(ValueError, match='neck.'):
        extract_backbone.extract(ckpt, out, prefix='neck.')


def test_cpu_pretrain_config_transfers_into_demo_detector(tmp_path):
    """The Fashion-MNIST MP3D-18ba pre-training config and the synthetic
    DeepLesion demo detector share every backbone tensor except the GTMs
    (their shape follows the slice count) and the stem conv (its input
    channels follow the number of HU windows: 1 in pre-training, 2 in the
    demo detector)."""
    init_default_scope('mmdet')
    pre_cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'pretrain',
                 'vdt_mp3d18ba-gtm-c16_1xb64-cosine-3e_fashion-mnist.py'))
    ckpt, expected = _pretrain_ckpt(tmp_path, pre_cfg.model.backbone,
                                    pre_cfg.model.head.in_channels)
    det_cfg = Config.fromfile(
        osp.join(
            REPO, 'configs', 'deeplesion',
            'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-'
            '9slice.py'))
    det_cfg.model.backbone.init_cfg = dict(
        type='cspr_det.PretrainedBackbone',
        checkpoint=ckpt,
        exclude=['collapse', r'^conv1\.'])
    detector = MODELS.build(det_cfg.model)
    detector.init_weights()
    n = _assert_all_equal(
        detector.backbone, expected, skip=('collapse', 'conv1.weight'))
    assert n == len([
        k
        for k in expected if 'collapse' not in k and not k.startswith('conv1.')
    ]) > 50
