"""U-Net decoder over the multi-scale 5D maps of a volumetric encoder."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from cspr_det.registry import MODELS


@MODELS.register_module()
class UNet3DNeck(BaseModule):
    """U-Net decoder (the CSPR "StdUNet" decoder).

    The encoder maps are ordered fine to coarse, ``x_0 .. x_L`` (e.g. the
    stem map and the four stages of ``ResNet3D(stem_skip=True)``). Starting
    from the coarsest map (projected by a 1x1x1 conv + norm + act when
    ``channels[L] != in_channels[L]``), every level ``l = L-1 .. 0``:

    1. upsamples trilinearly to the size of the skip ``x_l`` (x2 per axis for
       the StdUNet on inputs padded to a multiple of 16; x1 in depth for
       encoders that keep depth, e.g. MP3D with ``collapse='none'``),
    2. 1x1x1 conv + norm + act ``channels[l+1] -> channels[l]``,
    3. concatenates the skip ``x_l`` (``channels[l] + in_channels[l]``),
    4. two 3x3x3 conv + norm + act to ``channels[l]``.

    With ``in_channels = channels = (64, 64, 128, 256, 512)`` (StdUNet) on
    ``(N, 1, 32, 256, 256)``: ``(N, 512, 2, 16, 16)`` -> ``(N, 256, 4, 32,
    32)`` -> ``(N, 128, 8, 64, 64)`` -> ``(N, 64, 16, 128, 128)`` ->
    ``(N, 64, 32, 256, 256)``.

    Args:
        in_channels: Channels of the encoder maps, fine to coarse.
        channels: Decoder width per level (default ``in_channels``).
        align_corners: ``align_corners`` of the trilinear upsampling.
        conv_cfg: Default ``dict(type='Conv3d')``.
        norm_cfg: Default ``dict(type='BN3d', requires_grad=True)``.
        act_cfg: Default ``dict(type='ReLU')``.
        init_cfg: Default Kaiming for Conv3d, constant 1 for norms.

    Shapes:
        tuple of ``(N, in_channels[l], D_l, H_l, W_l)`` -> tuple of the
        decoder maps ``(N, channels[l], D_l, H_l, W_l)``, fine to coarse
        (``[0]`` is the finest, the input of
        :class:`~cspr_det.models.heads.FCNHead3D`; ``[L]`` is the projected
        coarsest encoder map).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: Optional[Sequence[int]] = None,
                 align_corners: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=[
            dict(type='Kaiming', layer='Conv3d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ] if init_cfg is None else init_cfg)
        in_channels = [int(c) for c in in_channels]
        channels = list(in_channels) if channels is None else [
            int(c) for c in channels
        ]
        if len(in_channels) < 2:
            raise ValueError('UNet3DNeck: in_channels needs at least 2 levels '
                             f'(a skip and a bottom map), got {in_channels}')
        if len(channels) != len(in_channels):
            raise ValueError(
                f'UNet3DNeck: channels {channels} and in_channels '
                f'{in_channels} must have the same number of levels')
        if min(in_channels + channels) < 1:
            raise ValueError('UNet3DNeck: channel numbers must be positive, '
                             f'got in_channels={in_channels}, '
                             f'channels={channels}')
        self.in_channels = in_channels
        self.channels = channels
        self.align_corners = align_corners
        cfg = dict(
            conv_cfg=dict(type='Conv3d') if conv_cfg is None else conv_cfg,
            norm_cfg=dict(type='BN3d', requires_grad=True)
            if norm_cfg is None else norm_cfg,
            act_cfg=dict(type='ReLU') if act_cfg is None else act_cfg)
        self.bottom = nn.Identity() if channels[-1] == in_channels[-1] \
            else ConvModule(in_channels[-1], channels[-1], 1, **cfg)
        self.up_convs = nn.ModuleList()
        self.fuse_convs = nn.ModuleList()
        for lvl in range(len(in_channels) - 1):
            self.up_convs.append(
                ConvModule(channels[lvl + 1], channels[lvl], 1, **cfg))
            self.fuse_convs.append(
                nn.Sequential(
                    ConvModule(
                        channels[lvl] + in_channels[lvl],
                        channels[lvl],
                        3,
                        padding=1,
                        **cfg),
                    ConvModule(
                        channels[lvl], channels[lvl], 3, padding=1, **cfg)))

    def forward(self,
                inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Decode the encoder maps.

        Args:
            inputs: ``len(in_channels)`` maps ``(N, in_channels[l], D_l,
                H_l, W_l)``, fine to coarse.

        Returns:
            tuple: decoder maps ``(N, channels[l], D_l, H_l, W_l)``, fine to
            coarse.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f'UNet3DNeck: expected {len(self.in_channels)} encoder maps '
                f'(in_channels={self.in_channels}), got {len(inputs)}')
        for lvl, (x, c) in enumerate(zip(inputs, self.in_channels)):
            if x.dim() != 5 or x.size(1) != c:
                raise ValueError(
                    f'UNet3DNeck: level {lvl} must be (N, {c}, D, H, W), got '
                    f'{tuple(x.shape)} (2D encoder outputs need '
                    "collapse='none')")
        x = self.bottom(inputs[-1])
        outs = [x]
        for lvl in range(len(inputs) - 2, -1, -1):
            skip = inputs[lvl]
            x = F.interpolate(
                x,
                size=skip.shape[2:],
                mode='trilinear',
                align_corners=self.align_corners)
            x = self.up_convs[lvl](x)
            x = self.fuse_convs[lvl](torch.cat([x, skip], dim=1))
            outs.append(x)
        return tuple(reversed(outs))
