"""Fuse concatenated slice-group features of the 3DCE baseline."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from cspr_det.registry import MODELS


@MODELS.register_module()
class ThreeDCEFusion(BaseModule):
    """Per level, a 1x1 conv (+ optional norm, ReLU) reduces the ``G*C_l``
    concatenated (group-major) channels of ``G`` slice groups to
    ``out_channels[l]``. This is where 3DCE mixes the 3D context of all
    groups. Two uses:

    - in :class:`cspr_det.ThreeDCE` (3DCE proper), on the per-group FPN maps,
      feeding the R-CNN;
    - after :class:`ThreeDCEBackbone` (early fusion), before mmdet's ``FPN``
      (its ``in_channels`` = ``out_channels`` here).

    Args:
        in_channels: ``G*C_l`` per input level.
        out_channels: One int for all levels or one per level.
        norm_cfg: Optional norm config (e.g. GN).
        act_cfg: Activation (default ReLU; None for a linear fusion).
        shared: One conv for every level (as a shared FPN head; needs equal
            widths at all levels) instead of one per level.

    Shapes:
        tuple of ``(N, G*C_l, h, w)`` -> tuple of ``(N, out_l, h, w)``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Union[int, Sequence[int]],
        norm_cfg: Optional[dict] = None,
        act_cfg: Optional[dict] = dict(type='ReLU'),
        shared: bool = False,
        init_cfg: Optional[Union[dict, List[dict]]] = dict(
            type='Kaiming', layer='Conv2d')
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = list(in_channels)
        if isinstance(out_channels, int):
            out_channels = [out_channels] * len(in_channels)
        out_channels = list(out_channels)
        if len(out_channels) != len(in_channels):
            raise ValueError(
                f'ThreeDCEFusion: {len(in_channels)} in_channels but '
                f'{len(out_channels)} out_channels')
        if shared and len(set(in_channels)) + len(set(out_channels)) > 2:
            raise ValueError(
                f'ThreeDCEFusion(shared=True) needs one width at every level, '
                f'got in_channels={in_channels}, out_channels={out_channels}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.shared = shared
        pairs = list(zip(in_channels, out_channels))
        self.fusions = nn.ModuleList(
            ConvModule(c_in, c_out, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c_in, c_out in (pairs[:1] if shared else pairs))

    def forward(self,
                inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Args: inputs: one ``(N, G*C_l, h, w)`` per level.
        Returns: tuple of ``(N, out_l, h, w)``."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'ThreeDCEFusion expects {len(self.in_channels)} '
                             f'levels, got {len(inputs)}')
        return tuple(self.fusions[0 if self.shared else i](x)
                     for i, x in enumerate(inputs))
