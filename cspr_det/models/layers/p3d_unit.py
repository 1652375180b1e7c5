"""Pseudo-3D spatial/depth convolution unit (P3D A/B/C)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule

from .residual_block_3d import default_conv_norm_cfg

P3D_TYPES = ('A', 'B', 'C')


class P3DUnit(BaseModule):
    """A 3x3 convolution factorised into a spatial and a depth convolution.

    ``S`` is a ``(1, 3, 3)`` conv + norm + ReLU, ``T`` a ``(3, 1, 1)`` conv +
    norm (+ ReLU). The three P3D combinations are

    - ``'A'`` (serial):    ``T(S(x))``
    - ``'B'`` (parallel):  ``S(x) + T(x)``
    - ``'C'`` (mixed):     ``S(x) + T(S(x))``

    With ``act_before_sum=True`` (the P3D/MP3D reference formulation) each
    branch ends with its own ReLU and the branches are summed afterwards. With
    ``act_before_sum=False`` the branches are summed first and one ReLU
    follows (``'A'`` is identical in both modes). The second form lets a
    depth branch that starts at zero (a type-B unit after
    :func:`cspr_det.models.utils.init_p3d_depth_identity`, which
    :func:`cspr_det.models.utils.inflate_2d_resnet` calls) receive
    gradients.

    Parameter names: ``conv_s``, ``norm_s``, ``conv_t``, ``norm_t`` (fixed for
    every norm type).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        p3d_type: ``'A'``, ``'B'`` or ``'C'``.
        stride: Spatial stride (depth stride is always 1).
        act_before_sum: See above.
        conv_cfg: Conv config (default ``dict(type='Conv3d')``).
        norm_cfg: Norm config (default ``dict(type='BN3d')``).
        init_cfg: mmengine init config.

    Shapes:
        ``(N, C_in, D, H, W)`` -> ``(N, C_out, D, H/stride, W/stride)``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 p3d_type: str = 'A',
                 stride: int = 1,
                 act_before_sum: bool = True,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if p3d_type not in P3D_TYPES:
            raise ValueError(
                f'p3d_type must be one of {P3D_TYPES}, got {p3d_type!r}')
        conv_cfg, norm_cfg = default_conv_norm_cfg(conv_cfg, norm_cfg)
        self.p3d_type = p3d_type
        self.act_before_sum = act_before_sum
        self.conv_s = build_conv_layer(
            conv_cfg,
            in_channels,
            out_channels,
            kernel_size=(1, 3, 3),
            stride=(1, stride, stride),
            padding=(0, 1, 1),
            bias=False)
        self.add_module('norm_s', build_norm_layer(norm_cfg, out_channels)[1])
        t_in = in_channels if p3d_type == 'B' else out_channels
        t_stride = (1, stride, stride) if p3d_type == 'B' else 1
        self.conv_t = build_conv_layer(
            conv_cfg,
            t_in,
            out_channels,
            kernel_size=(3, 1, 1),
            stride=t_stride,
            padding=(1, 0, 0),
            bias=False)
        self.add_module('norm_t', build_norm_layer(norm_cfg, out_channels)[1])
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the unit to ``(N, C_in, D, H, W)``."""
        if self.p3d_type == 'A':
            s = self.relu(self.norm_s(self.conv_s(x)))
            return self.relu(self.norm_t(self.conv_t(s)))
        if self.p3d_type == 'B':
            s = self.norm_s(self.conv_s(x))
            t = self.norm_t(self.conv_t(x))
            if self.act_before_sum:
                return self.relu(s) + self.relu(t)
            return self.relu(s + t)
        # 'C'
        s = self.relu(self.norm_s(self.conv_s(x)))
        t = self.norm_t(self.conv_t(s))
        if self.act_before_sum:
            return s + self.relu(t)
        return self.relu(s + t)

    def extra_repr(self) -> str:
        return f'p3d_type={self.p3d_type}, ' \
               f'act_before_sum={self.act_before_sum}'


def p3d_type_of_block(block_index: int,
                      types: Tuple[str, ...] = P3D_TYPES) -> str:
    """P3D type of the ``block_index``-th residual block.

    Blocks are counted from 0 over the whole network (not per stage) and the
    types are cycled: block ``i`` uses ``types[i % len(types)]``, i.e.
    ``A, B, C, A, ...`` for the default types.

    Args:
        block_index: Index of the residual block across all stages.
        types: The cycle of P3D types.

    Returns:
        ``'A'``, ``'B'`` or ``'C'``.
    """
    return types[block_index % len(types)]
