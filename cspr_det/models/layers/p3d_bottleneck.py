"""Bottleneck residual block with a P3D unit in place of the 3x3 conv."""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer

from .p3d_unit import P3DUnit
from .residual_block_3d import ResidualBlock3D, default_conv_norm_cfg


class P3DBottleneck(ResidualBlock3D):
    """``conv1`` (1x1x1) -> ``norm1`` -> ReLU -> ``conv2`` (:class:`P3DUnit`)
    -> ``conv3`` (1x1x1) -> ``norm3`` -> + shortcut -> ReLU.

    Parameter names mirror mmdet's ResNet with fixed norm names:
    ``conv1, norm1, conv2.{conv_s,norm_s,conv_t,norm_t}, conv3, norm3,
    downsample.0, downsample.1``.

    Args:
        inplanes: Input channels.
        planes: Bottleneck width; output has ``planes * 4`` channels.
        stride: Spatial stride of the block.
        p3d_type: ``'A'``, ``'B'`` or ``'C'``.
        downsample: Shortcut module (or None for identity).
        style: ``'pytorch'`` puts the stride in the P3D unit, ``'caffe'`` in
            ``conv1`` (the MP3D reference code does the latter).
        act_before_sum: See :class:`P3DUnit`.
        with_cp: Gradient checkpointing of the block.
        conv_cfg: Conv config (default ``Conv3d``).
        norm_cfg: Norm config (default ``BN3d``).

    Shapes:
        ``(N, inplanes, D, H, W)`` -> ``(N, 4*planes, D, H/s, W/s)``.
    """

    expansion = 4

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
        conv_cfg, norm_cfg = default_conv_norm_cfg(conv_cfg, norm_cfg)
        s1, s2 = (1, stride) if style == 'pytorch' else (stride, 1)
        self.with_cp = with_cp
        self.conv1 = build_conv_layer(
            conv_cfg,
            inplanes,
            planes,
            kernel_size=1,
            stride=(1, s1, s1),
            bias=False)
        self.add_module('norm1', build_norm_layer(norm_cfg, planes)[1])
        self.conv2 = P3DUnit(
            planes,
            planes,
            p3d_type=p3d_type,
            stride=s2,
            act_before_sum=act_before_sum,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
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
        out = self.conv2(out)
        out = self.norm3(self.conv3(out))
        return out + identity
