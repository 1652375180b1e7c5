"""Dice and HD95 against hand-computed masks, a brute-force reference and
MONAI (when installed)."""
import itertools

import numpy as np
import pytest

from cspr_det.evaluation.functional import (confusion_counts, dice_from_counts,
                                            dice_per_class, hausdorff_distance,
                                            mean_foreground, surface)


def test_dice_hand_counts_with_ignore():
    pred = np.array([0, 1, 1, 2, 2, 0]).reshape(1, 2, 3)
    gt = np.array([0, 1, 2, 2, 255, 1]).reshape(1, 2, 3)
    c = confusion_counts(pred, gt, 3)
    # the ignored voxel (predicted 2) is left out
    assert c['inter'].tolist() == [1, 1, 1]
    assert c['pred'].tolist() == [2, 2, 1]
    assert c['gt'].tolist() == [1, 2, 2]
    np.testing.assert_allclose(
        dice_per_class(pred, gt, 3), [2 / 3, 2 / 4, 2 / 3])


def test_dice_absent_class_is_nan_and_false_positive_is_zero():
    gt = np.zeros((2, 2, 2), int)
    pred = gt.copy()
    d = dice_per_class(pred, gt, 3)
    assert d[0] == 1.0 and np.isnan(d[1]) and np.isnan(d[2])
    pred[0, 0, 0] = 2
    d = dice_per_class(pred, gt, 3)
    assert np.isnan(d[1]) and d[2] == 0.0
    assert mean_foreground(d) == 0.0
    assert np.isnan(mean_foreground(np.array([1.0, np.nan, np.nan])))


def test_global_dice_sums_counts_over_cases():
    # case a: 10 voxels gt, 10 pred, 5 shared; case b: 2 gt, 0 pred
    inter = np.array([[0, 5], [0, 0]])
    pred = np.array([[0, 10], [0, 0]])
    gt = np.array([[0, 10], [0, 2]])
    assert dice_from_counts(inter.sum(0), pred.sum(0), gt.sum(0))[1] == \
        pytest.approx(10 / 22)
    np.testing.assert_allclose(
        dice_from_counts(inter, pred, gt)[:, 1], [0.5, 0.0])


def test_dice_errors_name_the_problem():
    with pytest.raises(ValueError, match='different shapes'):
        confusion_counts(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)), 2)
    with pytest.raises(ValueError, match='ground truth label 7 is outside'):
        confusion_counts(np.zeros((1, 1, 2), int), np.array([[[0, 7]]]), 2)


def test_surface_of_a_cube():
    m = np.zeros((5, 5, 5), bool)
    m[1:4, 1:4, 1:4] = True
    s = surface(m)
    assert s.sum() == 26 and not s[2, 2, 2]
    # the array border counts as outside
    assert surface(np.ones((3, 3, 3), bool)).sum() == 26


def test_hd95_hand_values_anisotropic():
    # two single-voxel objects: every distance is the centre distance
    a = np.zeros((6, 6, 6), bool)
    b = np.zeros_like(a)
    a[1, 1, 1] = True
    b[4, 1, 3] = True
    spacing = (2.5, 0.7, 0.7)
    expected = np.hypot(3 * 2.5, 2 * 0.7)
    assert hausdorff_distance(a, b, spacing) == pytest.approx(expected)
    # a block shifted by one slice along z: the farthest surface voxels are
    # the two outer caps, one slice (2.5 mm) from the other block's caps
    a = np.zeros((8, 6, 6), bool)
    b = np.zeros_like(a)
    a[2:5, 1:5, 1:5] = True
    b[3:6, 1:5, 1:5] = True
    assert hausdorff_distance(a, b, spacing, percentile=None) == \
        pytest.approx(2.5)
    assert hausdorff_distance(a, a, spacing) == 0.0


def test_hd95_empty_mask_is_nan_and_errors():
    a = np.zeros((3, 3, 3), bool)
    b = a.copy()
    b[1, 1, 1] = True
    assert np.isnan(hausdorff_distance(a, b))
    assert np.isnan(hausdorff_distance(b, a))
    with pytest.raises(ValueError, match='spacing'):
        hausdorff_distance(b, b, spacing=(1.0, 0.0, 1.0))


def _brute_surface(mask):
    out = np.zeros_like(mask)
    steps = [
        s for s in itertools.product((-1, 0, 1), repeat=3)
        if sum(map(abs, s)) == 1
    ]
    for idx in zip(*np.nonzero(mask)):
        for d in steps:
            n = tuple(i + j for i, j in zip(idx, d))
            if any(k < 0 or k >= s for k, s in zip(n, mask.shape)) or \
                    not mask[n]:
                out[idx] = True
    return out


def _brute_hd(a, b, spacing, q):
    sa = np.argwhere(_brute_surface(a)) * np.asarray(spacing)
    sb = np.argwhere(_brute_surface(b)) * np.asarray(spacing)
    d = np.sqrt(((sa[:, None] - sb[None])**2).sum(-1))
    return max(np.percentile(d.min(1), q), np.percentile(d.min(0), q))


def _random_blobs(rng, shape):
    a = rng.random(shape) < 0.15
    b = np.roll(a, 1, axis=0) | (rng.random(shape) < 0.05)
    a[0, 0, :] = True  # touches the array border
    return a, b


@pytest.mark.parametrize('seed', [0, 1])
def test_hd95_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    a, b = _random_blobs(rng, (6, 9, 8))
    spacing = (2.0, 0.8, 0.6)
    for q in (95, 50, 100):
        assert hausdorff_distance(a, b, spacing, q) == pytest.approx(
            _brute_hd(a, b, spacing, q), rel=1e-9)


def test_dice_and_hd95_match_monai():
    monai_metrics = pytest.importorskip('monai.metrics')
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(3)
    spacing = (2.5, 0.7, 0.9)
    for _ in range(3):
        a, b = _random_blobs(rng, (10, 14, 12))
        onehot = [
            torch.from_numpy(np.stack([~m, m])[None].astype(np.float32))
            for m in (a, b)
        ]
        hd = monai_metrics.compute_hausdorff_distance(
            onehot[0],
            onehot[1],
            include_background=False,
            percentile=95,
            spacing=list(spacing)).item()
        assert hausdorff_distance(a, b, spacing) == pytest.approx(hd, rel=1e-6)
        dice = monai_metrics.compute_dice(
            onehot[0], onehot[1], include_background=False).item()
        assert dice_per_class(a.astype(int), b.astype(int), 2)[1] == \
            pytest.approx(dice, rel=1e-6)
