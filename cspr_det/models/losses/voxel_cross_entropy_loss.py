"""Cross-entropy over the voxels of a volume, ignoring padded voxels."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from cspr_det.registry import MODELS
from .utils import check_seg_target


@MODELS.register_module()
class VoxelCrossEntropyLoss(nn.Module):
    """Softmax cross-entropy averaged over the non-ignored voxels.

    ``loss = loss_weight * sum_v w[y_v] * -log softmax(x_v)[y_v] /
    sum_v w[y_v]`` over voxels ``v`` whose label is not ``ignore_index``
    (``w`` = ``class_weight``, all ones by default). A batch whose voxels
    are all ignored gives 0 (with a gradient path).

    Args:
        class_weight: Optional per-class weights, length ``C``.
        ignore_index: Label of voxels without a loss (padding: 255).
        loss_weight: Multiplier of the loss.
        loss_name: Key of the loss in the head's loss dict (must contain
            ``'loss'`` for mmengine to add it to the total).
    """

    def __init__(self,
                 class_weight: Optional[Sequence[float]] = None,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        if 'loss' not in loss_name:
            raise ValueError(
                "VoxelCrossEntropyLoss: loss_name must contain 'loss' "
                f'(mmengine sums those), got {loss_name!r}')
        self.class_weight = None if class_weight is None else [
            float(w) for w in class_weight
        ]
        self.ignore_index = ignore_index
        self.loss_weight = float(loss_weight)
        self.loss_name = loss_name

    def forward(self, seg_logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            seg_logits: ``(N, C, D, H, W)`` logits.
            target: ``(N, D, H, W)`` integer labels in ``[0, C)`` or
                ``ignore_index``.

        Returns:
            torch.Tensor: scalar loss.
        """
        num_classes = check_seg_target(
            type(self).__name__, seg_logits, target, self.ignore_index)
        weight = None
        if self.class_weight is not None:
            if len(self.class_weight) != num_classes:
                raise ValueError(
                    f'VoxelCrossEntropyLoss: class_weight has '
                    f'{len(self.class_weight)} entries for {num_classes} '
                    'classes')
            weight = seg_logits.new_tensor(self.class_weight)
        target = target.long()
        if not bool((target != self.ignore_index).any()):
            return seg_logits.sum() * 0.0
        loss = F.cross_entropy(
            seg_logits,
            target,
            weight=weight,
            ignore_index=self.ignore_index,
            reduction='mean')
        return self.loss_weight * loss
