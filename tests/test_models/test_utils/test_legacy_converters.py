"""Legacy checkpoint conversion (synthetic legacy state dicts from
``tests/legacy_checkpoints.py``, generated from the layout described in
``cspr_det/models/utils/legacy.py``)."""
import pytest
import torch
from mmengine.config import Config

from cspr_det.models.utils import (convert_cspr_resnet3d, convert_mp3d,
                                   infer_cspr_resnet3d_config,
                                   infer_mp3d_config, load_strict_with_report,
                                   report_is_clean)
from cspr_det.registry import MODELS
from cspr_det.utils.checkpoint_loading import load_local_checkpoint
from legacy_checkpoints import legacy_cspr_r3d, legacy_mp3d
from tool_loader import load_tool

convert_mp3d_tool = load_tool('tools/model_converters/convert_mp3d.py')
convert_cspr_tool = load_tool(
    'tools/model_converters/convert_cspr_resnet3d.py')


@pytest.mark.parametrize('kind,blocks,depth',
                         [('bottleneck', (3, 4, 6, 3), 63),
                          ('basic', (2, 2, 2, 2), '18ba')])
@pytest.mark.parametrize('collapse', ['gtm', 'conv'])
def test_mp3d_converts_and_loads_strictly(kind, blocks, depth, collapse):
    legacy = legacy_mp3d(kind, blocks, collapse=collapse)
    cfg = infer_mp3d_config(legacy)
    assert cfg['depth'] == depth and cfg['num_slices'] == 3
    assert cfg['collapse'] == collapse and cfg['style'] == 'caffe'
    backbone, others = convert_mp3d(legacy)
    assert sorted(others) == [
        'neck.lateral_convs.0.conv.weight', 'roi_head.bbox_head.fc_cls.weight'
    ]
    model = MODELS.build(cfg)
    report = load_strict_with_report(model, backbone)
    assert report_is_clean(report), report
    assert len(report['loaded']) == len(model.state_dict())
    sd = model.state_dict()
    if kind == 'bottleneck':
        pairs = {
            'layer2.0.conv3.weight': 'layer2.0.conv2.conv_t.weight',
            'layer2.0.norm_4.running_var': 'layer2.0.norm3.running_var',
            'layer3.1.conv2.weight': 'layer3.1.conv2.conv_s.weight'
        }
    else:
        pairs = {
            'layer2.0.conv2.weight': 'layer2.0.conv1.conv_t.weight',
            'layer4.1.conv3.weight': 'layer4.1.conv2.conv_s.weight',
            'layer1.0.norm_4.bias': 'layer1.0.conv2.norm_t.bias'
        }
    pairs['conv1_custom.weight'] = 'conv1.weight'
    pairs['groupconv_2.weight' if collapse ==
          'gtm' else 'conv3d_all_2.weight'] = 'collapse2.conv.weight'
    for old, new in pairs.items():
        torch.testing.assert_close(sd[new], legacy[f'backbone.{old}'])
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 32, 32))
    assert outs[3].shape[1] == model.out_channels[3]


def test_mp3d_gn_and_p3d_baseline_cli(tmp_path, capsys):
    legacy = legacy_mp3d('basic', (2, 2, 2, 2), base=32, gn=True)
    cfg = infer_mp3d_config(legacy)
    assert cfg['norm_cfg']['type'] == 'GN'
    src, dst = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    torch.save({'state_dict': legacy, 'meta': {}}, src)
    assert convert_mp3d_tool.main([str(src), str(dst)]) == 0
    assert f'wrote {dst} and {tmp_path / "new.py"}' in capsys.readouterr().out
    saved = load_local_checkpoint(str(dst))
    new = saved['state_dict']
    assert 'backbone.collapse4.conv.weight' in new
    assert 'roi_head.bbox_head.fc_cls.weight' in new
    arch = saved['meta']['backbone_arch']
    assert arch['type'] == 'MP3DResNet' and arch['depth'] == '18ba'
    assert arch['style'] == 'caffe' and arch['stem_pool_kernel'] == (3, 3, 3)
    assert arch['norm'] == 'GN' and arch['norm_groups'] == 32
    assert arch['collapse'] == 'gtm' and arch['num_slices'] == 3
    assert arch['base_channels'] == 32
    assert saved['meta']['source'] == str(src)
    report = convert_mp3d_tool.convert(
        str(src), str(tmp_path / 'p3d.pth'), baseline=True)
    assert report_is_clean(report)
    arch = load_local_checkpoint(str(tmp_path /
                                     'p3d.pth'))['meta']['backbone_arch']
    assert arch['type'] == 'P3DResNet' and arch['num_slices'] is None


def test_mp3d_written_config_builds_the_converted_backbone(tmp_path):
    """The config written beside the checkpoint inherits the shipped
    MP3D-18ba detector and builds the backbone the checkpoint records; the
    neck follows the converted widths."""
    legacy = legacy_mp3d('basic', (2, 2, 2, 2), base=32, gn=True, slices=9)
    dst = tmp_path / 'mp3d18ba.pth'
    report = convert_mp3d_tool.convert(legacy, str(dst))
    assert report['written'] == [str(dst), str(tmp_path / 'mp3d18ba.py')]
    cfg = Config.fromfile(str(tmp_path / 'mp3d18ba.py'))
    assert cfg.load_from == str(dst)
    assert cfg.model.backbone.norm_cfg == dict(
        type='GN', num_groups=32, requires_grad=True)
    assert cfg.model.neck.in_channels == [32, 64, 128, 256]
    backbone = MODELS.build(cfg.model.backbone)
    from cspr_det.models.utils import describe_backbone
    recorded = load_local_checkpoint(str(dst))['meta']['backbone_arch']
    assert describe_backbone(backbone) == recorded
    detector = MODELS.build(cfg.model)  # neck widths fit the backbone
    assert detector.neck.lateral_convs[0].conv.in_channels == 32


def test_mp3d_unmatched_keys_are_reported_and_nothing_written(
        tmp_path, capsys):
    legacy = legacy_mp3d('basic', (2, 2, 2, 2))
    del legacy['backbone.layer3.1.norm_2.weight']
    legacy['backbone.layer1.0.conv5.weight'] = torch.randn(1)
    legacy['backbone.extra_fc.weight'] = torch.randn(1)
    backbone, _ = convert_mp3d(legacy)
    model = MODELS.build(infer_mp3d_config(legacy))
    report = load_strict_with_report(model, backbone)
    assert report['missing'] == ['layer3.1.conv1.norm_t.weight']
    assert sorted(
        report['unexpected']) == ['extra_fc.weight', 'layer1.0.conv5.weight']
    src, dst = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    torch.save(legacy, src)
    assert convert_mp3d_tool.main([str(src), str(dst)]) == 1
    assert not dst.exists() and not (tmp_path / 'new.py').exists()
    printed = capsys.readouterr().out
    assert 'layer3.1.conv1.norm_t.weight' in printed
    assert 'extra_fc.weight' in printed
    assert 'NOT converted' in printed


@pytest.mark.parametrize('gn', [False, True])
def test_cspr_resnet3d_converts_and_loads_strictly(tmp_path, gn):
    legacy = legacy_cspr_r3d(base=32 if gn else 8, gn=gn)
    backbone, others = convert_cspr_resnet3d(legacy)
    assert sorted(others) == ['head.fc.bias', 'head.fc.weight']
    src, dst = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    torch.save({'state_dict': legacy}, src)
    report = convert_cspr_tool.convert(str(src), str(dst))
    assert report_is_clean(report), report
    saved = load_local_checkpoint(str(dst))
    new = saved['state_dict']
    torch.testing.assert_close(
        new['backbone.layer2.0.norm1.weight'],
        legacy[f'backbone.layer2.0.'
               f'{"gn" if gn else "bn"}1.weight'])
    torch.testing.assert_close(new['head.fc.weight'], legacy['head.fc.weight'])
    # the ResNet3D record leaves strides and pooling out (the encoder is
    # transferred into networks with other strides on purpose)
    assert set(saved['meta']['backbone_arch']) == {
        'type', 'depth', 'in_channels', 'base_channels', 'stem_channels',
        'stem_kernel', 'norm'
    } | ({'norm_groups'} if gn else set())
    model = MODELS.build(
        dict(
            type='cspr_det.ResNet3D',
            depth=18,
            base_channels=32 if gn else 8,
            depth_strides=(1, 2, 2, 2),
            norm_cfg=dict(type='GN', num_groups=32) if gn else None,
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone', checkpoint=str(dst))))
    model.init_weights()
    torch.testing.assert_close(model.layer4[1].conv2.weight,
                               legacy['backbone.layer4.1.conv2.weight'])
    cfg = Config.fromfile(str(tmp_path / 'new.py'))  # the VDT classifier
    assert cfg.model.head.in_channels == 8 * (4 if gn else 1) * 8
    assert MODELS.build(cfg.model).backbone.base_channels == (32 if gn else 8)
    bad = dict(legacy)
    bad['backbone.layer1.0.conv1.weight'] = torch.randn(8, 8, 3, 3, 1)
    bad_report = convert_cspr_tool.convert(bad, str(tmp_path / 'bad.pth'))
    assert not report_is_clean(bad_report)
    assert bad_report['mismatched'][0].startswith('layer1.0.conv1.weight')
    assert not (tmp_path / 'bad.pth').exists()


def _wrap(sd, layout):
    """The same tensors in the layouts a released file can have."""
    if layout == 'prefixed':
        return dict(sd)
    plain = {
        k[len('backbone.'):] if k.startswith('backbone.') else k: v
        for k, v in sd.items()
    }
    if layout == 'prefix-less':
        return plain
    if layout == 'prefix-less+state_dict':
        return {'state_dict': plain, 'meta': {'epoch': 100}}
    if layout == 'prefix-less+module':
        return {f'module.{k}': v for k, v in plain.items()}
    if layout == 'prefixed+module+state_dict':
        return {'state_dict': {f'module.{k}': v for k, v in sd.items()}}
    raise ValueError(layout)


@pytest.mark.parametrize('layout', [
    'prefix-less', 'prefix-less+state_dict', 'prefix-less+module',
    'prefixed+module+state_dict'
])
def test_cspr_resnet3d_released_layouts(tmp_path, layout):
    """Released CSPR files (``backbone.`` stripped by the publishing script,
    ``bnK`` names, ``module.`` / ``state_dict`` wrappers) convert to the
    same checkpoint as the prefixed layout."""
    legacy = legacy_cspr_r3d(base=8)
    ref = tmp_path / 'ref.pth'
    assert report_is_clean(convert_cspr_tool.convert(legacy, str(ref)))
    src, dst = tmp_path / 'released.pth', tmp_path / 'out.pth'
    torch.save(_wrap(legacy, layout), src)
    assert infer_cspr_resnet3d_config(torch.load(
        src, weights_only=False))['depth'] == 18
    report = convert_cspr_tool.convert(str(src), str(dst))
    assert report_is_clean(report), report
    assert report['passed_through'] == ['head.fc.bias', 'head.fc.weight']
    expected = torch.load(ref, weights_only=False)['state_dict']
    got = load_local_checkpoint(str(dst))['state_dict']
    assert sorted(got) == sorted(expected)
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], msg=k)


def test_cspr_resnet3d_prefix_less_strict_report(tmp_path, capsys):
    """A prefix-less file with a missing and an unknown backbone key gets
    the same strict report, and nothing is written."""
    plain = _wrap(legacy_cspr_r3d(base=8), 'prefix-less')
    del plain['layer2.1.bn2.bias']
    plain['layer3.0.conv9.weight'] = torch.randn(2)
    src, dst = tmp_path / 'released.pth', tmp_path / 'out.pth'
    torch.save(plain, src)
    assert convert_cspr_tool.main([str(src), str(dst)]) == 1
    printed = capsys.readouterr().out
    assert 'missing: 1\n    layer2.1.norm2.bias' in printed
    assert 'unexpected: 1\n    layer3.0.conv9.weight' in printed
    assert 'NOT converted' in printed and not dst.exists()
