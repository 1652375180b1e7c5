"""Clipping boxes to their image: kept when partly inside, rejected when
empty or entirely outside."""
import math

import pytest

from cspr_det.datasets.clip_box import InvalidBoxError, clip_box_to_image


def test_box_inside_or_touching_the_border_is_unchanged():
    assert clip_box_to_image([10, 20, 30.5, 40], 64,
                             64) == ([10.0, 20.0, 30.5, 40.0], False)
    # the image spans [0, width] x [0, height]: the border itself is inside
    assert clip_box_to_image([0, 0, 64, 48], 48,
                             64) == ([0.0, 0.0, 64.0, 48.0], False)


def test_official_test_lesion_past_the_edge_is_clipped():
    # 003957_03_01_586.png: 1-based box 489.818, 252.689, 513.681, 284.578
    # on a 512 x 512 image; 0-based it ends 0.681 px past the right edge
    box = [v - 1 for v in (489.818, 252.689, 513.681, 284.578)]
    clipped, changed = clip_box_to_image(box, 512, 512)
    assert changed
    assert clipped == pytest.approx([488.818, 251.689, 512.0, 283.578])


@pytest.mark.parametrize('box,height,width,expected', [
    ([-3.5, 10, 20, 30], 64, 64, [0, 10, 20, 30]),
    ([10, -1, 20, 30], 64, 64, [10, 0, 20, 30]),
    ([50, 10, 70, 30], 40, 60, [50, 10, 60, 30]),
    ([5, 30, 20, 45.5], 40, 60, [5, 30, 20, 40]),
    ([-5, -5, 100, 100], 32, 48, [0, 0, 48, 32]),
])
def test_each_side_is_clipped(box, height, width, expected):
    clipped, changed = clip_box_to_image(box, height, width)
    assert changed and clipped == pytest.approx(expected)
    assert all(isinstance(v, float) for v in clipped)


@pytest.mark.parametrize(
    'box',
    [
        [64, 10, 80, 20],  # starts at the right border
        [70, 10, 80, 20],
        [-20, 10, 0, 20],  # ends at the left border
        [10, -30, 20, -1],
        [10, 48, 20, 60],  # below the image (height 48)
    ])
def test_box_entirely_outside_is_rejected(box):
    with pytest.raises(
            InvalidBoxError, match='entirely outside the 48x64') as err:
        clip_box_to_image(box, 48, 64)
    assert err.value.reason == 'box_outside_image'
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize('box', [[10, 10, 10, 20], [10, 20, 30, 19]])
def test_empty_box_is_rejected(box):
    with pytest.raises(InvalidBoxError, match='zero or negative size') as err:
        clip_box_to_image(box, 64, 64)
    assert err.value.reason == 'zero_size_box'


@pytest.mark.parametrize('box',
                         [[1, 2, 3], [1, 2, math.nan, 4], [1, 2, math.inf, 4]])
def test_malformed_box_is_rejected(box):
    with pytest.raises(InvalidBoxError, match='4 finite numbers') as err:
        clip_box_to_image(box, 64, 64)
    assert err.value.reason == 'bad_box'
