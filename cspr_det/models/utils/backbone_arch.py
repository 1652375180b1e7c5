"""The architecture a backbone's weights were made for, recorded in a
checkpoint and checked when the checkpoint is loaded.

Two backbones can hold tensors of identical names and shapes and still
compute different functions: an MP3D-63 with ``style='caffe'`` (stride in
the bottleneck's first 1x1x1 conv) and a ``(3, 3, 3)`` stem max-pool accepts
the state dict of one with ``style='pytorch'`` and a ``(1, 3, 3)`` pool
strictly, and its outputs are then wrong. The converters therefore store
:func:`describe_backbone` of the network they loaded the weights into as
``meta['backbone_arch']``, and every cspr_det loading path
(:class:`~cspr_det.models.utils.PretrainedBackbone`, ``tools/test.py``,
``load_from`` through the cspr_det tools,
:func:`cspr_det.models.utils.load_model_checkpoint`) compares it with the
target backbone and refuses a difference, naming each one.

The description is read from the built module (class, attributes and layer
shapes), never from a config, so defaults and inherited config values are
seen as they are.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch.nn as nn

from .checkpoint_mismatch_error import CheckpointMismatchError

# Attributes copied as they are when the backbone has them.
_ATTRS = ('depth', 'style', 'collapse', 'num_slices', 'in_channels',
          'base_channels', 'stem_channels', 'stage_blocks', 'act_before_sum',
          'p3d_types')

# Keys whose difference only concerns some tensors: when every one of them
# is excluded from (or adapted by) a load, the difference does not matter.
ARCH_KEY_TENSORS = {
    'collapse': r'^collapse\d\.',
    'num_slices': r'^collapse\d\.',
    'in_channels': r'^conv1\.weight$',
}


def _plain(value: Any) -> Any:
    """Tuples for sequences (lists survive a config round trip as lists)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _norm_name(module: nn.Module) -> Optional[Dict[str, Any]]:
    if isinstance(module, nn.GroupNorm):
        return dict(norm='GN', norm_groups=module.num_groups)
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return dict(norm='BN')  # BN, BN3d and SyncBN compute the same
    return None


def _block_stride(block: nn.Module) -> Optional[tuple]:
    """Stride of a residual block: the stride of its shortcut conv (a block
    that changes resolution always has one), else 1 in every dimension."""
    shortcut = getattr(block, 'downsample', None)
    if shortcut is not None:
        for m in shortcut.modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                return tuple(m.stride)
    for m in block.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return (1, ) * len(m.stride)
    return None


def describe_backbone(module: nn.Module) -> Dict[str, Any]:
    """What the weights of ``module`` mean: class, depth, widths, style,
    stem kernel / stride / pool, norm type, depth collapse, slice count and
    per-stage strides (each only when the backbone has it).

    Returns:
        dict: Plain values (str, int, bool, None, tuples), e.g. for the
        reference MP3D-63 ``{'type': 'MP3DResNet', 'depth': 63, 'style':
        'caffe', 'collapse': 'gtm', 'num_slices': 9, ..., 'stem_kernel':
        (1, 7, 7), 'stem_pool_kernel': (3, 3, 3), 'norm': 'GN',
        'norm_groups': 32, 'stage_strides': ((1, 1, 1), (1, 2, 2), ...)}``.
    """
    arch: Dict[str, Any] = dict(type=type(module).__name__)
    for attr in _ATTRS:
        if hasattr(module, attr) and not callable(getattr(module, attr)):
            arch[attr] = _plain(getattr(module, attr))
    conv1 = getattr(module, 'conv1', None)
    if isinstance(conv1, nn.modules.conv._ConvNd):
        arch['stem_kernel'] = tuple(conv1.kernel_size)
        arch['stem_stride'] = tuple(conv1.stride)
    if hasattr(module, 'maxpool'):
        pool = module.maxpool
        if isinstance(pool, nn.modules.pooling._MaxPoolNd):
            arch['stem_pool_kernel'] = _plain(pool.kernel_size)
            arch['stem_pool_stride'] = _plain(pool.stride)
        else:
            arch['stem_pool_kernel'] = None
    norm = getattr(module, 'norm1', None) or getattr(module, 'bn1', None)
    if isinstance(norm, nn.Module) and _norm_name(norm):
        arch.update(_norm_name(norm))
    strides = []
    for i in range(1, 5):
        layer = getattr(module, f'layer{i}', None)
        if isinstance(layer, nn.Sequential) and len(layer):
            strides.append(_block_stride(layer[0]))
    if strides:
        arch['stage_strides'] = tuple(strides)
    return arch


def arch_differences(
    recorded: Mapping[str, Any],
    actual: Mapping[str, Any],
    waive: Sequence[str] = ()) -> List[str]:
    """Name every architecture key that differs.

    Only keys present in both descriptions are compared (a record written
    before a key existed does not fail on it).

    Args:
        recorded: ``meta['backbone_arch']`` of a checkpoint.
        actual: :func:`describe_backbone` of the target.
        waive: Keys not to report.

    Returns:
        list of ``"key: checkpoint X, model Y"`` strings, in the order of
        ``recorded``.
    """
    diffs = []
    for key, value in recorded.items():
        if key in waive or key not in actual:
            continue
        if _plain(value) != _plain(actual[key]):
            diffs.append(f'{key}: checkpoint {_plain(value)!r}, model '
                         f'{_plain(actual[key])!r}')
    return diffs


class ArchitectureMismatchError(CheckpointMismatchError):
    """A checkpoint's recorded backbone architecture differs from the
    target backbone."""


def check_backbone_arch(
    meta: Optional[Mapping], backbone: nn.Module,
    waive: Sequence[str] = ()) -> List[str]:
    """Compare ``meta['backbone_arch']`` (when recorded) with ``backbone``.

    Args:
        meta: The checkpoint's ``meta`` (None or without a record: nothing
            to check).
        backbone: The module the weights go into.
        waive: Architecture keys not to compare.

    Returns:
        list: The differences (:func:`arch_differences`); empty when equal
        or nothing is recorded.
    """
    recorded = (meta or {}).get('backbone_arch')
    if not recorded:
        return []
    return arch_differences(recorded, describe_backbone(backbone), waive)


def arch_error_message(source: str,
                       diffs: Sequence[str],
                       hint: str = '') -> str:
    """One line naming every difference."""
    return (f'{source} was converted for another backbone architecture: ' +
            '; '.join(diffs) + '. Build the backbone with the '
            "checkpoint's settings (the converter writes a matching config "
            'next to the checkpoint)' + (f'; {hint}' if hint else ''))
