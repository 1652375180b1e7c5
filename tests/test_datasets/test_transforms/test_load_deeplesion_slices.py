"""LoadDeepLesionSlices: exact HU, interpolation weights, fallbacks."""
import copy
import os

import cv2
import numpy as np
import pytest

from cspr_det.datasets.transforms import LoadDeepLesionSlices
from cspr_det.fileio import SliceReadError

H, W = 6, 5


def _hu(index):
    """HU of slice ``index``: 10 * index everywhere, plus a ramp in x."""
    return 10.0 * index + np.arange(W, dtype=np.float32)[None, :].repeat(H, 0)


def _make_series(root, indices, name='000001_01_01'):
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for i in indices:
        png = (_hu(i) + 32768).astype(np.uint16)
        assert cv2.imwrite(str(folder / f'{i:03d}.png'), png)
    return folder


def _results(folder, key, interval, first, last):
    return dict(
        img_path=str(folder / f'{key:03d}.png'),
        series_dir=str(folder),
        key_slice=key,
        slice_interval=interval,
        slice_range=[first, last])


def _raw(out, w=(-1024.0, 1050.0)):
    """Invert the window mapping back to HU (exact for unclipped values)."""
    return out['img'] / 255.0 * (w[1] - w[0]) + w[0]


def test_exact_hu_native_neighbours(tmp_path):
    folder = _make_series(tmp_path, range(1, 11))
    t = LoadDeepLesionSlices(num_slices=3, slice_interval=None)
    out = t(_results(folder, 5, 5.0, 1, 10))
    assert out['img'].dtype == np.float32 and out['img'].shape == (H, W, 3)
    assert out['img_shape'] == (H, W) and out['ori_shape'] == (H, W)
    assert out['num_slices'] == 3 and out['num_windows'] == 1
    for s, idx in enumerate((4, 5, 6)):
        np.testing.assert_allclose(_raw(out)[..., s], _hu(idx), atol=1e-3)
    # known voxel: slice 5, column 3 -> HU 53 -> (53 + 1024) / 2074 * 255
    assert out['img'][2, 3, 1] == pytest.approx(
        (53 + 1024) / 2074 * 255, abs=1e-4)


def test_interpolation_5mm_series_at_2_5mm(tmp_path):
    folder = _make_series(tmp_path, range(1, 21))
    out = LoadDeepLesionSlices(
        num_slices=5, slice_interval=2.5)(
            _results(folder, 10, 5.0, 1, 20))
    # positions 9, 9.5, 10, 10.5, 11: half-way slices are means of two
    assert out['slice_positions'] == [9.0, 9.5, 10.0, 10.5, 11.0]
    hu = _raw(out)
    np.testing.assert_allclose(hu[..., 1], (_hu(9) + _hu(10)) / 2, atol=1e-3)
    np.testing.assert_allclose(hu[..., 3], (_hu(10) + _hu(11)) / 2, atol=1e-3)
    np.testing.assert_allclose(hu[..., 0], _hu(9), atol=1e-3)
    # 3 PNGs (9, 10, 11), each decoded once
    assert out['num_decoded_slices'] == 3


def test_interpolation_1mm_and_2mm_series(tmp_path):
    folder = _make_series(tmp_path, range(1, 41))
    # 1 mm at 2 mm: exact slices key +- 2, +- 4
    out = LoadDeepLesionSlices(
        num_slices=5, slice_interval=2.0)(
            _results(folder, 20, 1.0, 1, 40))
    for s, idx in enumerate((16, 18, 20, 22, 24)):
        np.testing.assert_allclose(_raw(out)[..., s], _hu(idx), atol=1e-3)
    assert out['num_decoded_slices'] == 5
    # 1 mm at 2.5 mm: position 17.5 = 0.5 * (17 + 18)
    out = LoadDeepLesionSlices(
        num_slices=3, slice_interval=2.5)(
            _results(folder, 20, 1.0, 1, 40))
    np.testing.assert_allclose(
        _raw(out)[..., 0], (_hu(17) + _hu(18)) / 2, atol=1e-3)
    # 2 mm at 2.5 mm: position 20 + 1.25 = 0.75 * 21 + 0.25 * 22
    out = LoadDeepLesionSlices(
        num_slices=3, slice_interval=2.5)(
            _results(folder, 20, 2.0, 1, 40))
    np.testing.assert_allclose(
        _raw(out)[..., 2], 0.75 * _hu(21) + 0.25 * _hu(22), atol=1e-3)


def test_interpolation_plan_weights():
    plan = LoadDeepLesionSlices.interpolation_plan
    assert plan(9.5, 1, 20) == [(9, 0.5), (10, 0.5)]
    assert plan(10.0, 1, 20) == [(10, 1.0)]
    assert plan(-3.0, 1, 20) == [(1, 1.0)]
    assert plan(25.5, 1, 20) == [(20, 1.0)]
    (a, wa), (b, wb) = plan(4.25, 1, 20)
    assert (a, b) == (4, 5) and wa == pytest.approx(0.75)


def test_edge_fallback_repeats_end_slices(tmp_path):
    folder = _make_series(tmp_path, range(3, 8))
    out = LoadDeepLesionSlices(
        num_slices=9, slice_interval=None)(
            _results(folder, 4, 5.0, 3, 7))
    expected = [3, 3, 3, 3, 4, 5, 6, 7, 7]  # positions 0..8 clamped to 3..7
    for s, idx in enumerate(expected):
        np.testing.assert_allclose(_raw(out)[..., s], _hu(idx), atol=1e-3)
    assert out['num_decoded_slices'] == 5


def test_disjoint_runs_use_the_key_run(tmp_path):
    # folder holds runs 1-5 and 20-24; a key in the second run never reads
    # the first (the slice range of the sample is its own run)
    folder = _make_series(tmp_path, list(range(1, 6)) + list(range(20, 25)))
    out = LoadDeepLesionSlices(
        num_slices=9, slice_interval=None)(
            _results(folder, 21, 5.0, 20, 24))
    for s, idx in enumerate([20, 20, 20, 20, 21, 22, 23, 24, 24]):
        np.testing.assert_allclose(_raw(out)[..., s], _hu(idx), atol=1e-3)


def test_several_windows_channel_order(tmp_path):
    folder = _make_series(tmp_path, range(1, 11))
    windows = ((-1024, 1050), (0, 100))
    out = LoadDeepLesionSlices(
        num_slices=3, slice_interval=None, windows=windows)(
            _results(folder, 5, 5.0, 1, 10))
    assert out['img'].shape == (H, W, 6) and out['num_windows'] == 2
    # channels: [w0 s4, w0 s5, w0 s6, w1 s4, w1 s5, w1 s6]
    for s, idx in enumerate((4, 5, 6)):
        np.testing.assert_allclose(
            out['img'][..., 3 + s],
            np.clip(_hu(idx) / 100 * 255, 0, 255),
            atol=1e-3)
    # clipping: window (0, 10) saturates slice 5 (HU >= 50) at 255
    out = LoadDeepLesionSlices(
        num_slices=1, slice_interval=None, windows=((0, 10), ))(
            _results(folder, 5, 5.0, 1, 10))
    assert (out['img'] == 255).all()


def test_missing_and_broken_slices_fall_back(tmp_path):
    folder = _make_series(tmp_path, range(1, 11))
    os.remove(folder / '006.png')  # missing neighbour
    size = os.path.getsize(folder / '004.png')
    with open(folder / '004.png', 'r+b') as f:  # truncated PNG
        f.truncate(size // 2)
    t = LoadDeepLesionSlices(num_slices=3, slice_interval=None)
    with pytest.warns(UserWarning) as rec:
        out = t(_results(folder, 5, 5.0, 1, 10))
    text = ' '.join(str(r.message) for r in rec)
    assert '006.png' in text and '004.png' in text
    # both neighbours fall back to the nearest readable slice: the key
    for s in range(3):
        np.testing.assert_allclose(_raw(out)[..., s], _hu(5), atol=1e-3)
    # strict mode raises, naming the file
    with pytest.raises(SliceReadError, match='004.png|006.png'):
        LoadDeepLesionSlices(
            num_slices=3, slice_interval=None, strict=True)(
                _results(folder, 5, 5.0, 1, 10))


def test_unreadable_key_slice(tmp_path):
    folder = _make_series(tmp_path, range(1, 4))
    (folder / '002.png').write_bytes(b'not a png')
    t = LoadDeepLesionSlices(num_slices=1, slice_interval=None)
    with pytest.warns(UserWarning, match='002.png'):
        out = t(_results(folder, 2, 5.0, 1, 3))
    np.testing.assert_allclose(_raw(out)[..., 0], _hu(1), atol=1e-3)
    # nothing readable at all (missing series folder): clear error
    missing = tmp_path / '000009_01_01'
    with pytest.raises(SliceReadError, match='000009_01_01'):
        t(_results(missing, 2, 5.0, 1, 3))


def test_wrong_dtype_png_is_broken(tmp_path):
    folder = _make_series(tmp_path, range(1, 4))
    cv2.imwrite(str(folder / '003.png'), np.zeros((H, W), np.uint8))
    with pytest.warns(UserWarning, match='003.png'):
        out = LoadDeepLesionSlices(
            num_slices=3, slice_interval=None)(
                _results(folder, 2, 5.0, 1, 3))
    np.testing.assert_allclose(_raw(out)[..., 2], _hu(2), atol=1e-3)


def test_self_unchanged_and_deterministic(tmp_path):
    folder = _make_series(tmp_path, range(1, 11))
    os.remove(folder / '006.png')
    t = LoadDeepLesionSlices(
        num_slices=5, slice_interval=2.5, windows=((-100, 200), (-1000, 0)))
    before = copy.deepcopy(t.__dict__)
    with pytest.warns(UserWarning):
        a = t(_results(folder, 5, 5.0, 1, 10))
    with pytest.warns(UserWarning):
        b = t(_results(folder, 5, 5.0, 1, 10))
    assert t.__dict__ == before
    np.testing.assert_array_equal(a['img'], b['img'])


def test_bad_arguments():
    with pytest.raises(ValueError, match='odd'):
        LoadDeepLesionSlices(num_slices=4)
    with pytest.raises(ValueError, match='slice_interval'):
        LoadDeepLesionSlices(slice_interval=0)
    with pytest.raises(ValueError, match='windows'):
        LoadDeepLesionSlices(windows=((100, -100), ))
    assert 'num_slices=9' in repr(LoadDeepLesionSlices())
