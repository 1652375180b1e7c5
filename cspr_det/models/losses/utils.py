"""Input checks shared by the segmentation losses."""
import torch


def check_seg_target(name: str, seg_logits: torch.Tensor, target: torch.Tensor,
                     ignore_index: int) -> int:
    """Check logits ``(N, C, *S)`` against labels ``(N, *S)``.

    Args:
        name: Loss name used in error messages.
        seg_logits: ``(N, C, *S)`` logits.
        target: ``(N, *S)`` integer labels.
        ignore_index: Label value that is ignored.

    Returns:
        int: the number of classes ``C``.

    Raises:
        ValueError: Shapes disagree or a label is outside ``[0, C)`` and is
            not ``ignore_index``.
    """
    if seg_logits.dim() < 3:
        raise ValueError(f'{name}: seg_logits must be (N, C, ...), got '
                         f'{tuple(seg_logits.shape)}')
    if target.shape != seg_logits.shape[:1] + seg_logits.shape[2:]:
        raise ValueError(
            f'{name}: target shape {tuple(target.shape)} does not match '
            f'seg_logits {tuple(seg_logits.shape)} (expected '
            f'{tuple(seg_logits.shape[:1] + seg_logits.shape[2:])})')
    if target.dtype.is_floating_point:
        raise ValueError(f'{name}: target must hold integer labels, got '
                         f'{target.dtype}')
    num_classes = seg_logits.size(1)
    bad = (target != ignore_index) & ((target < 0) | (target >= num_classes))
    if bool(bad.any()):
        raise ValueError(
            f'{name}: label {int(target[bad][0])} is outside the '
            f'{num_classes} classes [0, {num_classes - 1}] (ignore_index '
            f'{ignore_index})')
    return num_classes
