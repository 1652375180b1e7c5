"""Soft Dice loss over softmax probabilities of a volume."""
import torch
import torch.nn as nn

from cspr_det.registry import MODELS
from .utils import check_seg_target


@MODELS.register_module()
class SoftDiceLoss(nn.Module):
    """Soft Dice loss, ``1 - mean_c Dice_c``, on softmax probabilities.

    With ``p = softmax(seg_logits)`` and ``g`` the one-hot target, both set
    to 0 on ignored voxels::

        Dice_c = (2 * sum(p_c * g_c) + smooth) / (sum(p_c) + sum(g_c) + smooth)

    The sums run over the voxels of each sample (the Dice values are then
    averaged over samples and classes) or, with ``batch_dice=True``, over
    the voxels of the whole batch (one Dice per class). Classes: all with
    ``include_background=True`` (the multi-organ Dice+CE recipe), else
    ``1 .. C-1`` (the LiTS CE + Dice recipe).

    Args:
        include_background: Average over class 0 too.
        smooth: Added to numerator and denominator (1e-3); > 0.
        batch_dice: Sum over the batch before the ratio.
        ignore_index: Label of voxels without a loss (padding: 255).
        loss_weight: Multiplier of the loss.
        loss_name: Key of the loss in the head's loss dict.
    """

    def __init__(self,
                 include_background: bool = False,
                 smooth: float = 1e-3,
                 batch_dice: bool = False,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        if not smooth > 0:
            raise ValueError('SoftDiceLoss: smooth must be > 0 (a class '
                             'absent from target and prediction would give '
                             f'0/0), got {smooth}')
        if 'loss' not in loss_name:
            raise ValueError("SoftDiceLoss: loss_name must contain 'loss' "
                             f'(mmengine sums those), got {loss_name!r}')
        self.include_background = include_background
        self.smooth = float(smooth)
        self.batch_dice = batch_dice
        self.ignore_index = ignore_index
        self.loss_weight = float(loss_weight)
        self.loss_name = loss_name

    def forward(self, seg_logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            seg_logits: ``(N, C, D, H, W)`` logits (any number of spatial
                axes).
            target: ``(N, D, H, W)`` integer labels in ``[0, C)`` or
                ``ignore_index``.

        Returns:
            torch.Tensor: scalar loss.
        """
        num_classes = check_seg_target(
            type(self).__name__, seg_logits, target, self.ignore_index)
        if not self.include_background and num_classes < 2:
            raise ValueError('SoftDiceLoss: include_background=False needs '
                             f'at least 2 classes, got {num_classes}')
        valid = (target != self.ignore_index).unsqueeze(1)
        probs = seg_logits.softmax(dim=1) * valid
        classes = torch.arange(
            num_classes, device=target.device).view((1, num_classes) + (1, ) *
                                                    (target.dim() - 1))
        onehot = ((target.unsqueeze(1) == classes) & valid).to(probs.dtype)
        dims = tuple(range(2, probs.dim()))
        if self.batch_dice:
            dims = (0, ) + dims
        inter = (probs * onehot).sum(dims)
        denom = probs.sum(dims) + onehot.sum(dims)
        dice = (2 * inter + self.smooth) / (denom + self.smooth)
        if not self.include_background:
            dice = dice[..., 1:]
        return self.loss_weight * (1.0 - dice.mean())
