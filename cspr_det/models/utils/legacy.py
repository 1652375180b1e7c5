"""Key mapping of the legacy CSPR / MP3D checkpoints to cspr_det modules.

The released checkpoints were not available when this was written; the
legacy layouts below are assumptions derived from the public reference code
(an mmcls 0.6 fork for the CSPR 3D ResNet, an mmdet 2.x fork for MP3D/P3D)
and are stated explicitly so that a mismatch shows up as unmatched keys in
the strict load report, never silently.

CSPR 3D ResNet (mmcls 0.6 ``ImageClassifier`` with ``ResNet3D``):
    ``backbone.conv1.weight`` ``(64, 1, 7, 7, 7)``; ``backbone.bn1.*``
    (``gn1`` with GroupNorm); ``backbone.layer{i}.{j}.conv1/conv2.weight``
    (3x3x3), ``.bn1/.bn2.*``, ``(conv3, bn3 for bottlenecks)``,
    ``.downsample.0.weight`` (1x1x1), ``.downsample.1.*``;
    ``head.fc.weight`` ``(num_classes, 512)``, ``head.fc.bias``.
    Mapping: ``backbone.`` removed, ``bnK``/``gnK`` -> ``normK``; ``head.*``
    passed through unchanged. The released files were written by a
    publishing script that can strip the ``backbone.`` prefix: prefix-less
    keys (``conv1.weight``, ``bn1.*``, ``layer1.0.bn1.*``, ...) are
    recognised as the backbone as well, and ``module.`` / ``state_dict``
    wrappers are removed (:func:`split_backbone`).

MP3D / P3D (mmdet 2.x fork, ``modified_P3D`` / ``P3D``):
    stem ``backbone.conv1_custom.weight`` ``(64, 1, 1, 7, 7)`` and
    ``backbone.norm1.*``; bottleneck blocks ``conv1`` (1x1x1), ``norm_1``,
    ``conv2`` (S, (1,3,3)), ``norm_2``, ``conv3`` (T, (3,1,1)), ``norm_3``,
    ``conv4`` (1x1x1), ``norm_4``, ``downsample.0/1``; basic blocks ('18ba')
    ``conv1`` (S), ``norm_1``, ``conv2`` (T), ``norm_2``, ``conv3`` (S),
    ``norm_3``, ``conv4`` (T), ``norm_4``; depth collapse
    ``backbone.groupconv_{1..4}.weight`` ``(C, D, 1, 1)`` (GTM) or
    ``backbone.conv3d_all_{1..4}.weight`` ``(C, C, D, 1, 1)``. Other
    detector keys (``neck.*``, ``rpn_head.*``, ``roi_head.*``) are passed
    through unchanged, so the whole detector checkpoint converts at once.
    The reference network used stride-in-conv1 bottlenecks and a
    ``(3, 3, 3)`` stem max-pool: build the target with ``style='caffe'`` and
    ``stem_pool_kernel=(3, 3, 3)`` (see :func:`infer_mp3d_config`).

Converted checkpoints record the backbone architecture they were loaded
into (``meta['backbone_arch']``), and :func:`save_converted` writes a ready
config next to them; loading them into a backbone built otherwise fails
with a message naming each difference (see :mod:`.backbone_arch`).
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from cspr_det.registry import MODELS
from .backbone_arch import describe_backbone
from .converted_config import config_path_for, write_converted_config
from .state_dict_io import (StateDict, format_report, match_state_dict,
                            read_state_dict, report_is_clean, split_prefix)

_P3D_DEPTHS = {
    ('basic', (2, 2, 2, 2)): '18ba',
    ('basic', (3, 4, 6, 3)): '34ba',
    ('bottleneck', (3, 4, 6, 3)): 63,
    ('bottleneck', (3, 4, 23, 3)): 131,
    ('bottleneck', (3, 8, 36, 3)): 199,
}
_R3D_DEPTHS = {
    ('basic', (2, 2, 2, 2)): 18,
    ('basic', (3, 4, 6, 3)): 34,
    ('bottleneck', (3, 4, 6, 3)): 50,
}
# Backbone keys of the legacy layouts when a checkpoint carries no
# ``backbone.`` prefix (the CSPR publishing script can strip it).
_CSPR_BACKBONE_KEY = re.compile(r'^(conv1|bn1|gn1|layer[1-4])\.')
_MP3D_BACKBONE_KEY = re.compile(
    r'^(conv1_custom|norm1|layer[1-4]|groupconv_[1-4]|conv3d_all_[1-4])\.')
# What a converted ResNet3D checkpoint records of its architecture: the
# weights' meaning. Strides and the stem pool are left out, since the CSPR
# encoder is transferred into networks with other strides on purpose.
RESNET3D_ARCH_KEYS = ('type', 'depth', 'in_channels', 'base_channels',
                      'stem_channels', 'stem_kernel', 'norm', 'norm_groups')


def split_backbone(
        state_dict: Union[str, Mapping[str, torch.Tensor]],
        backbone_key: re.Pattern = _MP3D_BACKBONE_KEY,
        trust_checkpoint: bool = False) -> Tuple[StateDict, StateDict]:
    """Split a legacy checkpoint into backbone keys and the rest.

    ``{'state_dict': ...}`` wrappers and a ``module.`` prefix are removed
    (:func:`~cspr_det.models.utils.read_state_dict`). When keys carry the
    ``backbone.`` prefix, those keys (prefix removed) are the backbone;
    otherwise (prefix-less files) the keys matching ``backbone_key`` are.

    Args:
        state_dict: A legacy checkpoint: its path, or the loaded mapping.
        backbone_key: The backbone keys of a prefix-less file.
        trust_checkpoint: Read a ``state_dict`` file without the
            allow-list of checkpoint globals (it can run code: only for
            trusted files).

    Returns:
        ``(backbone, rest)``: backbone keys without prefix and every other
        key unchanged.
    """
    state_dict = read_state_dict(state_dict, trust_checkpoint=trust_checkpoint)
    backbone, rest = split_prefix(state_dict, 'backbone.')
    if backbone:
        return backbone, rest
    backbone = {k: v for k, v in state_dict.items() if backbone_key.match(k)}
    rest = {k: v for k, v in state_dict.items() if k not in backbone}
    return backbone, rest


def convert_cspr_resnet3d(
        state_dict: Union[str, Mapping[str, torch.Tensor]],
        trust_checkpoint: bool = False) -> Tuple[StateDict, StateDict]:
    """Map a legacy CSPR 3D ResNet (mmcls 0.6) state dict.

    Args:
        state_dict: The legacy checkpoint (path or loaded mapping).
        trust_checkpoint: Read a ``state_dict`` file without the
            allow-list of checkpoint globals (it can run code: only for
            trusted files).

    Returns:
        ``(backbone, others)``: backbone tensors named as
        :class:`~cspr_det.models.backbones.ResNet3D` (no prefix) and all
        non-backbone tensors (``head.fc.*`` ...) unchanged.
    """
    backbone, rest = split_backbone(state_dict, _CSPR_BACKBONE_KEY,
                                    trust_checkpoint)
    out = {}
    for k, v in backbone.items():
        out[re.sub(r'(^|\.)(bn|gn)(\d)\.', r'\1norm\3.', k)] = v
    return out, rest


_BOTTLENECK_MAP = {
    'conv1': 'conv1',
    'norm_1': 'norm1',
    'conv2': 'conv2.conv_s',
    'norm_2': 'conv2.norm_s',
    'conv3': 'conv2.conv_t',
    'norm_3': 'conv2.norm_t',
    'conv4': 'conv3',
    'norm_4': 'norm3',
}
_BASIC_MAP = {
    'conv1': 'conv1.conv_s',
    'norm_1': 'conv1.norm_s',
    'conv2': 'conv1.conv_t',
    'norm_2': 'conv1.norm_t',
    'conv3': 'conv2.conv_s',
    'norm_3': 'conv2.norm_s',
    'conv4': 'conv2.conv_t',
    'norm_4': 'conv2.norm_t',
}
_BLOCK_KEY = re.compile(r'^(layer[1-4]\.\d+)\.(conv\d|norm_\d)\.(.+)$')


def _block_kind(backbone: Mapping[str, torch.Tensor]) -> str:
    w = backbone.get('layer1.0.conv1.weight')
    if w is None:
        raise ValueError('legacy P3D checkpoint has no layer1.0.conv1.weight '
                         '(with or without the backbone. prefix); first '
                         f'keys: {sorted(backbone)[:5]}')
    return 'basic' if tuple(w.shape[2:]) == (1, 3, 3) else 'bottleneck'


def _stage_blocks(backbone: Mapping[str, torch.Tensor]) -> Tuple[int, ...]:
    counts = []
    for i in range(1, 5):
        ids = {
            int(m.group(1))
            for m in (re.match(rf'^layer{i}\.(\d+)\.', k) for k in backbone)
            if m
        }
        counts.append(max(ids) + 1 if ids else 0)
    return tuple(counts)


def convert_mp3d(
        state_dict: Union[str, Mapping[str, torch.Tensor]],
        trust_checkpoint: bool = False) -> Tuple[StateDict, StateDict]:
    """Map a legacy MP3D / P3D (mmdet 2.x fork) state dict.

    Args:
        state_dict: The legacy checkpoint (path or loaded mapping).
        trust_checkpoint: Read a ``state_dict`` file without the
            allow-list of checkpoint globals (it can run code: only for
            trusted files).

    Returns:
        ``(backbone, others)``: backbone tensors named as
        :class:`~cspr_det.models.backbones.MP3DResNet` /
        :class:`~cspr_det.models.backbones.P3DResNet` (no prefix) and all
        non-backbone tensors unchanged. Legacy backbone keys that fit no rule
        are kept under their legacy name, so a strict load reports them.
    """
    backbone, rest = split_backbone(
        state_dict, trust_checkpoint=trust_checkpoint)
    table = _BASIC_MAP if _block_kind(backbone) == 'basic' \
        else _BOTTLENECK_MAP
    out = {}
    for k, v in backbone.items():
        m = _BLOCK_KEY.match(k)
        if m and m.group(2) in table:
            out[f'{m.group(1)}.{table[m.group(2)]}.{m.group(3)}'] = v
            continue
        m = re.match(r'^(?:groupconv|conv3d_all)_([1-4])\.weight$', k)
        if m:
            out[f'collapse{m.group(1)}.conv.weight'] = v
            continue
        if k.startswith('conv1_custom.'):
            out['conv1.' + k[len('conv1_custom.'):]] = v
            continue
        out[k] = v
    return out, rest


def infer_mp3d_config(state_dict: Union[str, Mapping[str, torch.Tensor]],
                      baseline: bool = False,
                      trust_checkpoint: bool = False) -> dict:
    """Backbone config that a legacy MP3D/P3D checkpoint fits.

    Infers depth (block type and blocks per stage), ``base_channels``,
    ``in_channels``, the norm (BN if running statistics are present, else
    GN with 32 groups), the collapse mode and ``num_slices`` (from the GTM /
    dense-conv weights; ``'center'`` if neither is present, the reference's
    centre crop) and sets the reference's ``style='caffe'``,
    ``stem_pool_kernel=(3, 3, 3)``, branch ReLUs before the sum
    (``act_before_sum=True``) and the A-B-C unit cycle, all written out so
    that no config default can differ.

    Args:
        state_dict: Legacy (unconverted) state dict, or its path.
        baseline: Build ``P3DResNet`` (depth pooling) instead of
            ``MP3DResNet``.
        trust_checkpoint: Read a ``state_dict`` file without the
            allow-list of checkpoint globals (it can run code: only for
            trusted files).
    """
    backbone, _ = split_backbone(state_dict, trust_checkpoint=trust_checkpoint)
    kind = _block_kind(backbone)
    blocks = _stage_blocks(backbone)
    depth = _P3D_DEPTHS.get((kind, blocks))
    if depth is None:
        raise ValueError(f'unknown legacy P3D layout: {kind} blocks {blocks}')
    stem = backbone['conv1_custom.weight']
    has_stats = any(k.endswith('running_mean') for k in backbone)
    cfg = dict(
        type='cspr_det.P3DResNet' if baseline else 'cspr_det.MP3DResNet',
        depth=depth,
        in_channels=int(stem.shape[1]),
        base_channels=int(stem.shape[0]),
        stem_channels=int(stem.shape[0]),
        style='caffe',
        stem_pool_kernel=(3, 3, 3),
        act_before_sum=True,
        p3d_types=('A', 'B', 'C'),
        norm_cfg=dict(type='BN3d', requires_grad=True) if has_stats else dict(
            type='GN', num_groups=32, requires_grad=True))
    if baseline:
        cfg['num_slices'] = None
        return cfg
    if 'groupconv_1.weight' in backbone:
        cfg.update(
            collapse='gtm',
            num_slices=int(backbone['groupconv_1.weight'].shape[1]))
    elif 'conv3d_all_1.weight' in backbone:
        cfg.update(
            collapse='conv',
            num_slices=int(backbone['conv3d_all_1.weight'].shape[2]))
    else:
        cfg.update(collapse='center', num_slices=None)
    return cfg


def infer_cspr_resnet3d_config(state_dict: Union[str, Mapping[str,
                                                              torch.Tensor]],
                               trust_checkpoint: bool = False) -> dict:
    """ResNet3D config that a legacy CSPR checkpoint fits (depth from the
    block layout, widths from the stem, BN vs GN from running stats).

    Args:
        state_dict: The legacy checkpoint (path or loaded mapping).
        trust_checkpoint: Read a ``state_dict`` file without the
            allow-list of checkpoint globals (it can run code: only for
            trusted files).
    """
    backbone, _ = split_backbone(state_dict, _CSPR_BACKBONE_KEY,
                                 trust_checkpoint)
    w = backbone.get('layer1.0.conv1.weight')
    if w is None:
        raise ValueError('legacy ResNet3D checkpoint has no '
                         'layer1.0.conv1.weight (with or without the '
                         'backbone. prefix); first keys: '
                         f'{sorted(backbone)[:5]}')
    kind = 'bottleneck' if tuple(w.shape[2:]) == (1, 1, 1) else 'basic'
    depth = _R3D_DEPTHS.get((kind, _stage_blocks(backbone)))
    if depth is None:
        raise ValueError(f'unknown legacy ResNet3D layout: {kind} blocks '
                         f'{_stage_blocks(backbone)}')
    stem = backbone['conv1.weight']
    has_stats = any(k.endswith('running_mean') for k in backbone)
    return dict(
        type='cspr_det.ResNet3D',
        depth=depth,
        in_channels=int(stem.shape[1]),
        base_channels=int(stem.shape[0]),
        stem_kernel=tuple(stem.shape[2:]),
        norm_cfg=dict(type='BN3d', requires_grad=True) if has_stats else dict(
            type='GN', num_groups=32, requires_grad=True))


def load_strict_with_report(
        model: nn.Module,
        state_dict: Mapping[str, torch.Tensor]) -> Dict[str, List[str]]:
    """Compare ``state_dict`` with ``model`` key by key and shape by shape
    (:func:`~cspr_det.models.utils.match_state_dict`) and load it only if
    everything matches.

    Returns:
        ``dict(loaded=[...], missing=[...], unexpected=[...],
        mismatched=[...])``. Nothing is loaded unless ``missing``,
        ``unexpected`` and ``mismatched`` are all empty.
    """
    report = match_state_dict(model.state_dict(), state_dict)
    del report['excluded']
    if report_is_clean(report):
        model.load_state_dict(dict(state_dict), strict=True)
    return report


def save_converted(backbone: StateDict,
                   others: StateDict,
                   cfg: dict,
                   dst: str,
                   converter: str,
                   arch_keys: Optional[Sequence[str]] = None,
                   source: Optional[str] = None,
                   base_config: Optional[str] = None) -> Dict[str, List[str]]:
    """Build the backbone ``cfg``, load the converted ``backbone`` tensors
    strictly and, when nothing is missing, unexpected or mismatched, write
    ``dst`` and a ready config next to it.

    The checkpoint's ``state_dict`` holds the backbone under ``backbone.``
    and ``others`` (neck, heads) unchanged; its ``meta`` holds
    ``backbone_cfg``, ``backbone_arch`` (the
    :func:`~cspr_det.models.utils.describe_backbone` record that every
    cspr_det loading path checks), ``converter`` and ``source``. The config
    (:func:`~cspr_det.models.utils.write_converted_config`) is
    ``dst`` with ``.py`` instead of ``.pth``.

    Args:
        backbone, others: Output of a ``convert_*`` function.
        cfg: Backbone config the checkpoint fits.
        dst: Output checkpoint path.
        converter: Name recorded in ``meta``.
        arch_keys: Keys of the architecture record to keep (default all).
        source: The legacy file, recorded in ``meta`` and the config.
        base_config: ``_base_`` of the written config (default: the shipped
            config for this backbone, see :func:`default_base_config`).

    Returns:
        dict: The :func:`load_strict_with_report` report plus
        ``passed_through`` (the sorted keys of ``others``) and ``written``
        (the checkpoint and config paths; empty when nothing was written).
    """
    model = MODELS.build(cfg)
    report = load_strict_with_report(model, backbone)
    report['passed_through'] = sorted(others)
    report['written'] = []
    if report_is_clean(report):
        arch = describe_backbone(model)
        if arch_keys is not None:
            arch = {k: v for k, v in arch.items() if k in arch_keys}
        sd = {f'backbone.{k}': v for k, v in backbone.items()}
        sd.update(others)
        torch.save(
            dict(
                state_dict=sd,
                meta=dict(
                    backbone_cfg=cfg,
                    backbone_arch=arch,
                    converter=converter,
                    source=source)), dst)
        config = config_path_for(dst)
        write_converted_config(
            config,
            cfg,
            dst,
            base_config or default_base_config(cfg),
            out_channels=list(model.out_channels),
            header=f'Written by tools/model_converters/{converter}.py' +
            (f' from {source}' if source else '') + '.')
        report['written'] = [dst, config]
    return report


def default_base_config(cfg: Mapping) -> str:
    """The shipped config a converted backbone is written on top of: the
    reference MP3D-63 detector, the MP3D-18ba / P3D-63 detectors, or the
    VDT ResNet3D-18 classifier (for ResNet3D)."""
    kind = str(cfg['type']).split('.')[-1]
    depth = str(cfg.get('depth'))
    if kind == 'ResNet3D':
        name = 'pretrain/vdt_resnet3d18_8xb32-cosine-100e_imagenet.py'
    elif kind == 'P3DResNet':
        name = 'deeplesion/faster-rcnn_p3d63_fpn_8xb2-24e_deeplesion-9slice.py'
    elif depth in ('18ba', '34ba'):
        name = ('deeplesion/faster-rcnn_mp3d18ba-gtm_fpn_8xb2-24e_'
                'deeplesion-9slice.py')
    else:
        name = ('deeplesion/faster-rcnn_mp3d63-gtm-reference_fpn_8xb2-24e_'
                'deeplesion-9slice.py')
    return name


def conversion_summary(report: Mapping[str, List[str]],
                       dst: str) -> Tuple[str, int]:
    """The text a converter tool prints for ``report`` and its exit status
    (0 when ``dst`` was written, 1 when the layout did not match)."""
    text = format_report({k: v for k, v in report.items() if k != 'written'})
    if not report_is_clean(report):
        return (text + '\nNOT converted: the checkpoint does not match the '
                'assumed legacy layout (see the keys above)', 1)
    written = report.get('written') or [dst]
    return text + '\nwrote ' + ' and '.join(written), 0
