"""Shared machinery of the volumetric ResNets (P3D, MP3D, 3D ResNet)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.lift import lift_to_5d

DEFAULT_INIT_CFG = [
    dict(type='Kaiming', layer='Conv3d'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


class BaseVolumeResNet(BaseModule):
    """Stem, residual stages, freezing and input lifting common to the
    volumetric ResNets. Subclasses build ``conv1``/``norm1``/``maxpool`` and
    ``layer1..layer4`` and implement :meth:`forward_volume`.

    Stage numbering (``frozen_stages``): 0 is the stem (``conv1``,
    ``norm1``), ``i`` in 1..4 is ``layer{i}``. Frozen parameters get
    ``requires_grad=False`` and frozen modules stay in eval mode.
    """

    def __init__(self,
                 in_channels: int = 1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            init_cfg=DEFAULT_INIT_CFG if init_cfg is None else init_cfg)
        name = type(self).__name__
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(
                f'{name}: in_channels must be a positive int, got '
                f'{in_channels!r}')
        out_indices = tuple(out_indices)
        if not out_indices or any(not isinstance(i, int) or i < 0 or i > 3
                                  for i in out_indices):
            raise ValueError(f'{name}: out_indices must be a non-empty subset '
                             f'of (0, 1, 2, 3), got {out_indices}')
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= 4:
            raise ValueError(f'{name}: frozen_stages must be in -1..4, got '
                             f'{frozen_stages!r}')
        self.in_channels = in_channels
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.conv_cfg = dict(type='Conv3d') if conv_cfg is None else conv_cfg
        self.norm_cfg = dict(type='BN3d', requires_grad=True) \
            if norm_cfg is None else norm_cfg

    # -- construction helpers -------------------------------------------
    def _arch_key(self, depth: Union[int, str]) -> Union[int, str]:
        """The ``arch_settings`` key of ``depth`` (``'63'`` -> 63, ``'18ba'``
        stays a string); ``KeyError`` naming the choices otherwise."""
        key = int(depth) if isinstance(depth, str) and depth.isdigit() \
            else depth
        if key not in self.arch_settings:
            raise KeyError(f'{type(self).__name__}: invalid depth {depth!r}; '
                           f'choose one of {list(self.arch_settings)}')
        return key

    def _make_downsample(self, inplanes: int, outplanes: int,
                         stride: Tuple[int, int, int]) -> Optional[nn.Module]:
        """1x1x1 conv + norm shortcut, or None when shapes already match."""
        if tuple(stride) == (1, 1, 1) and inplanes == outplanes:
            return None
        return nn.Sequential(
            build_conv_layer(
                self.conv_cfg,
                inplanes,
                outplanes,
                kernel_size=1,
                stride=tuple(stride),
                bias=False),
            build_norm_layer(self.norm_cfg, outplanes)[1])

    def _make_stem(self, stem_channels: int, kernel: Tuple[int, int, int],
                   stride: Tuple[int, int,
                                 int], pool_kernel: Optional[Tuple[int, int,
                                                                   int]],
                   pool_stride: Tuple[int, int, int]) -> None:
        padding = tuple(k // 2 for k in kernel)
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            self.in_channels,
            stem_channels,
            kernel_size=tuple(kernel),
            stride=tuple(stride),
            padding=padding,
            bias=False)
        self.add_module('norm1',
                        build_norm_layer(self.norm_cfg, stem_channels)[1])
        self.relu = nn.ReLU(inplace=False)
        if pool_kernel is None:
            self.maxpool = nn.Identity()
        else:
            self.maxpool = nn.MaxPool3d(
                kernel_size=tuple(pool_kernel),
                stride=tuple(pool_stride),
                padding=tuple(k // 2 for k in pool_kernel))

    # -- input ----------------------------------------------------------
    def lift(self,
             x: torch.Tensor,
             num_slices: Optional[int] = None) -> torch.Tensor:
        """Lift ``(N, K*S, H, W)`` to ``(N, K, S, H, W)`` (see
        :func:`lift_to_5d`) and check ``S`` against ``num_slices``."""
        x = lift_to_5d(x, self.in_channels)
        if num_slices is not None and x.size(2) != num_slices:
            raise ValueError(
                f'{type(self).__name__} was built for num_slices='
                f'{num_slices} but the input has {x.size(2)} slices '
                f'(lifted shape {tuple(x.shape)})')
        return x

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.norm1(self.conv1(x))))

    def forward_stem_with_skip(
            self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Stem returning the map before the max-pool as well.

        Args:
            x: ``(N, K, S, H, W)`` lifted input.

        Returns:
            tuple: ``(skip, pooled)``; ``skip`` is the ``conv1 -> norm1 ->
            ReLU`` map (the first U-Net skip of a segmentation encoder),
            ``pooled`` the max-pooled map that feeds ``layer1``.
        """
        skip = self.relu(self.norm1(self.conv1(x)))
        return skip, self.maxpool(skip)

    def _set_stem_skip(self, stem_skip: bool) -> None:
        """Record the stem-skip option and prepend the stem width to
        ``out_channels`` when it is on (call after ``out_channels`` is
        set)."""
        if not isinstance(stem_skip, bool):
            raise TypeError(f'{type(self).__name__}: stem_skip must be a '
                            f'bool, got {stem_skip!r}')
        self.stem_skip = stem_skip
        if stem_skip:
            self.out_channels = [self.stem_channels] + list(self.out_channels)

    # -- freezing -------------------------------------------------------
    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for m in (self.conv1, self.norm1):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            m = getattr(self, f'layer{i}')
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'BaseVolumeResNet':
        """Set train/eval mode, keep frozen stages frozen and, with
        ``norm_eval``, every BatchNorm in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
