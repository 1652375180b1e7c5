"""Converted checkpoints record their backbone architecture and cannot be
loaded into a backbone built otherwise."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cspr_det.models.utils import (ArchitectureMismatchError, arch_differences,
                                   describe_backbone, load_model_checkpoint)
from cspr_det.registry import MODELS
from legacy_checkpoints import legacy_mp3d
from tool_loader import load_tool

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
convert_mp3d_tool = load_tool('tools/model_converters/convert_mp3d.py')
extract_backbone = load_tool('tools/misc/extract_backbone.py')

TINY = dict(
    type='cspr_det.MP3DResNet',
    depth='18ba',
    base_channels=32,
    num_slices=9,
    norm_cfg=dict(type='GN', num_groups=32))


def test_describe_backbone_sees_what_shapes_do_not():
    """caffe vs pytorch style and the stem pool leave every tensor shape
    unchanged; the description tells them apart, and only them."""
    ref = MODELS.build(
        dict(
            TINY,
            depth=63,
            base_channels=8,
            norm_cfg=dict(type='GN', num_groups=8),
            style='caffe',
            stem_pool_kernel=(3, 3, 3)))
    plain = MODELS.build(
        dict(
            TINY,
            depth=63,
            base_channels=8,
            norm_cfg=dict(type='GN', num_groups=8)))
    assert {
        k: v.shape
        for k, v in ref.state_dict().items()
    } == {
        k: v.shape
        for k, v in plain.state_dict().items()
    }
    arch = describe_backbone(ref)
    assert arch['type'] == 'MP3DResNet' and arch['depth'] == 63
    assert arch['stem_kernel'] == (1, 7, 7)
    assert arch['stem_stride'] == (1, 2, 2)
    assert arch['stage_strides'] == ((1, 1, 1), (1, 2, 2), (1, 2, 2), (1, 2,
                                                                       2))
    assert arch['norm'] == 'GN' and arch['norm_groups'] == 8
    assert arch_differences(arch, describe_backbone(plain)) == [
        "style: checkpoint 'caffe', model 'pytorch'",
        'stem_pool_kernel: checkpoint (3, 3, 3), model (1, 3, 3)'
    ]
    assert arch_differences(
        arch, describe_backbone(plain), waive=['style',
                                               'stem_pool_kernel']) == []
    bn = describe_backbone(MODELS.build(dict(TINY, norm_cfg=None)))
    sync = describe_backbone(
        MODELS.build(dict(TINY, norm_cfg=dict(type='SyncBN'))))
    assert bn['norm'] == sync['norm'] == 'BN' and 'norm_groups' not in bn
    r3d = describe_backbone(
        MODELS.build(
            dict(
                type='cspr_det.ResNet3D',
                depth=18,
                base_channels=8,
                depth_strides=(1, 2, 2, 2),
                with_pool=False)))
    assert r3d['stem_kernel'] == (7, 7, 7) and r3d['stem_pool_kernel'] is None
    assert r3d['stage_strides'][1] == (2, 2, 2)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """A legacy MP3D-18ba (GN, GTM, 9 slices) converted with the tool."""
    tmp = tmp_path_factory.mktemp('converted')
    legacy = legacy_mp3d('basic', (2, 2, 2, 2), base=32, gn=True, slices=9)
    dst = str(tmp / 'mp3d18ba.pth')
    report = convert_mp3d_tool.convert(legacy, dst)
    assert report['written'] == [dst, str(tmp / 'mp3d18ba.py')]
    state = torch.load(dst, weights_only=False)['state_dict']
    return dst, state


class Detector(torch.nn.Module):
    """Stands for a detector: the converted file's neck / head keys are
    reported as unexpected, the backbone is ``model.backbone``."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone


def _init(cfg, checkpoint, **kwargs):
    init_default_scope('mmdet')
    model = MODELS.build(
        dict(
            cfg,
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone',
                checkpoint=checkpoint,
                **kwargs)))
    model.init_weights()
    return model


def test_converted_checkpoint_refused_by_a_mismatching_backbone(converted):
    dst, state = converted
    with pytest.raises(ArchitectureMismatchError) as info:
        _init(
            dict(TINY, num_slices=3, norm_cfg=dict(type='GN', num_groups=16)),
            dst)
    msg = str(info.value)
    assert msg.startswith(f'{dst} was converted for another backbone '
                          'architecture: ')
    for diff in ("style: checkpoint 'caffe', model 'pytorch'",
                 'num_slices: checkpoint 9, model 3',
                 'stem_pool_kernel: checkpoint (3, 3, 3), model (1, 3, 3)',
                 'norm_groups: checkpoint 32, model 16'):
        assert diff in msg
    assert msg.count(': checkpoint ') == 4
    assert 'check_arch=False' in msg
    # a backbone extracted from it keeps the record
    extracted = dst[:-len('.pth')] + '_backbone.pth'
    assert extract_backbone.extract(dst, extracted) == len(
        [k for k in state if k.startswith('backbone.')])
    with pytest.raises(ArchitectureMismatchError, match='style: checkpoint'):
        _init(TINY, extracted)


def test_converted_checkpoint_accepted_by_the_matching_backbone(converted):
    dst, state = converted
    cfg = Config.fromfile(dst[:-len('.pth')] + '.py')  # written beside it
    model = _init(cfg.model.backbone.to_dict(), dst)
    got = model.state_dict()
    assert len(got) == len([k for k in state if k.startswith('backbone.')])
    for k, v in got.items():
        torch.testing.assert_close(v, state[f'backbone.{k}'], msg=k)
    # the same through the whole-model path of tools/test.py (the record
    # is compared with ``model.backbone``): accepted with the written
    # config's backbone, refused with the shipped MP3D-18ba one
    detector = Detector(MODELS.build(cfg.model.backbone))
    load_model_checkpoint(detector, dst, strict=False)
    torch.testing.assert_close(detector.backbone.conv1.weight,
                               state['backbone.conv1.weight'])
    plain = Config.fromfile(
        osp.join(REPO, 'configs', 'deeplesion',
                 'faster-rcnn_mp3d18ba-gtm_fpn_8xb2-24e_deeplesion-9slice.py'))
    with pytest.raises(ArchitectureMismatchError) as info:
        load_model_checkpoint(
            Detector(MODELS.build(plain.model.backbone)), dst, strict=False)
    msg = str(info.value)
    for diff in ("style: checkpoint 'caffe', model 'pytorch'",
                 'stem_pool_kernel: checkpoint (3, 3, 3), model (1, 3, 3)',
                 'base_channels: checkpoint 32, model 64'):
        assert diff in msg


def test_differences_of_excluded_or_adapted_tensors_are_allowed(converted):
    """VDT-style transfer: another slice count with every depth-collapse
    tensor excluded, or more input windows with the stem adapted, is not an
    architecture conflict; ``check_arch=False`` loads anything on purpose."""
    dst, state = converted
    matching = dict(TINY, style='caffe', stem_pool_kernel=(3, 3, 3))
    model = _init(dict(matching, num_slices=3), dst, exclude=['collapse'])
    torch.testing.assert_close(model.layer2[0].conv1.conv_s.weight,
                               state['backbone.layer2.0.conv1.conv_s.weight'])
    model = _init(
        dict(matching, in_channels=2),
        dst,
        adapt_in_channels=[r'^conv1\.weight$'])
    assert model.conv1.weight.shape[1] == 2
    with pytest.raises(ArchitectureMismatchError, match='num_slices'):
        _init(dict(matching, num_slices=3), dst)  # GTM shapes differ too
    model = _init(TINY, dst, check_arch=False)
    torch.testing.assert_close(model.conv1.weight,
                               state['backbone.conv1.weight'])
