"""Removing DeepLesion's 5-px box padding from predicted 3D boxes."""
import numpy as np
import pytest

from cspr_det.apis.subvolume_boxes import (DEEPLESION_BOX_PADDING,
                                           link_subvolume, remove_box_padding)


def test_remove_box_padding_exact():
    rows = np.array([[10., 20., 3., 40., 60., 7., 0.9],
                     [10., 10., 1., 16., 30., 1., 0.5]])
    out = remove_box_padding(rows, DEEPLESION_BOX_PADDING)
    np.testing.assert_array_equal(out[0], [15, 25, 3, 35, 55, 7, 0.9])
    # a side shorter than twice the padding collapses to its centre
    np.testing.assert_array_equal(out[1], [13, 15, 1, 13, 25, 1, 0.5])
    np.testing.assert_array_equal(rows[0], [10, 20, 3, 40, 60, 7, 0.9])
    np.testing.assert_array_equal(remove_box_padding(rows, 0), rows)
    with pytest.raises(ValueError, match='box padding'):
        remove_box_padding(rows, -1)


def test_link_subvolume_removes_padding():
    grid_z = np.arange(4)
    numbers = np.array([12, 11, 10, 9])
    rows = np.array([0, 1, 2])
    boxes = np.array([[10., 10., 30., 30.], [11., 9., 31., 29.],
                      [10., 10., 30., 32.]])
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    plain = link_subvolume(grid_z, numbers, rows, boxes, scores, score_thr=0.3)
    tight = link_subvolume(
        grid_z, numbers, rows, boxes, scores, score_thr=0.3, box_padding=5)
    np.testing.assert_allclose(plain[0, :6], [10, 9, 10, 31, 32, 12])
    np.testing.assert_allclose(tight[0, :6], [15, 14, 10, 26, 27, 12])
    assert tight[0, 6] == plain[0, 6]
