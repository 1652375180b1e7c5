"""Basic residual block made of two P3D units."""
from typing import Optional

import torch
import torch.nn as nn

from .p3d_unit import P3DUnit
from .residual_block_3d import ResidualBlock3D


class P3DBasicBlock(ResidualBlock3D):
    """``conv1`` (:class:`P3DUnit`, stride) -> ``conv2`` (:class:`P3DUnit`)
    -> + shortcut -> ReLU.

    As in the MP3D reference ('18ba'/'34ba'), both units end with their own
    ReLU, so the second unit's output is non-negative before the residual
    sum (a 2D basic block adds the shortcut before its last ReLU).

    Parameter names: ``conv1.{conv_s,norm_s,conv_t,norm_t}``,
    ``conv2.{...}``, ``downsample.0``, ``downsample.1``.

    Args:
        inplanes: Input channels.
        planes: Output channels.
        stride: Spatial stride of the block.
        p3d_type: ``'A'``, ``'B'`` or ``'C'`` (both units).
        downsample: Shortcut module (or None for identity).
        style: Accepted for a common signature with
            :class:`P3DBottleneck`; the stride is always in ``conv1``.
        act_before_sum: See :class:`P3DUnit`.
        with_cp: Gradient checkpointing of the block.
        conv_cfg: Conv config (default ``Conv3d``).
        norm_cfg: Norm config (default ``BN3d``).

    Shapes:
        ``(N, inplanes, D, H, W)`` -> ``(N, planes, D, H/s, W/s)``.
    """

    expansion = 1

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 p3d_type: str = 'A',
                 downsample: Optional[nn.Module] = None,
                 style: str = 'pytorch',
                 act_before_sum: bool = True,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if style not in ('pytorch', 'caffe'):
            raise ValueError(
                f"style must be 'pytorch' or 'caffe', got {style!r}")
        self.with_cp = with_cp
        self.conv1 = P3DUnit(
            inplanes,
            planes,
            p3d_type=p3d_type,
            stride=stride,
            act_before_sum=act_before_sum,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.conv2 = P3DUnit(
            planes,
            planes,
            p3d_type=p3d_type,
            stride=1,
            act_before_sum=act_before_sum,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.relu = nn.ReLU(inplace=False)
        self.downsample = downsample

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv2(self.conv1(x)) + identity
