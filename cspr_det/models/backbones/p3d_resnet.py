"""P3D ResNet baseline: depth max-pooling between stages, centre-slice
outputs."""
from typing import Tuple

import torch

from cspr_det.registry import MODELS
from ..layers import CentredDepthMaxPool
from .base_p3d_resnet import BaseP3DResNet


@MODELS.register_module()
class P3DResNet(BaseP3DResNet):
    """Pseudo-3D ResNet with depth pooling (the P3D baseline of MP3D).

    2.5D contract: the input is a ``(N, K*S, H, W)`` stack of ``S`` slices
    per window stored as channels (window-major, ``K = in_channels``),
    lifted to ``(N, K, S, H, W)``; a 5D input is used directly.

    After stages 1, 2 and 3 a :class:`CentredDepthMaxPool` (kernel 3,
    stride 2, grid anchored on the centre slice) shrinks depth:
    ``S -> len(range((S//2) % 2, S, 2))``, i.e. 9 -> 5 -> 3 -> 1,
    27 -> 13 -> 7 -> 3, 3 -> 1 -> 1 -> 1, 1 -> 1. Each requested stage output
    is reduced to 2D by taking its centre slice (before that stage's pooling);
    with ``collapse='none'`` it stays 5D ``(N, C_i, S_i, h, w)`` (``S_i`` the
    depth before that stage's pooling, e.g. 9, 5, 3, 1), so the encoder feeds
    a 3D decoder (:class:`~cspr_det.models.necks.UNet3DNeck`).

    Args:
        depth: ``'18ba'``, ``'34ba'``, 63, 131 or 199.
        in_channels: Windows ``K`` per slice (1 for plain CT).
        num_slices: Slices ``S`` the model expects (checked on every input);
            None accepts any number.
        base_channels: Width of stage 1 (64 in the paper); stage ``i`` has
            ``base_channels * 2**i * expansion`` output channels.
        stem_channels: Stem width (default ``base_channels``).
        out_indices: Stages to output (0..3).
        frozen_stages: -1 none, 0 stem, ``i`` stem + ``layer1..layer{i}``.
        norm_cfg: Default ``dict(type='BN3d', requires_grad=True)``; GN
            (``dict(type='GN', num_groups=32)``) and SyncBN work.
        conv_cfg: Default ``dict(type='Conv3d')``.
        norm_eval: Keep BatchNorm layers in eval mode while training.
        with_cp: Gradient checkpointing in every residual block.
        style: ``'pytorch'`` (stride in the P3D unit) or ``'caffe'`` (stride
            in the first 1x1x1 conv of a bottleneck, as the MP3D reference).
        act_before_sum: See :class:`~cspr_det.models.layers.P3DUnit`.
        p3d_types: Cycle of unit types (default ``('A', 'B', 'C')``).
        stem_pool_kernel: Stem max-pool kernel; ``(1, 3, 3)`` by default,
            ``(3, 3, 3)`` in the MP3D reference code, None for no pool.
        init_cfg: mmengine init config; default Kaiming for Conv3d and
            constant 1 for norms. Use ``dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')`` for converted weights.
        collapse: ``'center'`` (default, 2D outputs) or ``'none'`` (5D
            outputs).
        stem_skip: Also return the stem map before the max-pool
            (``(N, stem_channels, S, H/2, W/2)``; centre slice unless
            ``collapse='none'``), first.

    Returns (forward):
        tuple of ``(N, C_i, H / 2**(i+2), W / 2**(i+2))`` tensors, ``C_i`` =
        256/512/1024/2048 (bottleneck depths) or 64/128/256/512 ('18ba',
        '34ba'), scaled by ``base_channels / 64`` (5D with
        ``collapse='none'``; the stem map first with ``stem_skip``).
    """

    COLLAPSE_MODES = ('center', 'none')

    def __init__(self,
                 depth,
                 collapse: str = 'center',
                 stem_skip: bool = False,
                 **kwargs) -> None:
        if collapse not in self.COLLAPSE_MODES:
            raise ValueError(f'P3DResNet: collapse must be one of '
                             f'{self.COLLAPSE_MODES}, got {collapse!r}')
        super().__init__(depth, **kwargs)
        self.collapse = collapse
        self.depth_pool = CentredDepthMaxPool()
        self._set_stem_skip(stem_skip)
        self._freeze_stages()

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.collapse == 'none' else x[:, :, x.size(2) // 2]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        x = self.lift(x, self.num_slices)
        if self.stem_skip:
            skip, x = self.forward_stem_with_skip(x)
            outs.append(self._reduce(skip))
        else:
            x = self.forward_stem(x)
        for i in range(max(self.out_indices) + 1):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(self._reduce(x))
            if i < 3:
                x = self.depth_pool(x)
        return tuple(outs)
