"""3DCE slice groups: split a 2.5D stack into groups of neighbouring slices
and (early-fusion variant) run them through one shared 2D backbone."""
from typing import List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModule

from cspr_det.registry import MODELS


def num_slice_groups(num_slices: int, group_size: int, owner: str) -> int:
    """Number of slice groups ``G = num_slices / group_size``.

    Args:
        num_slices: Channels ``S`` of the ``(N, S, H, W)`` stack.
        group_size: Slices per group (3 = the RGB of an ImageNet model).
        owner: Class name used in the error message.

    Returns:
        int: ``G``.

    Raises:
        ValueError: When ``num_slices`` is not a positive multiple of
            ``group_size``.
    """
    if group_size < 1 or num_slices < 1 or num_slices % group_size:
        raise ValueError(
            f'{owner}: num_slices={num_slices} must be a positive multiple '
            f'of group_size={group_size}')
    return num_slices // group_size


def split_slice_groups(x: torch.Tensor, num_slices: int, group_size: int,
                       owner: str) -> torch.Tensor:
    """Fold the slice groups of a stack into the batch.

    Group ``g`` holds slices ``g*group_size .. g*group_size+group_size-1``;
    it becomes row ``n*G + g`` of the result (a view, no copy).

    Args:
        x: ``(N, S, H, W)`` stack with ``S = num_slices``.
        num_slices: Expected ``S``.
        group_size: Slices per group.
        owner: Class name used in the error message.

    Returns:
        torch.Tensor: ``(N*G, group_size, H, W)``.
    """
    if x.dim() != 4 or x.size(1) != num_slices:
        raise ValueError(
            f'{owner} was built for (N, {num_slices}, H, W) stacks, got '
            f'{tuple(x.shape)}')
    n, _, h, w = x.shape
    return x.reshape(n * (num_slices // group_size), group_size, h, w)


@MODELS.register_module()
class ThreeDCEBackbone(BaseModule):
    """Run a 2D backbone on groups of neighbouring slices and concatenate
    the group features per level (the early-fusion variant of 3D context
    enhancement).

    This wrapper fuses the groups *before* the FPN, so every later part
    (FPN, RPN, RoI head) sees all groups. 3DCE itself (Yan et al., MICCAI
    2018) runs every group through the shared backbone and FPN, gives the
    RPN the central group only and the R-CNN the fusion of all groups: that
    is :class:`cspr_det.ThreeDCE` (a detector), used by the 3DCE config.

    The ``(N, S, H, W)`` stack (``S = num_slices``, e.g. 27) is split into
    ``G = S / group_size`` groups of ``group_size`` consecutive slices (see
    :func:`split_slice_groups`), used as the RGB channels of a 2D image.
    All ``N*G`` images go through the wrapped backbone in one batched call;
    each output level ``(N*G, C, h, w)`` is reshaped to ``(N, G*C, h, w)``
    (group-major: channels ``g*C .. g*C+C-1`` belong to group ``g``). Follow
    it with :class:`ThreeDCEFusion` (a 1x1 conv back to a fixed width) and an
    ordinary 2D FPN/RoI head.

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
        self.num_groups = num_slice_groups(num_slices, group_size,
                                           'ThreeDCEBackbone')
        self.num_slices = num_slices
        self.group_size = group_size
        self.backbone = MODELS.build(backbone)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Args: x: ``(N, S, H, W)``.
        Returns: tuple of ``(N, G*C_l, h, w)``."""
        n = x.size(0)
        feats = self.backbone(
            split_slice_groups(x, self.num_slices, self.group_size,
                               'ThreeDCEBackbone'))
        return tuple(
            f.reshape(n, self.num_groups * f.size(1), f.size(2), f.size(3))
            for f in feats)
