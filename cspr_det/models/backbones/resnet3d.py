"""The CSPR 3D ResNet (full 3x3x3 convolutions)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.utils import _triple

from cspr_det.registry import MODELS
from ..layers import BasicBlock3D, Bottleneck3D
from .base_volume_resnet import BaseVolumeResNet


@MODELS.register_module()
class ResNet3D(BaseVolumeResNet):
    """3D ResNet of CSPR / VDT pre-training.

    2.5D contract: ``(N, K*S, H, W)`` stacks are lifted to
    ``(N, K, S, H, W)`` (``K = in_channels``, window-major channels); 5D
    input is used directly. With VDT an RGB image ``(N, 3, H, W)`` becomes
    ``(N, 1, 3, H, W)``.

    Layout: stem ``conv1`` (``stem_kernel``, stride ``stem_stride``) ->
    ``norm1`` -> ReLU -> ``maxpool`` (``pool_kernel``, stride
    ``pool_stride``; skipped with ``with_pool=False``) -> ``layer1..layer4``
    of :class:`BasicBlock3D` (18: 2,2,2,2; 34: 3,4,6,3) or
    :class:`Bottleneck3D` (50: 3,4,6,3). Stage ``i`` has stride
    ``(depth_strides[i], spatial_strides[i], spatial_strides[i])`` in its
    first block. Parameter names follow mmdet's ResNet with fixed norm names
    (``conv1, norm1, layer1.0.conv1, layer1.0.norm1, ...,
    layer2.0.downsample.0/1``).

    With ``stem_skip=True`` the stem map before the max-pool (``conv1 ->
    norm1 -> ReLU``, ``stem_channels`` wide) is returned first, ahead of the
    stages in ``out_indices``: the first skip of a U-Net decoder.

    With the defaults (depth never reduced) and depth 18:
    ``(N, 1, 3, 224, 224)`` -> stem+pool ``(N, 64, 3, 56, 56)`` -> layer1
    ``(N, 64, 3, 56, 56)`` -> layer2 ``(N, 128, 3, 28, 28)`` -> layer3
    ``(N, 256, 3, 14, 14)`` -> layer4 ``(N, 512, 3, 7, 7)``.

    The segmentation encoder of CSPR ("StdUNet": ``stem_stride=(1, 1, 1)``,
    ``pool_stride=(2, 2, 2)``, ``depth_strides=(1, 2, 2, 2)``,
    ``stem_skip=True``) on ``(N, 1, 32, 256, 256)``: stem ``(N, 64, 32, 256,
    256)`` -> layer1 ``(N, 64, 16, 128, 128)`` -> layer2 ``(N, 128, 8, 64,
    64)`` -> layer3 ``(N, 256, 4, 32, 32)`` -> layer4 ``(N, 512, 2, 16,
    16)``, i.e. the stem at full resolution and the stages at 1/2 ... 1/16.

    Args:
        depth: 18, 34 or 50.
        in_channels: ``K``.
        base_channels: Stage-1 width (64); stage ``i`` outputs
            ``base_channels * 2**i * expansion`` channels.
        stem_channels: Stem width (default ``base_channels``).
        stem_kernel: Stem conv kernel (default ``(7, 7, 7)``).
        stem_stride: Stem conv stride (default ``(1, 2, 2)``).
        with_pool: Use the stem max-pool.
        pool_kernel: Stem max-pool kernel (default ``(3, 3, 3)``).
        pool_stride: Stem max-pool stride (default ``(1, 2, 2)``).
        spatial_strides: Per-stage spatial strides (default ``(1, 2, 2, 2)``).
        depth_strides: Per-stage depth strides (default ``(1, 1, 1, 1)``:
            depth never reduced; e.g. ``(1, 2, 2, 2)`` for isotropic
            downsampling of CT volumes).
        stem_skip: Also return the stem map before the max-pool, first.
        out_indices: As :class:`P3DResNet`; so are ``frozen_stages``,
            ``norm_cfg``, ``conv_cfg``, ``norm_eval``, ``with_cp`` and
            ``init_cfg``.

    Returns (forward):
        tuple of 5D tensors ``(N, C_i, D_i, H_i, W_i)`` (the stem map first
        with ``stem_skip``); ``out_channels`` lists their widths.
    """

    arch_settings = {
        18: (BasicBlock3D, (2, 2, 2, 2)),
        34: (BasicBlock3D, (3, 4, 6, 3)),
        50: (Bottleneck3D, (3, 4, 6, 3)),
    }

    def __init__(self,
                 depth: int,
                 in_channels: int = 1,
                 base_channels: int = 64,
                 stem_channels: Optional[int] = None,
                 stem_kernel: Sequence[int] = (7, 7, 7),
                 stem_stride: Sequence[int] = (1, 2, 2),
                 with_pool: bool = True,
                 pool_kernel: Sequence[int] = (3, 3, 3),
                 pool_stride: Sequence[int] = (1, 2, 2),
                 spatial_strides: Sequence[int] = (1, 2, 2, 2),
                 depth_strides: Sequence[int] = (1, 1, 1, 1),
                 stem_skip: bool = False,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            in_channels=in_channels,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
        key = self._arch_key(depth)
        for name, val in (('spatial_strides', spatial_strides),
                          ('depth_strides', depth_strides)):
            if len(tuple(val)) != 4 or any(int(v) < 1 for v in val):
                raise ValueError(f'ResNet3D: {name} needs 4 positive ints, '
                                 f'got {val!r}')
        for name, val in (('stem_kernel', stem_kernel), ('stem_stride',
                                                         stem_stride),
                          ('pool_kernel', pool_kernel), ('pool_stride',
                                                         pool_stride)):
            if len(_triple(val)) != 3:
                raise ValueError(f'ResNet3D: {name} needs 3 ints, got {val!r}')
        self.depth = key
        self.base_channels = base_channels
        self.stem_channels = base_channels if stem_channels is None \
            else stem_channels
        self.block, self.stage_blocks = self.arch_settings[key]
        self._make_stem(self.stem_channels, _triple(stem_kernel),
                        _triple(stem_stride),
                        _triple(pool_kernel) if with_pool else None,
                        _triple(pool_stride))
        inplanes = self.stem_channels
        self.stage_channels = []
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            outplanes = planes * self.block.expansion
            stride = (int(depth_strides[i]), int(spatial_strides[i]),
                      int(spatial_strides[i]))
            blocks = []
            for j in range(num_blocks):
                s = stride if j == 0 else (1, 1, 1)
                blocks.append(
                    self.block(
                        inplanes,
                        planes,
                        stride=s,
                        downsample=self._make_downsample(
                            inplanes, outplanes, s),
                        with_cp=with_cp,
                        conv_cfg=self.conv_cfg,
                        norm_cfg=self.norm_cfg))
                inplanes = outplanes
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.stage_channels.append(outplanes)
        self.out_channels = [self.stage_channels[i] for i in self.out_indices]
        self._set_stem_skip(stem_skip)
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        if self.stem_skip:
            skip, x = self.forward_stem_with_skip(self.lift(x))
            outs.append(skip)
        else:
            x = self.forward_stem(self.lift(x))
        for i in range(max(self.out_indices) + 1):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
