"""Common construction of the pseudo-3D ResNets (P3D and MP3D)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn

from ..layers import P3D_TYPES, P3DBasicBlock, P3DBottleneck, p3d_type_of_block
from .base_volume_resnet import BaseVolumeResNet


class BaseP3DResNet(BaseVolumeResNet):
    """Stem and four P3D stages shared by :class:`P3DResNet` and
    :class:`MP3DResNet`.

    Architecture (MP3D paper / reference code): stem ``conv1`` (1,7,7)
    stride (1,2,2) -> ``norm1`` -> ReLU -> max-pool ``stem_pool_kernel``
    stride (1,2,2); then ``layer1..layer4`` with spatial strides 1,2,2,2.
    Every residual block replaces its 3x3 convs by :class:`P3DUnit` s whose
    type cycles over the whole network: block ``i`` (counted from 0 across
    all stages) uses ``p3d_types[i % len(p3d_types)]``
    (:func:`~cspr_det.models.layers.p3d_type_of_block`).

    Depths: ``'18ba'`` basic (2,2,2,2), ``'34ba'`` basic (3,4,6,3),
    ``63`` bottleneck (3,4,6,3), ``131`` (3,4,23,3), ``199`` (3,8,36,3).
    """

    arch_settings = {
        '18ba': (P3DBasicBlock, (2, 2, 2, 2)),
        '34ba': (P3DBasicBlock, (3, 4, 6, 3)),
        63: (P3DBottleneck, (3, 4, 6, 3)),
        131: (P3DBottleneck, (3, 4, 23, 3)),
        199: (P3DBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: Union[int, str],
                 in_channels: int = 1,
                 num_slices: Optional[int] = 9,
                 base_channels: int = 64,
                 stem_channels: Optional[int] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 style: str = 'pytorch',
                 act_before_sum: bool = True,
                 p3d_types: Sequence[str] = P3D_TYPES,
                 stem_pool_kernel: Optional[Tuple[int, int, int]] = (1, 3, 3),
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
        name = type(self).__name__
        key = self._arch_key(depth)
        if num_slices is not None and (not isinstance(num_slices, int)
                                       or num_slices < 1):
            raise ValueError(f'{name}: num_slices must be a positive int or '
                             f'None, got {num_slices!r}')
        if style not in ('pytorch', 'caffe'):
            raise ValueError(
                f"{name}: style must be 'pytorch' or 'caffe', got {style!r}")
        p3d_types = tuple(p3d_types)
        if not p3d_types or any(t not in P3D_TYPES for t in p3d_types):
            raise ValueError(f'{name}: p3d_types must be drawn from '
                             f'{P3D_TYPES}, got {p3d_types}')
        if base_channels < 1:
            raise ValueError(
                f'{name}: base_channels must be >= 1, got {base_channels}')
        self.depth = key
        self.num_slices = num_slices
        self.base_channels = base_channels
        self.stem_channels = base_channels if stem_channels is None \
            else stem_channels
        self.style = style
        self.act_before_sum = act_before_sum
        self.p3d_types = p3d_types
        self.block, self.stage_blocks = self.arch_settings[key]

        self._make_stem(self.stem_channels, (1, 7, 7), (1, 2, 2),
                        stem_pool_kernel, (1, 2, 2))
        inplanes = self.stem_channels
        block_index = 0
        self.stage_channels = []
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            stride = 1 if i == 0 else 2
            outplanes = planes * self.block.expansion
            blocks = []
            for j in range(num_blocks):
                s = stride if j == 0 else 1
                blocks.append(
                    self.block(
                        inplanes,
                        planes,
                        stride=s,
                        p3d_type=p3d_type_of_block(block_index, p3d_types),
                        downsample=self._make_downsample(
                            inplanes, outplanes, (1, s, s)),
                        style=style,
                        act_before_sum=act_before_sum,
                        with_cp=with_cp,
                        conv_cfg=self.conv_cfg,
                        norm_cfg=self.norm_cfg))
                inplanes = outplanes
                block_index += 1
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.stage_channels.append(outplanes)
        self.out_channels = [self.stage_channels[i] for i in self.out_indices]
