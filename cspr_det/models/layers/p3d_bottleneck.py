"""Bottleneck residual block with a P3D unit in place of the 3x3 conv."""
from typing import Optional

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule

from .p3d_unit import P3DUnit


class P3DBottleneck(BaseModule):
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
        conv_cfg = dict(type='Conv3d') if conv_cfg is None else conv_cfg
        norm_cfg = dict(type='BN3d', requires_grad=True) \
            if norm_cfg is None else norm_cfg
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
            conv_cfg, planes, planes * self.expansion, kernel_size=1,
            bias=False)
        self.add_module('norm3',
                        build_norm_layer(norm_cfg,
                                         planes * self.expansion)[1])
        self.relu = nn.ReLU(inplace=False)
        self.downsample = downsample

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.conv2(out)
        out = self.norm3(self.conv3(out))
        return out + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``(N, C, D, H, W)``."""
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        else:
            out = self._inner_forward(x)
        return self.relu(out)
