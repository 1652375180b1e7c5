"""Tests of the pure FROC function against hand-computed cases and a plain,
loop-based reference implementation."""
import numpy as np
import pytest
from scipy import interpolate

from cspr_det.evaluation import (curve_corners, froc, interpolate_sensitivity,
                                 stratum_froc)


def _b(*rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def _s(*vals):
    return np.array(vals, dtype=np.float64)


def worked_example():
    """4 images, 4 lesions, 8 detections (plus_one=False, IoU >= 0.5).

    image 0: lesions A=[0,0,10,10], B=[20,20,30,30]
    image 1: lesion  C=[0,0,10,10]
    image 2: no lesion
    image 3: lesion  D=[50,50,60,60]

    Detections in score order and what they do (FPs, found after it):
      d1 .9 img0 [0,0,10,10]       IoU(A)=1          finds A    (0, 1)
      d2 .8 img2 [0,0,5,5]         no lesion         FP 1       (1, 1)
      d3 .7 img0 [1,0,11,10]       IoU(A)=90/110=.82 duplicate  (1, 1)
      d4 .6 img1 [0,0,10,10]       IoU(C)=1          finds C    (1, 2)
      d5 .5 img3 [0,0,10,10]       IoU(D)=0          FP 2       (2, 2)
      d6 .4 img0 [20,20,30,30]     IoU(B)=1          finds B    (2, 3)
      d7 .3 img1 [100,100,110,110] IoU(C)=0          FP 3       (3, 3)
      d8 .2 img3 [50,50,60,60]     IoU(D)=1          finds D    (3, 4)

    Curve (FPs/image = fp/4, sensitivity = found/4), point 0 = (0, 0):
      fps : 0, 0,   .25, .25, .25, .5, .5,  .75, .75
      sens: 0, .25, .25, .25, .5,  .5, .75, .75, 1
    """
    pred = [
        _b([0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]),
        _b([0, 0, 10, 10], [100, 100, 110, 110]),
        _b([0, 0, 5, 5]),
        _b([0, 0, 10, 10], [50, 50, 60, 60]),
    ]
    scores = [_s(0.9, 0.7, 0.4), _s(0.6, 0.3), _s(0.8), _s(0.5, 0.2)]
    gts = [
        _b([0, 0, 10, 10], [20, 20, 30, 30]),
        _b([0, 0, 10, 10]),
        np.zeros((0, 4)),
        _b([50, 50, 60, 60]),
    ]
    return pred, scores, gts


def test_worked_example_curve_and_counts():
    res = froc(*worked_example(), fps=(0.5, ))
    np.testing.assert_allclose(res['curve_fps'],
                               [0, 0, .25, .25, .25, .5, .5, .75, .75])
    np.testing.assert_allclose(res['curve_sens'],
                               [0, .25, .25, .25, .5, .5, .75, .75, 1])
    assert res['num_images'] == 4
    assert res['num_lesions'] == 4
    assert res['num_detections'] == 8
    assert res['num_fp'] == 3  # the duplicate d3 is not an FP
    assert res['num_found'] == 4
    assert res['max_fps'] == 0.75
    # detections in input order: img0 d1,d3,d6 / img1 d4,d7 / img2 d2 / img3
    # d5,d8
    np.testing.assert_array_equal(res['det_is_fp'], [0, 0, 0, 0, 1, 1, 1, 0])
    # lesions A, B, C, D are found at curve points 1, 6, 4, 8
    np.testing.assert_array_equal(res['lesion_found_step'], [1, 6, 4, 8])
    np.testing.assert_array_equal(res['lesion_image'], [0, 0, 1, 3])


def test_worked_example_sensitivities_last_rule():
    # exact_rate='last': an exact rate reads the last point at that rate.
    # f=0.125 (not exact): between (0, .25) [last point < f] and (.25, .25)
    #   [first point > f]                                     -> .25
    # f=0.25 exact: last point at rate .25 is (.25, .5)        -> .5
    # f=0.5 exact: last point at rate .5 is (.5, .75)          -> .75
    # f=0.6: between (.5, .75) and (.75, .75)                  -> .75
    # f=0.75 = last observed rate (exact, not clamped): (.75, 1) -> 1
    # f=1, 2: beyond the last observed rate .75: clamped to the final 1
    res = froc(
        *worked_example(),
        fps=(0.125, 0.25, 0.5, 0.6, 0.75, 1, 2),
        exact_rate='last')
    np.testing.assert_allclose(res['sens'], [.25, .5, .75, .75, 1, 1, 1])
    np.testing.assert_array_equal(res['clamped'], [0, 0, 0, 0, 0, 1, 1])
    # mean over the rates in [0.5, 4]: 0.5, 0.6, 0.75, 1, 2
    assert res['mean_sens'] == pytest.approx((.75 + .75 + 1 + 1 + 1) / 5)
    np.testing.assert_allclose(res['mean_sens_fps'], [0.5, 0.6, 0.75, 1, 2])


def test_worked_example_sensitivities_first_rule():
    # exact_rate='first' (the default): an exact rate reads the point where
    # the FP that reaches it is counted.
    # f=0.25: the 1st FP is point 2 (.25, .25)                 -> .25
    # f=0.5: the 2nd FP is point 5 (.5, .5)                    -> .5
    # f=0.75: the 3rd FP is point 7 (.75, .75)                 -> .75
    # non-exact and clamped rates as with the default rule.
    res = froc(
        *worked_example(),
        fps=(0.125, 0.25, 0.5, 0.6, 0.75, 1),
        exact_rate='first')
    np.testing.assert_allclose(res['sens'], [.25, .25, .5, .75, .75, 1])
    default = froc(*worked_example(), fps=(0.125, 0.25, 0.5, 0.6, 0.75, 1))
    np.testing.assert_allclose(default['sens'], res['sens'])


def test_default_fps_and_mean():
    # default rates 0.5 1 2 4 8 16, default rule 'first': rate .5 reads the
    # point where the 2nd FP is counted (.5), then clamped to 1 from rate 1 on
    res = froc(*worked_example())
    np.testing.assert_allclose(res['fps'], [0.5, 1, 2, 4, 8, 16])
    np.testing.assert_allclose(res['sens'], [.5, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(res['clamped'], [0, 1, 1, 1, 1, 1])
    assert res['mean_sens'] == pytest.approx((.5 + 1 + 1 + 1) / 4)


def test_mean_sens_nan_without_rates_in_range():
    res = froc(*worked_example(), fps=(8, 16))
    assert np.isnan(res['mean_sens'])


def test_plus_one_changes_the_overlap():
    # lesion [0,0,9,9], detection [0,0,4,9]
    # plus_one=False: inter 4*9=36, union 81+36-36=81 -> IoU .444 -> FP
    # plus_one=True: lesion 10x10=100, detection 5x10=50, inter 50
    #   -> IoU 50/100 = .5 -> found
    args = ([_b([0, 0, 4, 9])], [_s(0.9)], [_b([0, 0, 9, 9])])
    r0 = froc(*args, fps=(1, ))
    r1 = froc(*args, fps=(1, ), plus_one=True)
    assert r0['num_fp'] == 1 and r0['num_found'] == 0
    assert r1['num_fp'] == 0 and r1['num_found'] == 1
    assert r0['det_max_overlap'][0] == pytest.approx(36 / 81)
    assert r1['det_max_overlap'][0] == pytest.approx(0.5)
    np.testing.assert_allclose(r0['sens'], [0])
    np.testing.assert_allclose(r1['sens'], [1])


def test_iobb_vs_iou():
    # image 0: detection [2,2,6,6] inside lesion [0,0,10,10]:
    #   IoU 16/100 = .16 -> FP; IoBB 16/16 = 1 -> found.
    # image 1: detection [0,0,20,20], lesion [30,30,40,40]: no overlap -> FP.
    # image 2: detection [0,0,20,20] around lesion [0,0,10,10]:
    #   IoU = IoBB = 100/400 = .25 -> FP either way.
    pred = [_b([2, 2, 6, 6]), _b([0, 0, 20, 20]), _b([0, 0, 20, 20])]
    scores = [_s(0.9), _s(0.8), _s(0.7)]
    gts = [_b([0, 0, 10, 10]), _b([30, 30, 40, 40]), _b([0, 0, 10, 10])]
    r_iou = froc(pred, scores, gts, fps=(1, ))
    r_iobb = froc(pred, scores, gts, fps=(1, ), overlap='iobb')
    np.testing.assert_array_equal(r_iou['det_is_fp'], [1, 1, 1])
    np.testing.assert_array_equal(r_iobb['det_is_fp'], [0, 1, 1])
    assert r_iobb['det_max_overlap'][0] == 1.0
    assert r_iou['det_max_overlap'][2] == pytest.approx(0.25)
    # iobb: 3 images, 1 of 3 lesions found, 2 FPs -> rate 2/3 < 1: clamped
    np.testing.assert_allclose(r_iobb['sens'], [1 / 3])
    assert r_iobb['clamped'][0]


def test_one_detection_finds_every_new_lesion_it_overlaps():
    # lesions [0,0,10,10] and [0,0,10,12] (IoU 100/120 between them); the
    # detection [0,0,10,10] overlaps both >= .5 and finds both at once. A
    # second detection overlapping both is a duplicate (neither hit nor FP).
    pred = [_b([0, 0, 10, 10], [0, 0, 10, 11])]
    res = froc(
        pred, [_s(0.9, 0.8)], [_b([0, 0, 10, 10], [0, 0, 10, 12])], fps=(1, ))
    np.testing.assert_allclose(res['curve_sens'], [0, 1, 1])
    np.testing.assert_allclose(res['curve_fps'], [0, 0, 0])
    np.testing.assert_array_equal(res['lesion_found_step'], [1, 1])
    assert res['num_fp'] == 0


def test_duplicate_that_also_finds_a_new_lesion_is_a_hit():
    # lesion A found first; the next detection overlaps A (already found)
    # and a new lesion B -> B becomes found, no FP.
    pred = [_b([0, 0, 10, 10], [0, 0, 10, 11])]
    gts = [_b([0, 0, 10, 9], [0, 0, 10, 12])]
    # d1 [0,0,10,10]: IoU(A)=90/100=.9, IoU(B)=100/120=.83 -> finds both.
    # Use a stricter threshold so d1 finds only A:
    # thr .85: d1 finds A (.9), not B (.83). d2 [0,0,10,11]: IoU(A)=90/110
    # =.82 < .85, IoU(B)=110/120=.917 -> finds B.
    res = froc(pred, [_s(0.9, 0.8)], gts, fps=(1, ), iou_thr=0.85)
    np.testing.assert_allclose(res['curve_sens'], [0, .5, 1])
    assert res['num_fp'] == 0


def test_images_without_lesions_count_in_the_fp_rate():
    # one lesion found with score .9, one FP with .5; adding 2 images without
    # lesion or detection divides the FP rate by 3: 1 FP / 1 image vs 1 / 3.
    pred = [_b([0, 0, 10, 10], [50, 50, 60, 60])]
    scores = [_s(0.9, 0.5)]
    gts = [_b([0, 0, 10, 10])]
    r1 = froc(pred, scores, gts, fps=(1, ))
    r3 = froc(
        pred + [np.zeros((0, 4))] * 2,
        scores + [np.zeros(0)] * 2,
        gts + [np.zeros((0, 4))] * 2,
        fps=(1, ))
    np.testing.assert_allclose(r1['curve_fps'], [0, 0, 1])
    np.testing.assert_allclose(r3['curve_fps'], [0, 0, 1 / 3])
    assert r3['num_images'] == 3
    assert not r1['clamped'][0] and r3['clamped'][0]


def test_no_detection_at_all():
    res = froc([np.zeros((0, 4))] * 2, [np.zeros(0)] * 2,
               [_b([0, 0, 5, 5]), np.zeros((0, 4))])
    np.testing.assert_allclose(res['sens'], np.zeros(6))
    assert res['clamped'].all()
    assert res['curve_fps'].tolist() == [0.0]
    assert res['num_detections'] == 0


def test_no_lesion_gives_nan():
    res = froc([_b([0, 0, 5, 5])], [_s(0.5)], [np.zeros((0, 4))])
    assert np.isnan(res['sens']).all() and np.isnan(res['mean_sens'])
    assert res['num_fp'] == 1


def test_tie_breaking_is_stable_by_image_then_detection():
    # equal scores: an FP in image 0 and a hit in image 1 -> the FP is
    # walked first; swapping the images walks the hit first.
    pred = [_b([50, 50, 60, 60]), _b([0, 0, 10, 10])]
    gts = [np.zeros((0, 4)), _b([0, 0, 10, 10])]
    scores = [_s(0.5), _s(0.5)]
    res = froc(pred, scores, gts, fps=(0.5, ), exact_rate='first')
    np.testing.assert_allclose(res['curve_sens'], [0, 0, 1])
    np.testing.assert_allclose(res['sens'], [0])
    rev = froc(pred[::-1], scores, gts[::-1], fps=(0.5, ), exact_rate='first')
    np.testing.assert_allclose(rev['curve_sens'], [0, 1, 1])
    np.testing.assert_allclose(rev['sens'], [1])
    # inside one image, too: detection order decides among equal scores
    one = froc([_b([50, 50, 60, 60], [0, 0, 10, 10])], [_s(0.5, 0.5)],
               [_b([0, 0, 10, 10])],
               fps=(1, ))
    np.testing.assert_allclose(one['curve_sens'], [0, 0, 1])


@pytest.mark.parametrize('kwargs, match', [
    (dict(fps=()), 'fps'),
    (dict(fps=(0, 1)), 'fps'),
    (dict(iou_thr=0), 'iou_thr'),
    (dict(iou_thr=1.5), 'iou_thr'),
    (dict(overlap='giou'), 'overlap'),
    (dict(exact_rate='middle'), 'exact_rate'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        froc(*worked_example(), **kwargs)


def test_bad_inputs_name_the_offender():
    pred, scores, gts = worked_example()
    with pytest.raises(ValueError, match='one entry per image'):
        froc(pred, scores, gts[:3])
    with pytest.raises(TypeError, match='pred_boxes must be a list'):
        froc(np.zeros((4, 2, 4)), scores, gts)
    bad = list(pred)
    bad[1] = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r'pred_boxes\[1\] has shape'):
        froc(bad, scores, gts)
    bad_s = list(scores)
    bad_s[3] = _s(0.5)
    with pytest.raises(ValueError, match=r'pred_scores\[3\]'):
        froc(pred, bad_s, gts)
    bad_s[3] = _s(0.5, np.nan)
    with pytest.raises(ValueError, match=r'pred_scores\[3\] contains NaN'):
        froc(pred, bad_s, gts)
    bad_g = list(gts)
    bad_g[0] = _b([10, 0, 0, 10])
    with pytest.raises(ValueError, match=r'gt_boxes\[0\] has a box'):
        froc(pred, scores, bad_g)
    with pytest.raises(ValueError, match='at least one image'):
        froc([], [], [])


def _random_case(rng, n_img):
    """Boxes on an integer grid (many exact ties and exact FP rates) and
    scores from 5 levels (many equal scores)."""
    pred, scores, gts = [], [], []
    for _ in range(n_img):
        ng, nd = rng.integers(0, 4), rng.integers(0, 8)
        c = rng.integers(0, 30, (ng, 2))
        g = np.concatenate([c, c + rng.integers(1, 10, (ng, 2))], 1)
        if ng and nd:  # jittered copies of lesions: hits, misses, duplicates
            d = g[rng.integers(0, ng, nd)] + rng.integers(-3, 4, (nd, 4))
            d[:, 2:] = np.maximum(d[:, 2:], d[:, :2])
        else:
            c = rng.integers(0, 30, (nd, 2))
            d = np.concatenate([c, c + rng.integers(1, 10, (nd, 2))], 1)
        pred.append(d.astype(float))
        gts.append(g.astype(float))
        scores.append(rng.integers(0, 5, nd) / 4.0)
    return pred, scores, gts


def reference_froc(pred, scores, gts, fps, iou_thr, overlap, plus_one,
                   exact_rate):
    """Plain loop implementation of the protocol, for comparison."""
    off = 1 if plus_one else 0
    dets = []
    for i in range(len(pred)):
        for j in range(len(pred[i])):
            dets.append((-scores[i][j], i, j))  # stable: image, detection
    dets.sort()
    found = [[False] * len(g) for g in gts]
    n_fp, n_found = 0, 0
    xs, ys = [0.0], [0]
    for _, i, j in dets:
        d = pred[i][j]
        best, hits = 0.0, []
        for k, g in enumerate(gts[i]):
            iw = max(min(d[2], g[2]) - max(d[0], g[0]) + off, 0)
            ih = max(min(d[3], g[3]) - max(d[1], g[1]) + off, 0)
            inter = iw * ih
            area_d = max(d[2] - d[0] + off, 0) * max(d[3] - d[1] + off, 0)
            area_g = (g[2] - g[0] + off) * (g[3] - g[1] + off)
            den = area_d + area_g - inter if overlap == 'iou' else area_d
            ov = inter / den if den > 0 else 0.0
            best = max(best, ov)
            if ov >= iou_thr:
                hits.append(k)
        if best < iou_thr:
            n_fp += 1
        else:
            for k in hits:
                if not found[i][k]:
                    found[i][k] = True
                    n_found += 1
        xs.append(n_fp / len(pred))
        ys.append(n_found)
    n_les = sum(len(g) for g in gts)
    ys = [y / n_les for y in ys]
    out = []
    for f in fps:
        if f > xs[-1]:
            out.append(ys[-1])
            continue
        if exact_rate == 'first':
            hi = min(j for j in range(len(xs)) if xs[j] >= f)
            lo = hi - 1
            out.append(ys[lo] + (ys[hi] - ys[lo]) * (f - xs[lo]) /
                       (xs[hi] - xs[lo]))
        else:
            lo = max(j for j in range(len(xs)) if xs[j] <= f)
            if xs[lo] == f or lo == len(xs) - 1:
                out.append(ys[lo])
            else:
                hi = lo + 1
                out.append(ys[lo] + (ys[hi] - ys[lo]) * (f - xs[lo]) /
                           (xs[hi] - xs[lo]))
    return np.array(out), np.array(xs), np.array(ys)


@pytest.mark.parametrize('overlap', ['iou', 'iobb'])
@pytest.mark.parametrize('plus_one', [False, True])
def test_agrees_with_loop_reference(overlap, plus_one):
    rng = np.random.default_rng(1234)
    fps = (0.25, 0.5, 1, 1.5, 2, 3, 4)
    n_cases = 0
    for _ in range(60):
        pred, scores, gts = _random_case(rng, int(rng.integers(1, 8)))
        if sum(len(g) for g in gts) == 0:
            continue
        n_cases += 1
        thr = float(rng.choice([0.3, 0.5, 0.7]))
        for rule in ('last', 'first'):
            res = froc(pred, scores, gts, fps, thr, overlap, plus_one, rule)
            sens, xs, ys = reference_froc(pred, scores, gts, fps, thr, overlap,
                                          plus_one, rule)
            np.testing.assert_allclose(res['curve_fps'], xs)
            np.testing.assert_allclose(res['curve_sens'], ys)
            np.testing.assert_allclose(res['sens'], sens)
    assert n_cases > 40


def test_default_rule_matches_classic_scipy_interp1d():
    # The classic code: interp1d(fp_per_img, sens, fill_value='extrapolate')
    # (f) for f <= last rate; we clamp to sens[-1] beyond instead.
    rng = np.random.default_rng(7)
    for _ in range(30):
        pred, scores, gts = _random_case(rng, 4)
        if sum(len(g) for g in gts) == 0 or sum(map(len, pred)) < 2:
            continue
        res = froc(pred, scores, gts, fps=(0.25, 0.5, 0.75, 1, 2, 4))
        f = interpolate.interp1d(
            res['curve_fps'], res['curve_sens'], fill_value='extrapolate')
        expect = [
            float(f(a)) if a <= res['max_fps'] else res['curve_sens'][-1]
            for a in res['fps']
        ]
        np.testing.assert_allclose(res['sens'], expect)


def test_curve_is_monotone_and_never_beyond_final():
    rng = np.random.default_rng(5)
    for _ in range(20):
        pred, scores, gts = _random_case(rng, 6)
        if sum(len(g) for g in gts) == 0:
            continue
        res = froc(pred, scores, gts, fps=(0.1, 0.5, 1, 2, 4, 8, 16))
        assert (np.diff(res['curve_fps']) >= 0).all()
        assert (np.diff(res['curve_sens']) >= 0).all()
        assert (np.diff(res['curve_scores']) <= 0).all()
        assert (np.diff(res['sens']) >= -1e-12).all()
        assert (res['sens'] <= res['final_sens'] + 1e-12).all()
        # past the last observed rate: exactly the final sensitivity
        beyond = res['fps'] > res['max_fps']
        np.testing.assert_array_equal(res['clamped'], beyond)
        np.testing.assert_allclose(res['sens'][beyond], res['final_sens'])


def test_stratum_froc():
    res = froc(*worked_example(), fps=(0.25, 0.5, 1), exact_rate='last')
    # lesions A, B (image 0), found at points 1 and 6; FP axis unchanged:
    # f=.25 -> last point at .25 is point 4: only A found -> 1/2
    # f=.5  -> point 6: A and B -> 1; f=1 clamped -> 1
    sub = stratum_froc(res, np.array([1, 1, 0, 0], dtype=bool))
    np.testing.assert_allclose(sub['sens'], [.5, 1, 1])
    assert sub['num_lesions'] == 2 and sub['num_found'] == 2
    assert sub['mean_sens'] == pytest.approx(1.0)
    # all lesions: the overall result; no lesion: NaN
    full = stratum_froc(res, np.ones(4, dtype=bool))
    np.testing.assert_allclose(full['sens'], res['sens'])
    np.testing.assert_allclose(full['curve_sens'], res['curve_sens'])
    assert np.isnan(stratum_froc(res, np.zeros(4, bool))['sens']).all()
    with pytest.raises(ValueError, match='lesion_mask has 3 entries'):
        stratum_froc(res, np.ones(3, dtype=bool))


def test_curve_corners_keep_the_interpolation():
    rng = np.random.default_rng(11)
    pred, scores, gts = _random_case(rng, 7)
    gts[0] = _b([0, 0, 5, 5])
    res = froc(pred, scores, gts)
    x, y = curve_corners(res['curve_fps'], res['curve_sens'])
    rates = np.linspace(0.01, res['max_fps'] + 1, 37)
    for rule in ('last', 'first'):
        np.testing.assert_allclose(
            interpolate_sensitivity(x, y, rates, rule)[0],
            interpolate_sensitivity(res['curve_fps'], res['curve_sens'], rates,
                                    rule)[0])
