"""MP3D ResNet: depth kept in every stage, collapsed per output stage."""
from typing import Optional, Tuple

import torch

from cspr_det.registry import MODELS
from ..layers import COLLAPSE_MODES, DepthCollapse
from .base_p3d_resnet import BaseP3DResNet


@MODELS.register_module()
class MP3DResNet(BaseP3DResNet):
    """Pseudo-3D ResNet without depth pooling (MP3D).

    Same stem, stages and arguments as :class:`P3DResNet` (see there for the
    2.5D input contract), but every stage keeps depth ``S``. Each output
    stage ``i`` is followed by ``collapse{i+1}``, a
    :class:`~cspr_det.models.layers.DepthCollapse`:

    - ``'gtm'`` (default): Group Transform Module, a learned per-channel
      weighted sum over the ``S`` slices (grouped 1x1 conv over
      ``(N, C*S, H, W)``, weight ``(C, S, 1, 1)``, no bias), starting as the
      depth mean (``collapse_init='mean'``) or the centre slice
      (``'center'``);
    - ``'center'``, ``'mean'``; ``'conv'`` (dense ``(S, 1, 1)`` Conv3d);
    - ``'none'``: outputs stay 5D ``(N, C_i, S, h, w)`` for a 3D neck
      (:class:`~cspr_det.models.necks.FPN3D`,
      :class:`~cspr_det.models.necks.DepthCollapseNeck`).

    ``'gtm'``/``'conv'`` are built for ``num_slices``; another input depth
    raises ``ValueError`` naming both numbers. The collapse modules are not
    frozen by ``frozen_stages``.

    As a 3D segmentation encoder (``collapse='none'``, ``num_slices=None``,
    ``stem_skip=True``) it returns the stem map ``(N, 64, S, H/2, W/2)``
    and the stages ``(N, C_i, S, H / 2**(i+2), W / 2**(i+2))``.

    Args:
        depth: ``'18ba'``, ``'34ba'``, 63, 131 or 199.
        collapse: One of ``('gtm', 'center', 'conv', 'mean', 'none')``.
        collapse_init: ``'mean'`` or ``'center'``.
        stem_skip: Also return the stem map before the max-pool, first,
            collapsed by its own ``collapse0``.
        **kwargs: As :class:`P3DResNet`.

    Returns (forward):
        tuple of ``(N, C_i, H / 2**(i+2), W / 2**(i+2))`` (or 5D with
        ``collapse='none'``; the stem map first with ``stem_skip``).
    """

    def __init__(self,
                 depth,
                 collapse: str = 'gtm',
                 collapse_init: str = 'mean',
                 stem_skip: bool = False,
                 **kwargs) -> None:
        if collapse not in COLLAPSE_MODES:
            raise ValueError(f'MP3DResNet: collapse must be one of '
                             f'{COLLAPSE_MODES}, got {collapse!r}')
        num_slices: Optional[int] = kwargs.get('num_slices', 9)
        if collapse in ('gtm', 'conv') and num_slices is None:
            raise ValueError(
                f'MP3DResNet: collapse={collapse!r} has per-slice weights and '
                'needs num_slices (got None)')
        super().__init__(depth, **kwargs)
        self.collapse = collapse
        for i in self.out_indices:
            self.add_module(
                f'collapse{i + 1}',
                DepthCollapse(
                    self.stage_channels[i],
                    num_slices=self.num_slices,
                    mode=collapse,
                    init=collapse_init))
        self._set_stem_skip(stem_skip)
        if stem_skip:
            self.add_module(
                'collapse0',
                DepthCollapse(
                    self.stem_channels,
                    num_slices=self.num_slices,
                    mode=collapse,
                    init=collapse_init))
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        x = self.lift(x, self.num_slices)
        if self.stem_skip:
            skip, x = self.forward_stem_with_skip(x)
            outs.append(self.collapse0(skip))
        else:
            x = self.forward_stem(x)
        for i in range(max(self.out_indices) + 1):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'collapse{i + 1}')(x))
        return tuple(outs)
