"""3DCE baseline: slice groups through one shared 2D backbone."""
from typing import List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModule

from cspr_det.registry import MODELS


@MODELS.register_module()
class ThreeDCEBackbone(BaseModule):
    """Run a 2D backbone on groups of neighbouring slices and concatenate
    the group features (3D context enhancement, Yan et al. 2018).

    The ``(N, S, H, W)`` stack (``S = num_slices``, e.g. 27) is split into
    ``G = S / group_size`` groups of ``group_size`` consecutive slices
    (slices ``g*group_size .. g*group_size+group_size-1``, used as the RGB
    channels of a 2D image). All ``N*G`` images go through the wrapped
    backbone in one batched call; each output level ``(N*G, C, h, w)`` is
    reshaped to ``(N, G*C, h, w)`` (group-major: channels ``g*C .. g*C+C-1``
    belong to group ``g``). Follow it with :class:`ThreeDCEFusion` (a 1x1
    conv back to a fixed width) and an ordinary 2D FPN/RoI head.

    Args:
        backbone: Config of the 2D backbone, e.g.
            ``dict(type='mmdet.ResNet', depth=50, in_channels=3, ...)``.
        num_slices: ``S``.
        group_size: Slices per group (3 = RGB of an ImageNet model).
        init_cfg: mmengine init config (the wrapped backbone keeps its own).

    Shapes:
        ``(N, S, H, W)`` -> tuple of ``(N, G*C_l, H_l, W_l)``.
    """

    def __init__(self,
                 backbone: dict,
                 num_slices: int = 27,
                 group_size: int = 3,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if group_size < 1 or num_slices < 1 or num_slices % group_size:
            raise ValueError(
                f'ThreeDCEBackbone: num_slices={num_slices} must be a '
                f'positive multiple of group_size={group_size}')
        self.num_slices = num_slices
        self.group_size = group_size
        self.num_groups = num_slices // group_size
        self.backbone = MODELS.build(backbone)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if x.dim() != 4 or x.size(1) != self.num_slices:
            raise ValueError(
                f'ThreeDCEBackbone was built for (N, {self.num_slices}, H, W) '
                f'stacks, got {tuple(x.shape)}')
        n, _, h, w = x.shape
        feats = self.backbone(
            x.reshape(n * self.num_groups, self.group_size, h, w))
        return tuple(
            f.reshape(n, self.num_groups * f.size(1), f.size(2), f.size(3))
            for f in feats)
