"""Neck that turns 5D backbone outputs into 2D maps."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from cspr_det.registry import MODELS
from ..layers import DepthCollapse, num_slices_per_level


@MODELS.register_module()
class DepthCollapseNeck(BaseModule):
    """Collapse the depth of every level of a 5D feature pyramid
    (e.g. ``MP3DResNet(collapse='none')`` or ``ResNet3D``) with a
    :class:`~cspr_det.models.layers.DepthCollapse` per level.

    Args:
        in_channels: Channels per level.
        num_slices: Depth per level (one int for all levels or a list);
            needed by ``'gtm'`` and ``'conv'``.
        mode: ``'gtm'``, ``'center'``, ``'conv'`` or ``'mean'``.
        collapse_init: ``'mean'`` or ``'center'``.

    Shapes:
        tuple of ``(N, C_l, D_l, h, w)`` -> tuple of ``(N, C_l, h, w)``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 num_slices: Optional[Union[int, Sequence[int]]] = 9,
                 mode: str = 'gtm',
                 collapse_init: str = 'mean',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode == 'none':
            raise ValueError("DepthCollapseNeck: mode 'none' would not "
                             'collapse anything; choose gtm/center/conv/mean')
        in_channels = list(in_channels)
        num_slices = num_slices_per_level(num_slices, len(in_channels),
                                          'DepthCollapseNeck')
        self.in_channels = in_channels
        self.collapses = nn.ModuleList(
            DepthCollapse(c, d, mode=mode, init=collapse_init)
            for c, d in zip(in_channels, num_slices))

    def forward(self,
                inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.collapses):
            raise ValueError(f'DepthCollapseNeck expects '
                             f'{len(self.collapses)} levels, got '
                             f'{len(inputs)}')
        return tuple(c(x) for c, x in zip(self.collapses, inputs))
