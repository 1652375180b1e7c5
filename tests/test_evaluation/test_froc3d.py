"""3D FROC (DeepLesion 3D protocol): identical to a brute-force walk written
from the protocol, hand-computed cases, P3D, strata."""
import os.path as osp

import numpy as np
import pytest

from cspr_det.datasets.deeplesion3d_annotations import load_3d_annotations
from cspr_det.evaluation.functional import (FPS_3D, froc3d, size_strata,
                                            stratum_froc3d)
from tool_loader import load_tool


def _ref_overlaps(box, gts, overlap, mode, plus_one):
    """Overlap of one predicted box with every lesion, one pair at a time
    (inclusive extents: ``hi - lo + 1``)."""
    off = 1.0 if plus_one else 0.0
    out = []
    for g in gts:
        iw = max(min(box[3], g[3]) - max(box[0], g[0]) + off, 0.0)
        ih = max(min(box[4], g[4]) - max(box[1], g[1]) + off, 0.0)
        size_b = max(box[3] - box[0] + off, 0) * max(box[4] - box[1] + off, 0)
        size_g = max(g[3] - g[0] + off, 0) * max(g[4] - g[1] + off, 0)
        if mode == '3D':
            iz = max(min(box[5], g[5]) - max(box[2], g[2]) + off, 0.0)
            size_b *= max(box[5] - box[2] + off, 0)
            size_g *= max(g[5] - g[2] + off, 0)
        else:  # a key-slice mark counts only if the box spans its slice
            iz = 1.0 if box[2] <= g[2] <= box[5] else 0.0
        inter = iw * ih * iz

        def frac(d):
            return inter / d if d > 0 else 0.0

        out.append(
            dict(
                iou=frac(size_b + size_g - inter),
                iobb=frac(size_b),
                iogt=frac(size_g),
                iobbgt=max(frac(size_b), frac(size_g)))[overlap])
    return np.array(out)


def _reference(preds, gts, fps, thr=0.3, overlap='iobb', mode='3D'):
    """The protocol, walked box by box: pool, sort by score, FP if the best
    overlap is below thr, else mark the new lesions it reaches; read the
    sensitivity at each rate by linear interpolation (0 below the first
    observed FP rate, the last sensitivity beyond the last)."""
    pool = [(p[6], v, p) for v, arr in enumerate(preds) for p in arr]
    pool.sort(key=lambda t: -t[0])
    found = [np.zeros(len(g), bool) for g in gts]
    hits = fp = 0
    sens, fpr = [], []
    for _, v, p in pool:
        ov = _ref_overlaps(p, gts[v], overlap, mode, True)
        if len(ov) == 0 or ov.max() < thr:
            fp += 1
        else:
            for j in np.flatnonzero((ov >= thr) & ~found[v]):
                found[v][j] = True
                hits += 1
        sens.append(hits / sum(len(g) for g in gts))
        fpr.append(fp / len(gts))
    out = []
    for f in fps:
        if not fpr or f < fpr[0]:
            out.append(0.0)
        elif f > fpr[-1]:
            out.append(sens[-1])
        else:
            out.append(float(np.interp(f, fpr, sens)))
    return np.array(out)


def _random_case(rng, mode):

    def boxes(n):
        c = rng.integers(0, 60, (n, 3)).astype(float)
        s = rng.integers(1, 20, (n, 3))
        return np.concatenate([c, c + s], 1)

    nv = int(rng.integers(1, 6))
    gts = []
    for _ in range(nv):
        g = boxes(int(rng.integers(0, 4)))
        if mode == 'P3D':
            g[:, 5] = g[:, 2]
        gts.append(g)
    preds = []
    for v in range(nv):
        n = int(rng.integers(0, 8))
        b = boxes(n)
        if len(gts[v]) and n:  # near-copies of lesions, to get hits
            near = gts[v][rng.integers(0, len(gts[v]), n)] + \
                rng.integers(-3, 4, (n, 6))
            near[:, 3:] = np.maximum(near[:, 3:], near[:, :3])
            if mode == 'P3D':
                near[:, 2] -= 3
                near[:, 5] += 3
            b = np.where(rng.random((n, 1)) < 0.6, near, b)
        preds.append(np.concatenate([b, rng.random((n, 1))], 1))
    if not sum(len(g) for g in gts):
        gts[0] = boxes(1)
        if mode == 'P3D':
            gts[0][:, 5] = gts[0][:, 2]
    return preds, gts


@pytest.mark.parametrize('mode', ['3D', 'P3D'])
@pytest.mark.parametrize('overlap', ['iou', 'iobb', 'iogt', 'iobbgt'])
def test_identical_to_reference(mode, overlap):
    rng = np.random.default_rng(hash((mode, overlap)) % 2**32)
    for _ in range(40):
        preds, gts = _random_case(rng, mode)
        thr = float(rng.choice([0.1, 0.3, 0.5]))
        res = froc3d(preds, None, gts, FPS_3D, thr, overlap, mode)
        ref = _reference(preds, gts, FPS_3D, thr, overlap, mode)
        assert np.array_equal(res['sens'], ref), (res['sens'], ref)
        assert res['mean_sens'] == np.mean(ref)
        # scores given separately give the same result
        res2 = froc3d([p[:, :6] for p in preds], [p[:, 6] for p in preds], gts,
                      FPS_3D, thr, overlap, mode)
        assert np.array_equal(res2['sens'], res['sens'])


def test_hand_computed():
    # sub-volume 0: one lesion 10x10x5 voxels (inclusive), sub-volume 1: none
    gts = [np.array([[0, 0, 1, 9, 9, 5.]]), np.zeros((0, 6))]
    preds = [
        np.array([
            [0, 0, 1, 19, 9, 5, 0.9],  # IoBB 500/1000 = 0.5: hit
            [0, 0, 1, 9, 9, 5, 0.8],  # re-finds: neither hit nor FP
            [50, 50, 1, 60, 60, 5, 0.95],  # FP
        ]),
        np.array([[0, 0, 1, 9, 9, 5, 0.7]]),  # FP (no lesion there)
    ]
    res = froc3d(preds, None, gts, fps=(0.25, 0.5, 1.0, 2.0))
    # sorted: FP (0.5/vol, sens 0), hit (0.5, 1), refind (0.5, 1), FP (1, 1)
    assert res['curve_fps'].tolist() == [0, 0.5, 0.5, 0.5, 1.0]
    assert res['curve_sens'].tolist() == [0, 0, 1, 1, 1]
    # 0.25: between (0, 0) and (0.5, 0) -> 0; 0.5: last point of the plateau
    assert res['sens'].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert res['clamped'].tolist() == [False, False, False, True]
    assert res['num_fp'] == 2 and res['num_found'] == 1
    first = froc3d(preds, None, gts, fps=(0.5, ), exact_rate='first')
    assert first['sens'].tolist() == [0.0]
    # IoBB 0.5 >= 0.3 but IoU = 500 / 1000 = 0.5 < 0.6
    iou = froc3d(preds, None, gts, fps=(1.0, ), iou_thr=0.6, overlap='iou')
    assert iou['num_found'] == 1  # the exact copy still finds it
    assert iou['det_is_fp'].tolist() == [True, False, True, True]
    # without +1: the first box is 19 x 9 x 4, the lesion 9 x 9 x 4
    no = froc3d(preds, None, gts, fps=(1.0, ), plus_one=False)
    assert no['det_max_overlap'][0] == pytest.approx(324 / 684)


def test_p3d_needs_the_slice():
    marks = [np.array([[10, 10, 7, 20, 20, 7.]])]
    inside = [np.array([[10, 10, 5, 20, 20, 7, 0.9]])]
    outside = [np.array([[10, 10, 8, 20, 20, 12, 0.9]])]
    assert froc3d(inside, None, marks, mode='P3D')['num_found'] == 1
    assert froc3d(outside, None, marks, mode='P3D')['num_found'] == 0
    with pytest.raises(ValueError, match='z1 == z2'):
        froc3d(inside, None, [np.array([[10, 10, 7, 20, 20, 8.]])], mode='P3D')


def test_bad_input():
    gts = [np.zeros((0, 6))]
    with pytest.raises(ValueError, match=r'pred_boxes\[0\] has shape'):
        froc3d([np.zeros((2, 5))], None, gts)
    with pytest.raises(ValueError, match='one entry per sub-volume'):
        froc3d([np.zeros((0, 7))] * 2, None, gts)
    with pytest.raises(ValueError, match='NaN'):
        froc3d([np.full((1, 7), np.nan)], None, gts)
    with pytest.raises(ValueError, match="overlap must be one of"):
        froc3d([np.zeros((0, 7))], None, gts, overlap='dice')
    with pytest.raises(ValueError, match='z2 < z1'):
        froc3d([np.zeros((0, 7))], None, [np.array([[0, 0, 5, 1, 1, 4.]])])


def test_strata_and_released_self_score():
    path = osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
        'deeplesion3d', 'DeepLesion_manual_1K_test_release.pkl')
    gts = list(load_3d_annotations(path, 'test').values())
    # the annotations themselves, score 1: every lesion found, no FP
    preds = [np.hstack([g, np.ones((len(g), 1))]) for g in gts]
    res = froc3d(preds, None, gts)
    assert res['num_found'] == 4155 and res['num_fp'] == 0
    assert res['mean_sens'] == 1.0
    strata = size_strata(gts)
    # long side of the released boxes: 10 to 214 px (inclusive)
    assert [int(m.sum()) for m in strata.values()] == [0, 2871, 1284]
    empty = stratum_froc3d(res, strata['0-10 px'])
    assert empty['num_lesions'] == 0 and np.isnan(empty['mean_sens'])
    for name in ('10-30 px', '>=30 px'):
        st = stratum_froc3d(res, strata[name])
        assert st['mean_sens'] == 1.0
    # a shifted copy loses the small lesions first
    shifted = [p + np.array([[8, 8, 0, 8, 8, 0, 0]]) for p in preds]
    res = froc3d(shifted, None, gts)
    small = stratum_froc3d(res, strata['10-30 px'])
    large = stratum_froc3d(res, strata['>=30 px'])
    assert small['mean_sens'] < large['mean_sens'] - 0.1


def test_benchmark_tool(capsys):
    tool = load_tool('tools/analysis_tools/benchmark_froc3d.py')
    assert tool.main(['--num-subvolumes', '30', '--repeat', '1']) == 0
    out = capsys.readouterr().out
    assert '30 sub-volumes' in out and 'identical sensitivities' in out
