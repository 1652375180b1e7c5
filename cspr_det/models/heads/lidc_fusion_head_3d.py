"""The LIDC nodule segmentation head: FCN over fused encoder maps."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer

from cspr_det.registry import MODELS
from .fcn_head_3d import FCNHead3D


@MODELS.register_module()
class LIDCFusionHead3D(FCNHead3D):
    """FCN head that fuses the stem, a middle and the deepest encoder map.

    The head of the LIDC nodule segmentation of the ACS / CSPR line of work,
    on a ResNet3D-18 without stem stride or max-pool and stage strides
    (1, 2, 1, 2) (``stem_skip=True, out_indices=(1, 3)`` gives the stem,
    stage-2 and stage-4 maps):

    1. concatenate the middle map (stage 2) with the deepest map (stage 4)
       upsampled trilinearly to its size; 1x1x1 conv to ``fuse_channels``
       (``fuse_deep``);
    2. concatenate the stem map with that result upsampled to the stem
       size; 1x1x1 conv to ``fuse_channels`` (``fuse_stem``);
    3. the :class:`FCNHead3D` part: one 3x3x3 conv ``fuse_channels ->
       channels`` + norm + act, ``Dropout3d(dropout_ratio)``, 1x1x1 conv to
       ``num_classes`` (``conv_seg``).

    Losses, ``acc_seg`` and the resizing of logits to the ground truth are
    those of :class:`FCNHead3D` (default CE 1.0 + soft Dice 0.5 over the
    foreground).

    Args:
        num_classes: Output classes (2: background, nodule).
        in_channels: Channels of the (stem, middle, deep) maps; (64, 128,
            512) for ResNet3D-18.
        in_indices: Positions of those maps in the backbone's output tuple.
        fuse_channels: Width of the two fusion convs (512).
        channels: Width of the 3x3x3 conv (128).
        dropout_ratio: ``Dropout3d`` before ``conv_seg`` (0.1; 0 disables).
        **kwargs: :class:`FCNHead3D` arguments (``ignore_index``,
            ``align_corners``, ``loss``, ``conv_cfg``, ``norm_cfg``,
            ``act_cfg``, ``init_cfg``).

    Shapes:
        ``(N, C0, D, H, W)``, ``(N, C1, D/2, H/2, W/2)``, ``(N, C2, D/4,
        H/4, W/4)`` (any sizes; each map is upsampled to the next finer
        one) -> logits ``(N, num_classes, D, H, W)``.
    """

    def __init__(self,
                 num_classes: int = 2,
                 in_channels: Sequence[int] = (64, 128, 512),
                 in_indices: Sequence[int] = (0, 1, 2),
                 fuse_channels: int = 512,
                 channels: int = 128,
                 dropout_ratio: float = 0.1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        in_channels = tuple(int(c) for c in in_channels)
        in_indices = tuple(int(i) for i in in_indices)
        if len(in_channels) != 3 or min(in_channels) < 1:
            raise ValueError('LIDCFusionHead3D: in_channels needs 3 positive '
                             f'ints (stem, middle, deep), got {in_channels}')
        if len(in_indices) != 3:
            raise ValueError('LIDCFusionHead3D: in_indices needs 3 positions '
                             f'(stem, middle, deep), got {in_indices}')
        if fuse_channels < 1:
            raise ValueError('LIDCFusionHead3D: fuse_channels must be >= 1, '
                             f'got {fuse_channels}')
        for key in ('num_convs', 'kernel_size', 'in_index'):
            if key in kwargs:
                raise TypeError(f'LIDCFusionHead3D: {key} is fixed by the '
                                'fusion layout')
        super().__init__(
            num_classes=num_classes,
            in_channels=fuse_channels,
            channels=channels,
            num_convs=1,
            kernel_size=3,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        self.fuse_in_channels = in_channels
        self.in_indices = in_indices
        self.fuse_channels = fuse_channels
        conv_cfg = kwargs.get('conv_cfg') or dict(type='Conv3d')
        self.fuse_deep = build_conv_layer(conv_cfg,
                                          in_channels[1] + in_channels[2],
                                          fuse_channels, 1)
        self.fuse_stem = build_conv_layer(conv_cfg,
                                          in_channels[0] + fuse_channels,
                                          fuse_channels, 1)

    def _up(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        if x.shape[2:] == ref.shape[2:]:
            return x
        return F.interpolate(
            x,
            size=ref.shape[2:],
            mode='trilinear',
            align_corners=self.align_corners)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fuse the three maps and classify every voxel.

        Args:
            inputs: Backbone output tuple; ``inputs[in_indices[k]]`` is the
                stem, middle and deep map for ``k = 0, 1, 2``.

        Returns:
            torch.Tensor: ``(N, num_classes, D, H, W)`` logits at the stem
            resolution.
        """
        if isinstance(inputs, torch.Tensor) or len(inputs) <= max(
                self.in_indices):
            raise ValueError(
                'LIDCFusionHead3D: expected a tuple of backbone maps with '
                f'positions {self.in_indices}, got '
                f'{type(inputs).__name__} of length '
                f'{1 if isinstance(inputs, torch.Tensor) else len(inputs)}')
        maps = [inputs[i] for i in self.in_indices]
        for name, x, c in zip(('stem', 'middle', 'deep'), maps,
                              self.fuse_in_channels):
            if x.dim() != 5 or x.size(1) != c:
                raise ValueError(
                    f'LIDCFusionHead3D: the {name} map must be (N, {c}, D, '
                    f'H, W), got {tuple(x.shape)}')
        stem, mid, deep = maps
        x = self.fuse_deep(torch.cat([mid, self._up(deep, mid)], dim=1))
        x = self.fuse_stem(torch.cat([stem, self._up(x, stem)], dim=1))
        return self.conv_seg(self.dropout(self.convs(x)))


__all__ = ['LIDCFusionHead3D']
