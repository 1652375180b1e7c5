"""``froc`` against the classic 3DCE/MULAN per-detection loop (the reference
of tools/analysis_tools/benchmark_froc.py), and the pieces that make it fast:
the stable score sort and the chunked matching."""
import importlib

import numpy as np
import pytest

from cspr_det.evaluation import froc, score_order
from tool_loader import load_tool

# the module (the package attribute of the same name is the function)
froc_module = importlib.import_module('cspr_det.evaluation.functional.froc')

BENCH = load_tool('tools/analysis_tools/benchmark_froc.py')
RATES = (0.05, 0.125, 0.25, 0.5, 1, 2, 4, 8, 100)


def _with_empty_images(case, every=9):
    """Give every ``every``-th image no lesion (its detections are FPs)."""
    pred, scores, gts = case
    gts = [
        np.zeros((0, 4)) if i % every == 4 else g for i, g in enumerate(gts)
    ]
    return pred, scores, gts


@pytest.mark.parametrize('extrapolate, rule', [(True, 'first'),
                                               (False, 'last')])
def test_identical_to_the_classic_loop(extrapolate, rule):
    # 120 images x 25 detections, some images with several lesions or none;
    # rates 1, 2, 4, 8 are reached exactly (f x 120 FPs), 100 is beyond the
    # last observed rate (clamped by both).
    pred, scores, gts = _with_empty_images(
        BENCH.make_case(
            num_images=120,
            dets_per_image=25,
            num_lesions=160,
            image_size=128,
            seed=4))
    classic_boxes = [np.hstack([b, s[:, None]]) for b, s in zip(pred, scores)]
    res = froc(pred, scores, gts, RATES, 0.5, plus_one=True, exact_rate=rule)
    ref = BENCH.classic_sens_at_fp(
        classic_boxes, gts, RATES, 0.5, extrapolate=extrapolate)
    np.testing.assert_array_equal(res['sens'], ref)
    sens, fp_per_img = BENCH.classic_froc_curve(classic_boxes, gts, 0.5)
    np.testing.assert_array_equal(res['curve_sens'][1:], sens)
    np.testing.assert_array_equal(res['curve_fps'][1:], fp_per_img)
    # the case exercises what it claims
    assert res['clamped'][-1] and not res['clamped'][:-1].any()
    assert sum(len(g) == 0 for g in gts) == 13
    assert sum(len(g) > 1 for g in gts) > 10
    assert 0.2 < res['sens'][4] < 1


def test_the_two_rules_differ_on_this_case():
    # guards the test above: at exact rates the two classic read-outs
    # differ, so agreeing with each is not agreeing with one number twice
    pred, scores, gts = _with_empty_images(
        BENCH.make_case(
            num_images=120,
            dets_per_image=25,
            num_lesions=160,
            image_size=128,
            seed=4))
    first = froc(pred, scores, gts, RATES, plus_one=True)['sens']
    last = froc(
        pred, scores, gts, RATES, plus_one=True, exact_rate='last')['sens']
    assert (last >= first).all() and (last > first).any()


def test_benchmark_run_asserts_identical_values():
    args = BENCH.parse_args([
        '--num-images', '40', '--num-lesions', '50', '--dets-per-image', '15',
        '--repeat', '1', '--classic-repeat', '1'
    ])
    out = BENCH.run(args)
    assert out['ratio'] > 0
    assert out['result']['num_detections'] == 600
    with pytest.raises(ValueError, match='num_lesions'):
        BENCH.make_case(num_images=10, num_lesions=5)


@pytest.mark.parametrize('kind',
                         ['uniform', 'ties', 'float32', 'near_ties', 'signed'])
def test_score_order_is_the_stable_descending_argsort(kind):
    rng = np.random.default_rng(0)
    n = 5000
    if kind == 'uniform':
        s = rng.random(n)
    elif kind == 'ties':  # five levels: long runs of equal scores
        s = rng.integers(0, 5, n) / 4.0
    elif kind == 'float32':
        s = rng.random(n).astype(np.float32)
    elif kind == 'near_ties':
        # differ only in the low mantissa bits that the sort key replaces
        # by the index: the exact re-ordering must put them right
        s = 0.5 + rng.integers(0, 4, n) * 2.0**-50
    else:  # negative, zero and negative zero
        s = rng.normal(0, 1, n)
        s[::7] = 0.0
        s[3::7] = -0.0
    expect = np.argsort(-np.asarray(s, dtype=np.float64), kind='stable')
    np.testing.assert_array_equal(score_order(s), expect)


def test_score_order_small_inputs():
    assert score_order(np.zeros(0)).tolist() == []
    assert score_order(np.array([0.3])).tolist() == [0]
    assert score_order(np.array([0.3, 0.3, 0.9])).tolist() == [2, 0, 1]


def test_chunked_matching_equals_one_chunk(monkeypatch):
    # chunks of 7 detections split images and multi-lesion slots across
    # chunk boundaries; every output must be the same as in one chunk
    rng = np.random.default_rng(2)
    pred, scores, gts = [], [], []
    for i in range(40):
        m, n = int(rng.integers(0, 4)), int(rng.integers(0, 9))
        c = rng.integers(0, 40, (m, 2))
        g = np.hstack([c, c + rng.integers(2, 12, (m, 2))]).astype(float)
        d = (
            g[rng.integers(0, m, n)] +
            rng.integers(-2, 3,
                         (n, 4)) if m else rng.integers(0, 50,
                                                        (n, 4)).astype(float))
        pred.append(d.astype(float))
        gts.append(g)
        scores.append(rng.integers(0, 6, n) / 5.0)
    whole = froc(pred, scores, gts, (0.25, 0.5, 1, 2), overlap='iobb')
    monkeypatch.setattr(froc_module, '_DETS_PER_CHUNK', 7)
    chunked = froc(pred, scores, gts, (0.25, 0.5, 1, 2), overlap='iobb')
    for key, value in whole.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(chunked[key], value, err_msg=key)
    assert whole['num_found'] > 0 and whole['num_fp'] > 0


def test_non_numeric_boxes_name_the_argument():
    with pytest.raises(TypeError, match='pred_boxes must hold numeric'):
        froc([np.array([[object()] * 4])], [np.array([0.5])],
             [np.zeros((0, 4))])
