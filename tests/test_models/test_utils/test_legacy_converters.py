"""Legacy checkpoint conversion.

The real legacy files are not available, so the state dicts here are
synthetic: they are generated below from the legacy key names and shapes
documented in ``cspr_det/models/utils/legacy.py`` (CSPR mmcls-0.6 ResNet3D,
MP3D mmdet-2.x ``modified_P3D``) with random values. The generators use only
that description (block lists, widths, kernel shapes, P3D type cycle), not
the cspr_det modules, so a naming or shape disagreement between the two
shows up as a failed strict load.
"""
import sys

import pytest
import torch

from cspr_det.models.utils import (convert_cspr_resnet3d, convert_mp3d,
                                   infer_mp3d_config, load_strict_with_report,
                                   report_is_clean)
from cspr_det.registry import MODELS


def _norm(sd, prefix, c, gn=False):
    sd[f'{prefix}.weight'] = torch.rand(c) + 0.5
    sd[f'{prefix}.bias'] = torch.randn(c) * 0.1
    if not gn:
        sd[f'{prefix}.running_mean'] = torch.randn(c) * 0.1
        sd[f'{prefix}.running_var'] = torch.rand(c) + 0.5
        sd[f'{prefix}.num_batches_tracked'] = torch.tensor(7)


def legacy_mp3d(kind='bottleneck', blocks=(3, 4, 6, 3), base=8, slices=3,
                gn=False, collapse='gtm'):
    """Synthetic MP3D (mmdet 2.x fork) detector state dict."""
    torch.manual_seed(0)
    sd = {'backbone.conv1_custom.weight': torch.randn(base, 1, 1, 7, 7)}
    _norm(sd, 'backbone.norm1', base, gn)
    exp = 1 if kind == 'basic' else 4
    inplanes, cnt = base, 0
    for i, n in enumerate(blocks):
        planes = base * 2**i
        for j in range(n):
            p = f'backbone.layer{i + 1}.{j}'
            st = 'ABC'[cnt % 3]
            if kind == 'basic':
                shapes = [(planes, inplanes, 1, 3, 3),
                          (planes, inplanes if st == 'B' else planes, 3, 1,
                           1), (planes, planes, 1, 3, 3),
                          (planes, planes, 3, 1, 1)]
                outs = [planes] * 4
            else:
                shapes = [(planes, inplanes, 1, 1, 1),
                          (planes, planes, 1, 3, 3),
                          (planes, planes, 3, 1, 1),
                          (planes * 4, planes, 1, 1, 1)]
                outs = [planes, planes, planes, planes * 4]
            for k, (shape, c) in enumerate(zip(shapes, outs), 1):
                sd[f'{p}.conv{k}.weight'] = torch.randn(shape) * 0.1
                _norm(sd, f'{p}.norm_{k}', c, gn)
            if j == 0 and (i > 0 or inplanes != planes * exp):
                sd[f'{p}.downsample.0.weight'] = torch.randn(
                    planes * exp, inplanes, 1, 1, 1) * 0.1
                _norm(sd, f'{p}.downsample.1', planes * exp, gn)
            inplanes = planes * exp
            cnt += 1
    for i in range(4):
        c = base * 2**i * exp
        if collapse == 'gtm':
            sd[f'backbone.groupconv_{i + 1}.weight'] = torch.randn(
                c, slices, 1, 1)
        elif collapse == 'conv':
            sd[f'backbone.conv3d_all_{i + 1}.weight'] = torch.randn(
                c, c, slices, 1, 1) * 0.01
    sd['neck.lateral_convs.0.conv.weight'] = torch.randn(4, base * exp, 1, 1)
    sd['roi_head.bbox_head.fc_cls.weight'] = torch.randn(2, 16)
    return sd


def legacy_cspr_r3d(blocks=(2, 2, 2, 2), base=8, gn=False, classes=10):
    """Synthetic CSPR ResNet3D-18 (mmcls 0.6 fork) classifier state dict."""
    torch.manual_seed(0)
    bn = 'gn' if gn else 'bn'
    sd = {'backbone.conv1.weight': torch.randn(base, 1, 7, 7, 7)}
    _norm(sd, f'backbone.{bn}1', base, gn)
    inplanes = base
    for i, n in enumerate(blocks):
        planes = base * 2**i
        for j in range(n):
            p = f'backbone.layer{i + 1}.{j}'
            sd[f'{p}.conv1.weight'] = torch.randn(planes, inplanes, 3, 3, 3)
            _norm(sd, f'{p}.{bn}1', planes, gn)
            sd[f'{p}.conv2.weight'] = torch.randn(planes, planes, 3, 3, 3)
            _norm(sd, f'{p}.{bn}2', planes, gn)
            if j == 0 and i > 0:
                sd[f'{p}.downsample.0.weight'] = torch.randn(
                    planes, inplanes, 1, 1, 1)
                _norm(sd, f'{p}.downsample.1', planes, gn)
            inplanes = planes
    sd['head.fc.weight'] = torch.randn(classes, inplanes)
    sd['head.fc.bias'] = torch.randn(classes)
    return sd


@pytest.mark.parametrize('kind,blocks,depth', [
    ('bottleneck', (3, 4, 6, 3), 63), ('basic', (2, 2, 2, 2), '18ba')
])
@pytest.mark.parametrize('collapse', ['gtm', 'conv'])
def test_mp3d_converts_and_loads_strictly(kind, blocks, depth, collapse):
    legacy = legacy_mp3d(kind, blocks, collapse=collapse)
    cfg = infer_mp3d_config(legacy)
    assert cfg['depth'] == depth and cfg['num_slices'] == 3
    assert cfg['collapse'] == collapse and cfg['style'] == 'caffe'
    backbone, others = convert_mp3d(legacy)
    assert sorted(others) == ['neck.lateral_convs.0.conv.weight',
                              'roi_head.bbox_head.fc_cls.weight']
    model = MODELS.build(cfg)
    report = load_strict_with_report(model, backbone)
    assert report_is_clean(report), report
    assert len(report['loaded']) == len(model.state_dict())
    sd = model.state_dict()
    if kind == 'bottleneck':
        pairs = {'layer2.0.conv3.weight': 'layer2.0.conv2.conv_t.weight',
                 'layer2.0.norm_4.running_var': 'layer2.0.norm3.running_var',
                 'layer3.1.conv2.weight': 'layer3.1.conv2.conv_s.weight'}
    else:
        pairs = {'layer2.0.conv2.weight': 'layer2.0.conv1.conv_t.weight',
                 'layer4.1.conv3.weight': 'layer4.1.conv2.conv_s.weight',
                 'layer1.0.norm_4.bias': 'layer1.0.conv2.norm_t.bias'}
    pairs['conv1_custom.weight'] = 'conv1.weight'
    pairs['groupconv_2.weight' if collapse == 'gtm' else
          'conv3d_all_2.weight'] = 'collapse2.conv.weight'
    for old, new in pairs.items():
        torch.testing.assert_close(sd[new], legacy[f'backbone.{old}'])
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 32, 32))
    assert outs[3].shape[1] == model.out_channels[3]


def test_mp3d_gn_and_p3d_baseline_cli(tmp_path):
    legacy = legacy_mp3d('basic', (2, 2, 2, 2), base=32, gn=True)
    cfg = infer_mp3d_config(legacy)
    assert cfg['norm_cfg']['type'] == 'GN'
    sys.path.insert(0, 'tools/model_converters')
    try:
        import convert_mp3d as cli
    finally:
        sys.path.pop(0)
    src, dst = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    torch.save({'state_dict': legacy, 'meta': {}}, src)
    assert cli.main([str(src), str(dst)]) == 0
    new = torch.load(dst, weights_only=False)['state_dict']
    assert 'backbone.collapse4.conv.weight' in new
    assert 'roi_head.bbox_head.fc_cls.weight' in new
    report = cli.convert(str(src), str(tmp_path / 'p3d.pth'), baseline=True)
    assert report_is_clean(report)


def test_mp3d_unmatched_keys_are_reported_and_nothing_written(tmp_path,
                                                              capsys):
    legacy = legacy_mp3d('basic', (2, 2, 2, 2))
    del legacy['backbone.layer3.1.norm_2.weight']
    legacy['backbone.layer1.0.conv5.weight'] = torch.randn(1)
    legacy['backbone.extra_fc.weight'] = torch.randn(1)
    backbone, _ = convert_mp3d(legacy)
    model = MODELS.build(infer_mp3d_config(legacy))
    report = load_strict_with_report(model, backbone)
    assert report['missing'] == ['layer3.1.conv1.norm_t.weight']
    assert sorted(report['unexpected']) == ['extra_fc.weight',
                                            'layer1.0.conv5.weight']
    sys.path.insert(0, 'tools/model_converters')
    try:
        import convert_mp3d as cli
    finally:
        sys.path.pop(0)
    src, dst = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    torch.save(legacy, src)
    assert cli.main([str(src), str(dst)]) == 1
    assert not dst.exists()
    printed = capsys.readouterr().out
    assert 'layer3.1.conv1.norm_t.weight' in printed
    assert 'extra_fc.weight' in printed


@pytest.mark.parametrize('gn', [False, True])
def test_cspr_resnet3d_converts_and_loads_strictly(tmp_path, gn):
    legacy = legacy_cspr_r3d(base=32 if gn else 8, gn=gn)
    backbone, others = convert_cspr_resnet3d(legacy)
    assert sorted(others) == ['head.fc.bias', 'head.fc.weight']
    sys.path.insert(0, 'tools/model_converters')
    try:
        import convert_cspr_resnet3d as cli
    finally:
        sys.path.pop(0)
    src, dst = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    torch.save({'state_dict': legacy}, src)
    report = cli.convert(str(src), str(dst))
    assert report_is_clean(report), report
    new = torch.load(dst, weights_only=False)['state_dict']
    torch.testing.assert_close(new['backbone.layer2.0.norm1.weight'],
                               legacy[f'backbone.layer2.0.'
                                      f'{"gn" if gn else "bn"}1.weight'])
    torch.testing.assert_close(new['head.fc.weight'], legacy['head.fc.weight'])
    model = MODELS.build(dict(
        type='cspr_det.ResNet3D', depth=18, base_channels=32 if gn else 8,
        norm_cfg=dict(type='GN', num_groups=32) if gn else None,
        init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                      prefix='backbone.')))
    model.init_weights()
    torch.testing.assert_close(model.layer4[1].conv2.weight,
                               legacy['backbone.layer4.1.conv2.weight'])
    bad = dict(legacy)
    bad['backbone.layer1.0.conv1.weight'] = torch.randn(8, 8, 3, 3, 1)
    bad_report = cli.convert(bad, str(tmp_path / 'bad.pth'))
    assert not report_is_clean(bad_report)
    assert bad_report['mismatched'][0].startswith('layer1.0.conv1.weight')
    assert not (tmp_path / 'bad.pth').exists()
