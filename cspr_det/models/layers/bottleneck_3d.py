"""Bottleneck residual block with a full 3x3x3 middle convolution."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from torch.nn.modules.utils import _triple

from .residual_block_3d import ResidualBlock3D, default_conv_norm_cfg


class Bottleneck3D(ResidualBlock3D):
    """``conv1`` (1x1x1) -> ``norm1`` -> ReLU -> ``conv2`` (3x3x3, stride) ->
    ``norm2`` -> ReLU -> ``conv3`` (1x1x1) -> ``norm3`` -> + shortcut -> ReLU
    ('pytorch' style: the stride sits in the 3x3x3 conv).

    Args:
        inplanes: Input channels.
        planes: Bottleneck width; output has ``4 * planes`` channels.
        stride: ``int`` or ``(depth, height, width)`` stride of ``conv2``.
        downsample: Shortcut module (or None).
        with_cp: Gradient checkpointing.
        conv_cfg: Conv config (default ``Conv3d``).
        norm_cfg: Norm config (default ``BN3d``).

    Shapes:
        ``(N, inplanes, D, H, W)`` -> ``(N, 4*planes, D/sd, H/s, W/s)``.
    """

    expansion = 4

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: Union[int, Sequence[int]] = 1,
                 downsample: Optional[nn.Module] = None,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        conv_cfg, norm_cfg = default_conv_norm_cfg(conv_cfg, norm_cfg)
        self.with_cp = with_cp
        self.conv1 = build_conv_layer(
            conv_cfg, inplanes, planes, kernel_size=1, bias=False)
        self.add_module('norm1', build_norm_layer(norm_cfg, planes)[1])
        self.conv2 = build_conv_layer(
            conv_cfg,
            planes,
            planes,
            kernel_size=3,
            stride=_triple(stride),
            padding=1,
            bias=False)
        self.add_module('norm2', build_norm_layer(norm_cfg, planes)[1])
        self.conv3 = build_conv_layer(
            conv_cfg,
            planes,
            planes * self.expansion,
            kernel_size=1,
            bias=False)
        self.add_module('norm3',
                        build_norm_layer(norm_cfg, planes * self.expansion)[1])
        self.relu = nn.ReLU(inplace=False)
        self.downsample = downsample

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        return out + identity
