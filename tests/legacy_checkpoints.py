"""Synthetic legacy checkpoints (CSPR mmcls-0.6 ResNet3D, MP3D mmdet-2.x
``modified_P3D``) for the converter tests.

The real legacy files are not available, so these state dicts are generated
from the legacy key names and shapes documented in
``cspr_det/models/utils/legacy.py`` with random values. The generators use
only that description (block lists, widths, kernel shapes, P3D type cycle),
not the cspr_det modules, so a naming or shape disagreement between the two
shows up as a failed strict load.
"""
import torch


def _norm(sd, prefix, c, gn=False):
    sd[f'{prefix}.weight'] = torch.rand(c) + 0.5
    sd[f'{prefix}.bias'] = torch.randn(c) * 0.1
    if not gn:
        sd[f'{prefix}.running_mean'] = torch.randn(c) * 0.1
        sd[f'{prefix}.running_var'] = torch.rand(c) + 0.5
        sd[f'{prefix}.num_batches_tracked'] = torch.tensor(7)


def legacy_mp3d(kind='bottleneck',
                blocks=(3, 4, 6, 3),
                base=8,
                slices=3,
                gn=False,
                collapse='gtm'):
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
                          (planes, inplanes if st == 'B' else planes, 3, 1, 1),
                          (planes, planes, 1, 3, 3), (planes, planes, 3, 1, 1)]
                outs = [planes] * 4
            else:
                shapes = [(planes, inplanes, 1, 1, 1),
                          (planes, planes, 1, 3, 3), (planes, planes, 3, 1, 1),
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
