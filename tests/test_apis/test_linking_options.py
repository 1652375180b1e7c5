"""Options of 3D linking (candidate score rules, minimum slice count,
hysteresis extension, gap, link IoU) on hand-made detections, with the
exact candidates expected; and the re-linking of sub-volume detections."""
import argparse

import numpy as np
import pytest

from cspr_det.apis import CTVolume, build_candidates
from cspr_det.apis.lesion_linking import (CANDIDATE_SCORES, group_detections,
                                          score_candidate)
from cspr_det.apis.subvolume_boxes import link_subvolume
from cspr_det.cli.errors import CLIError
from cspr_det.cli.infer import (add_detection_args, check_detection_args,
                                link_kwargs)
from tool_loader import load_tool

BOX = [10, 10, 30, 30]
FAR = [60, 50, 70, 60]


def _volume(depth=12):
    spacing, origin = (0.5, 0.8, 2.0), (0.0, 0.0, 0.0)
    geo = dict(
        size_xyz=[100, 80, depth],
        spacing_xyz=list(spacing),
        origin=list(origin),
        direction=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0])
    return CTVolume(
        hu=np.zeros((depth, 80, 100), np.float32),
        spacing=spacing,
        origin=origin,
        direction=tuple(geo['direction']),
        grid_z=np.arange(depth),
        source=dict(
            kind='nifti', path='x.nii', geometry=geo, orientation='LPS'))


def _track_and_single():
    """A lesion on slices 2-5 (scores 0.2, 0.8, 0.6, 0.4) and a single
    detection elsewhere on slice 7 (0.9)."""
    rows = np.array([2, 3, 4, 5, 7])
    boxes = np.array([BOX] * 4 + [FAR], np.float64)
    scores = np.array([0.2, 0.8, 0.6, 0.4, 0.9])
    return rows, boxes, scores


@pytest.mark.parametrize(
    'rule, track_score, single_score',
    [
        ('max', 0.8, 0.9),
        ('mean', 0.5, 0.9),
        ('sum', 2.0, 0.9),
        ('max_len', 0.8, 0.3),  # 0.9 * min(1, 1 / 3)
        ('mean_len', 0.5, 0.3),
    ])
def test_candidate_score_rules(rule, track_score, single_score):
    rows, boxes, scores = _track_and_single()
    cands, ids = build_candidates(
        _volume(), rows, boxes, scores, candidate_score=rule, full_length=3)
    by_slices = {c['num_slices']: c for c in cands}
    assert by_slices[4]['score'] == pytest.approx(track_score)
    assert by_slices[1]['score'] == pytest.approx(single_score)
    assert by_slices[4]['max_score'] == pytest.approx(0.8)
    assert by_slices[4]['bbox_3d'] == [10, 10, 2, 30, 30, 5]
    assert by_slices[4]['best_slice'] == 3  # the best detection's slice
    # ranked by the rule's score
    first = 4 if track_score > single_score else 1
    assert cands[0]['num_slices'] == first
    expected = [1] * 4 + [2] if first == 4 else [2] * 4 + [1]
    np.testing.assert_array_equal(ids, expected)


def test_length_weight_saturates_at_full_length():
    s = np.array([0.6, 0.3])
    assert score_candidate(s, 'mean_len', 4) == pytest.approx(0.45 * 0.5)
    assert score_candidate(s, 'max_len', 2) == pytest.approx(0.6)
    assert score_candidate(s, 'max_len', 1) == pytest.approx(0.6)
    assert set(CANDIDATE_SCORES) == {
        'max', 'mean', 'sum', 'max_len', 'mean_len'
    }
    with pytest.raises(ValueError, match="candidate_score.*'median'"):
        score_candidate(s, 'median')


def test_min_slices_drops_short_tracks():
    rows, boxes, scores = _track_and_single()
    cands, ids = build_candidates(_volume(), rows, boxes, scores, min_slices=2)
    assert [(c['z_first'], c['z_last'], c['score']) for c in cands] == \
        [(2, 5, 0.8)]
    np.testing.assert_array_equal(ids, [1, 1, 1, 1, 0])
    cands, _ = build_candidates(_volume(), rows, boxes, scores, min_slices=5)
    assert cands == []
    with pytest.raises(ValueError, match='min_slices'):
        build_candidates(_volume(), rows, boxes, scores, min_slices=0)


def _hysteresis_case():
    """A lesion on slices 2-6, confident only on slice 4; a weak track of
    two detections elsewhere."""
    rows = np.array([2, 3, 4, 5, 6, 8, 9])
    boxes = np.array([BOX] * 5 + [FAR] * 2, np.float64)
    scores = np.array([0.02, 0.1, 0.6, 0.1, 0.03, 0.1, 0.2])
    return rows, boxes, scores


def test_hysteresis_extends_confident_tracks_only():
    rows, boxes, scores = _hysteresis_case()
    vol = _volume()
    # only the confident detection given (today's behaviour at 0.5)
    conf = scores >= 0.5
    cands, _ = build_candidates(vol, rows[conf], boxes[conf], scores[conf])
    assert [(c['z_first'], c['z_last']) for c in cands] == [(4, 4)]
    # every detection given, a track needs one >= 0.5: the lesion's whole
    # extent, the weak track dropped
    cands, ids = build_candidates(vol, rows, boxes, scores, score_thr=0.5)
    assert [(c['z_first'], c['z_last'], c['num_slices'], c['score'])
            for c in cands] == [(2, 6, 5, 0.6)]
    np.testing.assert_array_equal(ids, [1, 1, 1, 1, 1, 0, 0])
    # without the seed rule the weak track is a candidate too
    cands, _ = build_candidates(vol, rows, boxes, scores)
    assert [(c['z_first'], c['z_last']) for c in cands] == [(2, 6), (8, 9)]


def test_link_iou_and_gap():
    vol = _volume()
    # boxes of IoU 0.6 on neighbouring slices (20x20 vs shifted by 5)
    rows = np.array([1, 2])
    boxes = np.array([BOX, [15, 10, 35, 30]], np.float64)
    iou = 15 * 20 / (2 * 400 - 15 * 20)
    assert iou == pytest.approx(0.6)
    scores = np.array([0.5, 0.7])
    cands, _ = build_candidates(vol, rows, boxes, scores, iou_thr=0.5)
    assert [c['bbox_3d'] for c in cands] == [[10, 10, 1, 35, 30, 2]]
    cands, _ = build_candidates(vol, rows, boxes, scores, iou_thr=0.7)
    assert [c['bbox_3d'] for c in cands] == [[15, 10, 2, 35, 30, 2],
                                             [10, 10, 1, 30, 30, 1]]
    # a slice without a detection: bridged with max_step 2 only
    rows = np.array([1, 3])
    cands, _ = build_candidates(vol, rows, boxes, scores, iou_thr=0.5)
    assert len(cands) == 2
    cands, _ = build_candidates(
        vol, rows, boxes, scores, iou_thr=0.5, max_step=2)
    assert [c['bbox_3d'] for c in cands] == [[10, 10, 1, 35, 30, 3]]


def test_group_detections_order_and_top_k():
    rows, boxes, scores = _track_and_single()
    groups, values = group_detections(
        np.arange(12), rows, boxes, scores, candidate_score='sum', top_k=1)
    assert len(groups) == 1 and values == [pytest.approx(2.0)]
    np.testing.assert_array_equal(groups[0], [0, 1, 2, 3])


def test_link_subvolume_in_slice_numbers():
    """Rows mapped to whole-series slice numbers (row 0 = slice 31 ...),
    the detector's float32 score filter, the options of predict_subvolume.
    """
    rows, boxes, scores = _hysteresis_case()
    scores = scores.astype(np.float32)
    grid_z = np.arange(12)
    numbers = 31 + np.arange(12)
    out = link_subvolume(grid_z, numbers, rows, boxes, scores, score_thr=0.5)
    np.testing.assert_allclose(out, [[10, 10, 35, 30, 30, 35, 0.6]], rtol=1e-6)
    out = link_subvolume(
        grid_z, numbers, rows, boxes, scores, score_thr=0.5, extend_thr=0.05)
    # the 0.02 and 0.03 end slices are below 0.05: slices 34-36
    np.testing.assert_allclose(out, [[10, 10, 34, 30, 30, 36, 0.6]], rtol=1e-6)
    out = link_subvolume(
        grid_z,
        numbers,
        rows,
        boxes,
        scores,
        score_thr=0.5,
        extend_thr=0.01,
        candidate_score='mean')
    np.testing.assert_allclose(
        out,
        [[10, 10, 33, 30, 30, 37, np.mean(scores[:5])]], rtol=1e-6)
    # at 0.1 both tracks, the far one (0.2 best) second; min_slices 3 drops
    # it; a reversed row order (2020 NIH layout) maps rows the other way
    out = link_subvolume(grid_z, numbers, rows, boxes, scores, score_thr=0.1)
    assert out[:, [2, 5]].tolist() == [[34, 36], [39, 40]]
    out = link_subvolume(
        grid_z,
        numbers[::-1],
        rows,
        boxes,
        scores,
        score_thr=0.1,
        min_slices=3)
    assert out[:, [2, 5]].tolist() == [[37, 39]]  # rows 3-5: 39..37
    with pytest.raises(ValueError, match='extend_thr'):
        link_subvolume(
            grid_z,
            numbers,
            rows,
            boxes,
            scores,
            score_thr=0.1,
            extend_thr=0.2)


def test_command_line_options():
    """The linking options of tools/infer_ct.py and tools/test_3d.py."""
    parser = argparse.ArgumentParser()
    add_detection_args(parser)
    args = parser.parse_args([
        '--score-thr', '0.5', '--extend-thr', '0.1', '--min-slices', '2',
        '--candidate-score', 'mean_len', '--full-length', '4'
    ])
    check_detection_args(args)
    assert link_kwargs(args) == dict(
        extend_thr=0.1,
        min_slices=2,
        candidate_score='mean_len',
        full_length=4)
    defaults = parser.parse_args([])
    assert link_kwargs(defaults) == dict(
        extend_thr=None, min_slices=1, candidate_score='max', full_length=3)
    for argv, words in ((['--extend-thr', '0.6'], 'invalid --extend-thr'),
                        (['--min-slices', '0'], 'invalid --min-slices'),
                        (['--full-length', '0'], 'invalid --full-length')):
        with pytest.raises(CLIError, match=words):
            check_detection_args(parser.parse_args(argv))
    test_3d = load_tool('tools/test_3d.py')
    args = test_3d.parse_args([
        'c.py', 'k.pth', '--subvolumes', 'd', '--annotations', 'a.json',
        '--candidate-score', 'sum'
    ])
    assert link_kwargs(args)['candidate_score'] == 'sum'
    # the defaults keep the resume key of earlier runs
    plain = test_3d.parse_args(['c.py', 'k.pth', '--annotations', 'a'])
    key = test_3d._settings_key(plain)
    assert test_3d._settings_key(args) != key
