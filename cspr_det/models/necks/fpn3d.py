"""FPN whose lateral and top-down pathway run on 5D maps."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from cspr_det.registry import MODELS
from ..layers import DepthCollapse, num_slices_per_level


@MODELS.register_module()
class FPN3D(BaseModule):
    """3D-aware feature pyramid with 2D outputs for mmdet heads.

    Design:

    1. lateral ``1x1x1`` Conv3d per level: ``(N, C_l, D_l, h, w)`` ->
       ``(N, out_channels, D_l, h, w)``;
    2. top-down pathway in 3D: the coarser map is upsampled (nearest) to the
       finer map's ``(D, h, w)`` and added, so depth context of every level
       is kept while semantics flow down;
    3. output conv per level, ``fpn_kernel`` (default ``(1, 3, 3)``;
       ``(3, 3, 3)`` also mixes neighbouring slices at 3x the cost);
    4. depth collapse per level (``collapse``: ``'gtm'`` default,
       ``'center'``, ``'conv'``, ``'mean'``) -> ``(N, out_channels, h, w)``;
    5. extra levels as mmdet's FPN: stride-2 max-pool of the last output
       (``add_extra_convs=False``) or stride-2 3x3 convs on it
       (``'on_output'``).

    Inputs are the 5D outputs of ``MP3DResNet(collapse='none')`` (depth
    ``S`` on all levels) or ``ResNet3D``. The outputs (strides 4..64 for
    ``num_outs=5``) feed mmdet's ``RPNHead``/``StandardRoIHead`` unchanged.

    Args:
        in_channels: Channels per input level.
        out_channels: FPN width.
        num_outs: Number of outputs (>= number of inputs used).
        num_slices: Depth of every level (int) or per level (list); needed by
            ``'gtm'``/``'conv'``.
        collapse: Depth collapse mode.
        start_level: First input level used.
        add_extra_convs: False or ``'on_output'``.
        fpn_kernel: Kernel of the output convs.
        conv_cfg: Default ``dict(type='Conv3d')`` (laterals / output convs).
        norm_cfg: Optional norm for those convs (e.g. GN).

    Shapes:
        tuple of ``(N, C_l, D_l, h_l, w_l)`` -> tuple of
        ``(N, out_channels, h_l, w_l)`` (``num_outs`` levels).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_outs: int,
        num_slices: Optional[Union[int, Sequence[int]]] = 9,
        collapse: str = 'gtm',
        start_level: int = 0,
        add_extra_convs: Union[bool, str] = False,
        fpn_kernel: Sequence[int] = (1, 3, 3),
        conv_cfg: Optional[dict] = None,
        norm_cfg: Optional[dict] = None,
        init_cfg: Optional[Union[dict, List[dict]]] = dict(
            type='Xavier', layer=['Conv2d', 'Conv3d'], distribution='uniform')
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = list(in_channels)
        if collapse == 'none':
            raise ValueError("FPN3D: collapse='none' is not allowed (its "
                             'outputs feed 2D heads)')
        if not 0 <= start_level < len(in_channels):
            raise ValueError(f'FPN3D: start_level={start_level} out of range '
                             f'for {len(in_channels)} inputs')
        num_used = len(in_channels) - start_level
        if num_outs < num_used:
            raise ValueError(f'FPN3D: num_outs={num_outs} is smaller than '
                             f'the {num_used} input levels used')
        if add_extra_convs not in (False, 'on_output'):
            raise ValueError("FPN3D: add_extra_convs must be False or "
                             f"'on_output', got {add_extra_convs!r}")
        num_slices = num_slices_per_level(num_slices, len(in_channels),
                                          'FPN3D')
        conv_cfg = dict(type='Conv3d') if conv_cfg is None else conv_cfg
        fpn_kernel = tuple(fpn_kernel)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.add_extra_convs = add_extra_convs
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        self.collapses = nn.ModuleList()
        for i in range(start_level, len(in_channels)):
            self.lateral_convs.append(
                ConvModule(
                    in_channels[i],
                    out_channels,
                    1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=None))
            self.fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    fpn_kernel,
                    padding=tuple(k // 2 for k in fpn_kernel),
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=None))
            self.collapses.append(
                DepthCollapse(out_channels, num_slices[i], mode=collapse))
        self.extra_convs = nn.ModuleList()
        if add_extra_convs == 'on_output':
            for _ in range(num_outs - num_used):
                self.extra_convs.append(
                    ConvModule(
                        out_channels,
                        out_channels,
                        3,
                        stride=2,
                        padding=1,
                        norm_cfg=None,
                        act_cfg=None))

    def forward(self,
                inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'FPN3D expects {len(self.in_channels)} levels, '
                             f'got {len(inputs)}')
        laterals = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[2:], mode='nearest')
        outs = [
            collapse(conv(lat)) for conv, lat, collapse in zip(
                self.fpn_convs, laterals, self.collapses)
        ]
        if self.add_extra_convs == 'on_output':
            for j, conv in enumerate(self.extra_convs):
                src = outs[-1] if j == 0 else F.relu(outs[-1])
                outs.append(conv(src))
        else:
            while len(outs) < self.num_outs:
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
