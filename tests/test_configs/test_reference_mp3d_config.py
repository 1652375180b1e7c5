"""The MP3D-63 leaf for the reference network's released weights builds the
backbone that ``convert_mp3d.py`` records for an MP3D-63 (GTM, GroupNorm,
9 slices) checkpoint, and the default MP3D-63 leaf does not."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cspr_det.models.utils import (default_base_config, describe_backbone,
                                   infer_mp3d_config)
from cspr_det.registry import MODELS
from legacy_checkpoints import legacy_mp3d

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = ('deeplesion/faster-rcnn_mp3d63-gtm-reference_fpn_8xb2-24e_'
             'deeplesion-9slice.py')
DEFAULT = 'deeplesion/faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py'


def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', name))


def test_reference_leaf_matches_the_converted_mp3d63():
    init_default_scope('mmdet')
    cfg = _cfg(REFERENCE)  # the whole detector is built and run by
    backbone = MODELS.build(cfg.model.backbone)  # test_detection_configs
    assert type(backbone).__name__ == 'MP3DResNet' and backbone.depth == 63
    assert backbone.style == 'caffe' and backbone.collapse == 'gtm'
    assert backbone.num_slices == 9
    assert backbone.maxpool.kernel_size == (3, 3, 3)
    assert isinstance(backbone.norm1, torch.nn.GroupNorm)
    # caffe style: the stride sits in the bottleneck's first 1x1x1 conv
    assert backbone.layer2[0].conv1.stride == (1, 2, 2)
    assert backbone.layer2[0].conv2.conv_s.stride == (1, 1, 1)
    assert list(cfg.model.neck.in_channels) == backbone.out_channels

    legacy = legacy_mp3d(
        'bottleneck', (3, 4, 6, 3), base=64, slices=9, gn=True)
    converted_cfg = infer_mp3d_config(legacy)
    assert default_base_config(converted_cfg) == REFERENCE
    recorded = describe_backbone(MODELS.build(converted_cfg))
    assert describe_backbone(backbone) == recorded
    default = describe_backbone(MODELS.build(_cfg(DEFAULT).model.backbone))
    assert {k
            for k in recorded
            if recorded[k] != default[k]} == {'style', 'stem_pool_kernel'}
    # the two leaves differ in exactly these backbone keys
    assert _cfg(REFERENCE).model.backbone.to_dict() == dict(
        _cfg(DEFAULT).model.backbone.to_dict(),
        style='caffe',
        stem_pool_kernel=(3, 3, 3))
