"""SoftDiceLoss and VoxelCrossEntropyLoss against hand-computed values."""
import math

import pytest
import torch

from cspr_det.models.losses import SoftDiceLoss, VoxelCrossEntropyLoss
from cspr_det.registry import MODELS


def _case():
    """One sample, 2 classes, 3 voxels along W.

    voxel 0: logits (0, 0)     -> p = (1/2, 1/2), label 1
    voxel 1: logits (ln 3, 0)  -> p = (3/4, 1/4), label 0
    voxel 2: logits (5, -5)    -> ignored (255)
    """
    logits = torch.tensor([[0.0, math.log(3.0), 5.0],
                           [0.0, 0.0, -5.0]]).view(1, 2, 1, 1, 3)
    target = torch.tensor([1, 0, 255]).view(1, 1, 1, 3)
    return logits, target


def test_cross_entropy_hand_value_ignores_padding():
    logits, target = _case()
    loss = VoxelCrossEntropyLoss()(logits, target)
    expected = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    weighted = VoxelCrossEntropyLoss(
        class_weight=[1.0, 3.0], loss_weight=2.0)(logits, target)
    assert weighted.item() == pytest.approx(
        2.0 * (math.log(4.0 / 3.0) + 3 * math.log(2.0)) / 4, abs=1e-6)


def test_soft_dice_foreground_and_with_background_hand_values():
    logits, target = _case()
    s = 1e-3
    # class 1: inter 1/2, sum p 1/2 + 1/4, sum g 1
    dice1 = (2 * 0.5 + s) / (0.75 + 1 + s)
    # class 0: inter 3/4, sum p 1/2 + 3/4, sum g 1
    dice0 = (2 * 0.75 + s) / (1.25 + 1 + s)
    fg = SoftDiceLoss(include_background=False, smooth=s)(logits, target)
    assert fg.item() == pytest.approx(1 - dice1, abs=1e-6)
    both = SoftDiceLoss(
        include_background=True, smooth=s, loss_weight=0.3)(logits, target)
    assert both.item() == pytest.approx(
        0.3 * (1 - (dice0 + dice1) / 2), abs=1e-6)


def test_soft_dice_per_sample_versus_batch():
    # sample a: p1 = 1/2 on its single foreground voxel;
    # sample b: no foreground, predicts p1 = 1/4 on one voxel.
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0),
                                        0.0]]).view(2, 2, 1, 1, 1)
    target = torch.tensor([1, 0]).view(2, 1, 1, 1)
    s = 1e-3
    da = (2 * 0.5 + s) / (0.5 + 1 + s)
    db = (0 + s) / (0.25 + 0 + s)
    per_sample = SoftDiceLoss(smooth=s)(logits, target)
    assert per_sample.item() == pytest.approx(1 - (da + db) / 2, abs=1e-6)
    batch = SoftDiceLoss(smooth=s, batch_dice=True)(logits, target)
    assert batch.item() == pytest.approx(
        1 - (2 * 0.5 + s) / (0.75 + 1 + s), abs=1e-6)


def test_perfect_prediction_and_all_ignored():
    target = torch.tensor([[[[0, 1], [2, 1]]]])
    logits = 20.0 * torch.nn.functional.one_hot(target, 3).permute(
        0, 4, 1, 2, 3).float()
    assert SoftDiceLoss()(logits, target).item() < 1e-6
    assert VoxelCrossEntropyLoss()(logits, target).item() < 1e-6
    ignored = torch.full_like(target, 255)
    logits.requires_grad_(True)
    loss = VoxelCrossEntropyLoss()(logits, ignored)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_gradients_flow_and_registry_names():
    logits, target = _case()
    logits.requires_grad_(True)
    for cfg in (dict(type='cspr_det.SoftDiceLoss'),
                dict(type='cspr_det.VoxelCrossEntropyLoss')):
        loss = MODELS.build(cfg)(logits, target)
        grad, = torch.autograd.grad(loss, logits)
        assert grad[..., :2].abs().sum() > 0
        assert grad[..., 2].abs().sum() == 0  # ignored voxel


def test_bad_labels_and_arguments():
    logits, _ = _case()
    with pytest.raises(ValueError, match='label 2 is outside the 2 classes'):
        SoftDiceLoss()(logits, torch.tensor([2, 0, 0]).view(1, 1, 1, 3))
    with pytest.raises(ValueError, match='does not match'):
        VoxelCrossEntropyLoss()(logits, torch.zeros(1, 1, 3).long())
    with pytest.raises(ValueError, match='class_weight has 3 entries'):
        VoxelCrossEntropyLoss(class_weight=[1, 1, 1])(logits,
                                                      torch.zeros(1, 1, 1,
                                                                  3).long())
    with pytest.raises(ValueError, match='smooth must be > 0'):
        SoftDiceLoss(smooth=0)
    with pytest.raises(ValueError, match="must contain 'loss'"):
        SoftDiceLoss(loss_name='dice')
