"""2D-to-3D weight inflation.

Property: on a volume whose slices are all identical, the inflated 3D
network reproduces the stage outputs of the 2D network on one slice. The 2D
references are mmdet ResNets with random weights and random BatchNorm
statistics, in eval mode.
"""
import pytest
import torch

from cspr_det.models.utils import (inflate_2d_resnet, inflate_conv_weight,
                                   normalize_2d_resnet_keys)
from cspr_det.registry import MODELS


@torch.no_grad()
def _randomise_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.weight.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)


def _resnet2d(depth):
    torch.manual_seed(0)
    m = MODELS.build(
        dict(
            type='mmdet.ResNet',
            depth=depth,
            base_channels=8,
            in_channels=3,
            init_cfg=None))
    _randomise_bn(m)
    m.eval()  # mmdet's ResNet.train() returns None
    return m


@pytest.mark.parametrize('cfg', [
    dict(type='cspr_det.MP3DResNet', collapse='gtm'),
    dict(type='cspr_det.MP3DResNet', collapse='gtm', act_before_sum=False),
    dict(type='cspr_det.P3DResNet'),
])
def test_inflated_p3d63_equals_resnet50_on_identical_slices(cfg):
    r2d = _resnet2d(50)
    m = MODELS.build(dict(cfg, depth=63, base_channels=8, num_slices=9))
    report = inflate_2d_resnet(m, r2d.state_dict())
    assert report['mismatched'] == [] and report['unused'] == []
    assert all(k.startswith('collapse') for k in report['kept'])
    assert len(report['loaded']) == len(r2d.state_dict())
    m.eval()
    grey = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        ref = r2d(grey.expand(2, 3, 64, 64))
        out = m(grey.expand(2, 9, 64, 64))
    for a, b in zip(out, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('depth', [18, 50])
def test_inflated_resnet3d_equals_resnet2d_on_every_slice(depth):
    r2d = _resnet2d(depth)
    m = MODELS.build(
        dict(type='cspr_det.ResNet3D', depth=depth, base_channels=8))
    report = inflate_2d_resnet(m, r2d.state_dict(), strict=True)
    assert report['kept'] == [] and report['depth_init'] == []
    m.eval()
    grey = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        ref = r2d(grey.expand(1, 3, 64, 64))
        out = m(grey.expand(1, 3, 64, 64))
    for a, b in zip(out, ref):
        for s in range(3):
            torch.testing.assert_close(a[:, :, s], b, rtol=1e-4, atol=1e-5)


def test_key_layouts_torchvision_mmcls_timm():
    sd = _resnet2d(18).state_dict()
    head = {'fc.weight': torch.randn(10, 64), 'fc.bias': torch.randn(10)}
    torchvision = dict(sd, **head)
    mmcls = {f'backbone.{k}': v for k, v in sd.items()}
    mmcls.update({
        'head.fc.weight': head['fc.weight'],
        'head.fc.bias': head['fc.bias']
    })
    wrapped = {'state_dict': mmcls, 'meta': {}}
    ddp = {f'module.{k}': v for k, v in torchvision.items()}
    reports = []
    for layout in (torchvision, wrapped, ddp):
        m = MODELS.build(
            dict(type='cspr_det.ResNet3D', depth=18, base_channels=8))
        rep = inflate_2d_resnet(m, layout)
        assert len(rep['loaded']) == len(sd)
        assert len(rep['unused']) == 2
        assert all('fc' in k for k in rep['unused'])
        reports.append(m.state_dict())
    for k in reports[0]:
        torch.testing.assert_close(reports[0][k], reports[1][k])
        torch.testing.assert_close(reports[0][k], reports[2][k])
    norm, dropped = normalize_2d_resnet_keys({
        'backbone.layer1.0.gn1.weight':
        torch.ones(2),
        'neck.x':
        torch.ones(1)
    })
    assert list(norm) == ['layer1.0.bn1.weight'] and dropped == ['neck.x']
    with pytest.raises(ValueError, match='no 2D ResNet keys'):
        normalize_2d_resnet_keys({'fc.weight': torch.ones(1)})


def test_first_conv_sum_and_centre_tap():
    w = torch.randn(4, 3, 7, 7)
    one = inflate_conv_weight(w, torch.Size((4, 1, 1, 7, 7)))
    torch.testing.assert_close(one[:, 0, 0], w.sum(1))
    three = inflate_conv_weight(w, torch.Size((4, 3, 7, 7, 7)))
    torch.testing.assert_close(three[:, :, 3], w)
    assert three[:, :, :3].abs().sum() == 0
    assert three[:, :, 4:].abs().sum() == 0
    two = inflate_conv_weight(w, torch.Size((4, 2, 1, 7, 7)))
    torch.testing.assert_close(two[:, 0, 0] + two[:, 1, 0], w.sum(1))
    with pytest.raises(ValueError, match='cannot inflate'):
        inflate_conv_weight(w, torch.Size((4, 1, 1, 3, 3)))


def test_cli_writes_loadable_checkpoint(tmp_path):
    import sys
    sys.path.insert(0, 'tools/model_converters')
    try:
        import inflate_2d_resnet as cli
    finally:
        sys.path.pop(0)
    src, dst = tmp_path / 'r18.pth', tmp_path / 'out.pth'
    r2d = _resnet2d(50)
    torch.save({'state_dict': r2d.state_dict()}, src)
    assert cli.main([
        str(src),
        str(dst), '--arch', 'mp3d', '--depth', '63', '--base-channels', '8'
    ]) == 0
    m = MODELS.build(
        dict(
            type='cspr_det.MP3DResNet',
            depth=63,
            base_channels=8,
            num_slices=9,
            init_cfg=dict(
                type='Pretrained', checkpoint=str(dst), prefix='backbone.')))
    m.init_weights()
    m.eval()
    grey = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        ref = r2d(grey.expand(1, 3, 64, 64))
        out = m(grey.expand(1, 9, 64, 64))
    torch.testing.assert_close(out[3], ref[3], rtol=1e-4, atol=1e-5)
