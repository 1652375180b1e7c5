"""Linking 2D detections into 3D candidates, against hand-built cases."""
import numpy as np
import pytest

from cspr_det.apis import (CTVolume, build_candidates, iou_matrix,
                           link_detections)


def _volume(depth=12,
            grid_z=None,
            spacing=(0.5, 0.8, 2.0),
            origin=(10.0, 20.0, 30.0)):
    grid_z = np.arange(depth) if grid_z is None else np.asarray(grid_z)
    geo = dict(
        size_xyz=[100, 80, int(grid_z[-1]) + 1],
        spacing_xyz=list(spacing),
        origin=list(origin),
        direction=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0])
    return CTVolume(
        hu=np.zeros((len(grid_z), 80, 100), np.float32),
        spacing=spacing,
        origin=origin,
        direction=tuple(geo['direction']),
        grid_z=grid_z,
        source=dict(
            kind='nifti', path='x.nii', geometry=geo, orientation='LPS'))


def test_iou_matrix_matches_brute_force():
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 50, (5, 2, 2)), axis=1).transpose(0, 2, 1) \
        .reshape(5, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 50, (4, 2, 2)), axis=1).transpose(0, 2, 1) \
        .reshape(4, 4)[:, [0, 2, 1, 3]]
    out = iou_matrix(a, b)
    for i in range(5):
        for j in range(4):
            iw = max(0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
            ih = max(0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
            inter = iw * ih
            union = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1]) + \
                (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - inter
            assert out[i, j] == pytest.approx(inter / union)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (5, 0)


def test_lesion_on_five_slices_is_one_candidate():
    vol = _volume()
    rows = np.array([3, 4, 5, 6, 7])
    boxes = np.array([[40, 30, 52, 38], [38, 29, 54, 39], [36, 28, 56, 40],
                      [38, 29, 54, 39], [41, 31, 51, 37]], np.float64)
    scores = np.array([0.4, 0.7, 0.9, 0.6, 0.3])
    # a false positive elsewhere on slice 5
    rows = np.append(rows, 5)
    boxes = np.vstack([boxes, [[80, 60, 90, 70]]])
    scores = np.append(scores, 0.5)
    cands, ids = build_candidates(vol, rows, boxes, scores, iou_thr=0.3)
    assert len(cands) == 2
    c = cands[0]
    assert c['id'] == 1 and c['score'] == pytest.approx(0.9)
    assert (c['z_first'], c['z_last'], c['num_slices']) == (3, 7, 5)
    assert c['best_slice'] == 5 and c['box_2d'] == [36, 28, 56, 40]
    assert c['bbox_3d'] == [36, 28, 3, 56, 40, 7]
    # best-slice box: 20 px * 0.5 mm = 10 mm wide, 12 px * 0.8 mm = 9.6 mm
    assert c['long_mm'] == pytest.approx(10.0)
    assert c['short_mm'] == pytest.approx(9.6)
    assert c['z_extent_mm'] == pytest.approx(5 * 2.0)
    assert c['size_mm'] == pytest.approx([10.0, 9.6, 10.0])
    # centre: pixel-edge box centre (46, 34) -> voxel (45.5, 33.5), slice 5
    assert c['center_mm'] == pytest.approx(
        [10 + 45.5 * 0.5, 20 + 33.5 * 0.8, 30 + 5 * 2.0])
    assert c['corners_mm'][0] == pytest.approx(
        [10 + 35.5 * 0.5, 20 + 27.5 * 0.8, 30 + 2.5 * 2.0])
    assert c['center_source_index'] == pytest.approx([45.5, 33.5, 5.0])
    np.testing.assert_array_equal(ids, [1, 1, 1, 1, 1, 2])
    assert cands[1]['num_slices'] == 1 and cands[1]['score'] == 0.5


def test_touching_lesions_on_different_slices_stay_two():
    vol = _volume()
    rows = np.array([2, 3, 4, 5, 6, 7])
    a = [10, 10, 20, 20]
    b = [20, 10, 30, 20]  # shares the edge x = 20 with a
    boxes = np.array([a, a, a, b, b, b], np.float64)
    scores = np.array([0.5, 0.8, 0.6, 0.7, 0.9, 0.4])
    cands, ids = build_candidates(vol, rows, boxes, scores, iou_thr=0.1)
    assert len(cands) == 2
    assert [(c['z_first'], c['z_last']) for c in cands] == [(5, 7), (2, 4)]
    np.testing.assert_array_equal(ids, [2, 2, 2, 1, 1, 1])


def test_greedy_matching_by_iou_and_crossing_lesions():
    # two lesions side by side on slices 0-2; the detections of slice 1 are
    # listed in the other order: linking must follow overlap, not order
    z = np.array([0, 0, 1, 1, 2, 2])
    left, right = [0, 0, 10, 10], [12, 0, 22, 10]
    boxes = np.array([left, right, right, left, left, right], np.float64)
    track = link_detections(z, boxes, iou_thr=0.5)
    np.testing.assert_array_equal(track, [0, 1, 1, 0, 0, 1])
    # one detection cannot join two tracks: the better overlap wins
    z = np.array([0, 0, 1])
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [1, 0, 11, 10]],
                     np.float64)
    track = link_detections(z, boxes, iou_thr=0.3)
    assert track[2] in (0, 1) and len(set(track)) == 2
    with pytest.raises(ValueError, match='iou_thr'):
        link_detections(z, boxes, iou_thr=0)


def test_gaps_top_k_and_missing_slices():
    vol = _volume()
    box = [10, 10, 30, 30]
    rows = np.array([1, 2, 4, 5])  # no detection on slice 3
    boxes = np.array([box] * 4, np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    cands, _ = build_candidates(vol, rows, boxes, scores)
    assert [(c['z_first'], c['z_last']) for c in cands] == [(1, 2), (4, 5)]
    cands, _ = build_candidates(vol, rows, boxes, scores, max_step=2)
    assert len(cands) == 1 and cands[0]['num_slices'] == 4
    cands, ids = build_candidates(vol, rows, boxes, scores, top_k=1)
    assert len(cands) == 1 and cands[0]['score'] == 0.9
    np.testing.assert_array_equal(ids, [1, 1, 0, 0])
    # rows 2 and 3 of a folder with a run break between them are 6 grid
    # slices apart: never neighbours
    gapped = _volume(depth=6, grid_z=[0, 1, 2, 8, 9, 10])
    cands, _ = build_candidates(gapped, np.array([1, 2, 3, 4]),
                                np.array([box] * 4, np.float64),
                                np.array([0.9, 0.8, 0.7, 0.6]))
    assert [(c['z_first'], c['z_last']) for c in cands] == [(1, 2), (3, 4)]
    assert cands[0]['z_extent_mm'] == pytest.approx(2 * 2.0)
    empty, ids = build_candidates(vol, np.zeros(0), np.zeros((0, 4)),
                                  np.zeros(0))
    assert empty == [] and ids.shape == (0, )
