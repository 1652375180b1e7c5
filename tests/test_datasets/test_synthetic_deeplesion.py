"""Synthetic DeepLesion: official format, CT-like content, determinism."""
import csv
import hashlib
import json
import os
import os.path as osp
import re
import shutil
from collections import defaultdict

import cv2
import numpy as np
import pytest

from cspr_det.datasets.deeplesion_coco import (convert_deeplesion_csv,
                                               format_summary)
from cspr_det.datasets.deeplesion_csv import (DL_INFO_HEADER,
                                              read_deeplesion_csv)
from cspr_det.datasets.synthetic import (PRESETS, Phantom, blend_blob,
                                         correlated_noise, ellipse_norm2,
                                         hu_to_png16,
                                         make_synthetic_deeplesion, pixel_grid,
                                         write_png16)
from cspr_det.datasets.synthetic.make_synthetic_deeplesion import tube_centre
from tool_loader import load_tool

TINY = dict(
    num_patients=9,
    image_size=64,
    seed=3,
    studies_per_patient=(1, 1),
    keys_per_series=(3, 4),
    split_fractions=(0.34, 0.33, 0.33),
    noisy_fraction=0.1,
    min_lesion_px=3,
    context_mm=12)

# DL_info.csv of make_synthetic_deeplesion(**dict(TINY, num_patients=3)),
# since slice numbers run toward the feet as in DeepLesion (the series
# are planned as before and numbered from the other end)
PINNED_CSV_SHA256 = (
    '00c0bb132213f38ffa360f720b51636b23a00e21068675c30d3278f79ae955d2')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic'))
    summary = make_synthetic_deeplesion(root, **TINY)
    return root, summary


def _hu(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert img is not None and img.dtype == np.uint16, path
    return img.astype(np.float32) - 32768


def test_csv_is_in_the_official_format(tiny):
    root, summary = tiny
    with open(osp.join(root, 'DL_info.csv'), newline='') as f:
        text = f.read()
    lines = text.split('\n')
    assert lines[0] == ','.join(DL_INFO_HEADER) and '\r' not in text
    # vector cells: one quoted field, values separated by ", "
    vec = r'"-?[\d.]+(, -?[\d.]+){%d}"'
    pattern = re.compile(r'^\d{6}_\d{2}_\d{2}_\d{3,4}\.png,\d+,\d+,\d+,\d+,' +
                         ','.join(vec % n for n in (7, 3, 1, 2)) +
                         r',-?\d,[01],' + ','.join(vec % n
                                                   for n in (1, 2, 1, 1)) +
                         r',[FM],(\d+)?,[123]$')
    rows = [ln for ln in lines[1:] if ln]
    assert rows and all(pattern.match(ln) for ln in rows), rows[0]
    records, rejected = read_deeplesion_csv(osp.join(root, 'DL_info.csv'))
    assert not rejected and len(records) == len(rows)
    conv = convert_deeplesion_csv(
        osp.join(root, 'DL_info.csv'), osp.join(root, 'ann'))
    assert not conv['rejected']
    assert conv['splits'] == {
        k: dict(images=v['images'], lesions=v['lesions'], noisy=v['noisy'])
        for k, v in summary['splits'].items()
    }


def test_csv_content(tiny):
    root, summary = tiny
    records, _ = read_deeplesion_csv(osp.join(root, 'DL_info.csv'))
    split_of_patient = defaultdict(set)
    per_image = defaultdict(int)
    for r in records:
        split_of_patient[r['patient']].add(r['split'])
        per_image[r['file_name']] += 1
        # box (0-based) = RECIST extent +- 5 px; lesions are placed so that
        # it lies inside the image and never needs clipping
        xs, ys = r['recist'][0::2], r['recist'][1::2]
        x1, y1, x2, y2 = r['bbox_xyxy']
        assert r['bbox_clipped'] is None
        assert [x1, y1] == pytest.approx([min(xs) - 5, min(ys) - 5], abs=2e-3)
        assert [x2, y2] == pytest.approx([max(xs) + 5, max(ys) + 5], abs=2e-3)
        assert 0 < x1 < x2 < 64 and 0 < y1 < y2 < 64
        # diameters = lengths of the RECIST axes
        long_ = np.hypot(xs[1] - xs[0], ys[1] - ys[0])
        short = np.hypot(xs[3] - xs[2], ys[3] - ys[2])
        assert r['diameters'] == pytest.approx([long_, short], abs=2e-3)
        assert long_ >= short >= 2.9
        assert r['slice_range'][0] <= r['key_slice'] <= r['slice_range'][1]
        assert r['spacing'][0] == r['spacing'][1] > 0
        assert r['dicom_window'][0] < r['dicom_window'][1]
        if r['split'] == 1:
            assert r['lesion_type'] == -1
        else:
            assert 1 <= r['lesion_type'] <= 8
    assert all(len(s) == 1 for s in split_of_patient.values())
    assert {r['split'] for r in records} == {1, 2, 3}
    assert {r['slice_interval'] for r in records} <= {1.0, 2.0, 5.0}
    assert len({r['slice_interval'] for r in records}) >= 2
    for split in (2, 3):
        assert {r['lesion_type']
                for r in records if r['split'] == split} == set(range(1, 9))
    assert any(r['noisy'] for r in records)
    assert max(per_image.values()) >= 2  # several lesions on one slice
    assert summary['series_with_gaps'] >= 1 and summary['tubes'] >= 1


def test_folders_hold_exactly_the_slice_runs(tiny):
    root, _ = tiny
    records, _ = read_deeplesion_csv(osp.join(root, 'DL_info.csv'))
    runs = defaultdict(set)
    for r in records:
        runs[r['series']].add(tuple(r['slice_range']))
    gaps = 0
    for series, rs in runs.items():
        expected = {i for lo, hi in rs for i in range(lo, hi + 1)}
        files = os.listdir(osp.join(root, 'Images_png', series))
        assert {int(f[:-4]) for f in files} == expected
        gaps += len(rs) > 1
    assert gaps >= 1  # disjoint runs in one folder


def test_images_look_like_ct(tiny):
    root, _ = tiny
    with open(osp.join(root, 'synthetic_truth.json')) as f:
        truth = json.load(f)
    lesion_err, tube_err = [], []
    for s in truth['series']:
        folder = osp.join(root, 'Images_png', s['series'])
        sp, size = s['spacing'], TINY['image_size']

        def px(v):
            return int(round(v / sp + (size - 1) / 2))

        for les in s['lesions']:
            hu = _hu(osp.join(folder, f'{les["key"]:03d}.png'))
            assert hu.min() >= -1024 and hu.max() <= 3071
            assert hu[:3, :3].mean() == pytest.approx(-1000, abs=25)  # air
            lesion_err.append(hu[px(les['cy']), px(les['cx'])] - les['target'])
        for tube in s['tubes']:
            vals = []
            for lo, hi in s['runs']:
                for k in range(lo, hi + 1):
                    z = s['z0'] - (k - 1) * s['slice_interval']
                    tx, ty = tube_centre(tube, z)
                    hu = _hu(osp.join(folder, f'{k:03d}.png'))
                    vals.append(hu[px(ty), px(tx)])
            tube_err.append(np.mean(vals) - tube['target'])
    # noise is 10-20 HU; lesion and tube centres carry their target HU
    assert np.mean(np.abs(lesion_err)) < 25
    assert tube_err and np.mean(np.abs(tube_err)) < 20


def test_slice_numbers_run_toward_the_feet(tiny):
    """As in DeepLesion (both NIH conversion scripts): a higher slice number
    lies further toward the feet, so it shows a lower body height (the
    phantom's z: 0 at the pelvic floor); the rendered anatomy follows:
    slice 1 sits where the phantom is at height z0."""
    root, _ = tiny
    with open(osp.join(root, 'synthetic_truth.json')) as f:
        truth = json.load(f)
    pairs = 0
    for s in truth['series']:
        dz = s['slice_interval']
        for les in s['lesions']:
            assert les['cz'] == pytest.approx(
                s['z0'] - (les['key'] - 1) * dz, abs=dz / 2 + 1e-6)
        keys = sorted({(les['key'], les['cz']) for les in s['lesions']})
        for (k1, z1), (k2, z2) in zip(keys, keys[1:]):
            if k2 > k1:
                assert z2 < z1
                pairs += 1
    assert pairs > 0


def test_deterministic_by_seed(tmp_path):
    kw = dict(TINY, num_patients=2, keys_per_series=(1, 2))

    def digest(root):
        h = hashlib.sha1()
        for dirpath, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                with open(osp.join(dirpath, name), 'rb') as f:
                    h.update(name.encode() + f.read())
        return h.hexdigest()

    a = make_synthetic_deeplesion(str(tmp_path / 'a'), **kw)
    b = make_synthetic_deeplesion(str(tmp_path / 'b'), **kw)
    c = make_synthetic_deeplesion(str(tmp_path / 'c'), **dict(kw, seed=4))
    assert a['splits'] == b['splits']
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    with open(tmp_path / 'a' / 'DL_info.csv') as fa, \
            open(tmp_path / 'c' / 'DL_info.csv') as fc:
        assert fa.read() != fc.read()
    assert c['patients'] == 2


def test_presets_and_bad_arguments(tmp_path):
    assert PRESETS['demo']['image_size'] <= 160
    assert PRESETS['bench']['image_size'] == 512
    with pytest.raises(ValueError, match='preset'):
        make_synthetic_deeplesion(str(tmp_path), preset='huge')
    with pytest.raises(TypeError, match='unknown'):
        make_synthetic_deeplesion(str(tmp_path), colour='red')
    with pytest.raises(ValueError, match='image_size'):
        make_synthetic_deeplesion(str(tmp_path), image_size=8)


def test_cli(tmp_path, capsys):
    mod = load_tool('tools/misc/make_synthetic_deeplesion.py')
    assert mod.main([
        '--out-dir',
        str(tmp_path), '--num-patients', '1', '--image-size', '96', '--seed',
        '1'
    ]) == 0
    out = capsys.readouterr().out
    assert 'train' in out and (tmp_path / 'DL_info.csv').is_file()
    with open(tmp_path / 'DL_info.csv', newline='') as f:
        rows = list(csv.reader(f))
    assert len(rows) >= 2 and all(len(r) == 18 for r in rows)


def test_converter_checks_images(tiny, tmp_path):
    root, _ = tiny
    csv_path = osp.join(root, 'DL_info.csv')
    images = osp.join(root, 'Images_png')
    ok = convert_deeplesion_csv(
        csv_path, str(tmp_path / 'a'), images_dir=images)['images_check']
    assert ok['checked'] > 0 and not ok['missing_series']
    assert not ok['missing_key'] and ok['missing_context'] == 0
    # a copy with one series folder gone, one key and one context slice gone
    records, _ = read_deeplesion_csv(csv_path)
    r0, r1 = records[0], next(r for r in records
                              if r['series'] != records[0]['series'])
    broken = tmp_path / 'Images_png'
    shutil.copytree(images, broken)
    shutil.rmtree(broken / r0['series'])
    os.remove(broken / r1['file_name'])
    first = r1['slice_range'][0]
    keys = {r['key_slice'] for r in records if r['series'] == r1['series']}
    ctx = next(
        i for i in range(first, r1['slice_range'][1] + 1) if i not in keys)
    os.remove(broken / r1['series'] / f'{ctx:03d}.png')
    res = convert_deeplesion_csv(
        csv_path, str(tmp_path / 'b'), images_dir=str(broken))
    chk = res['images_check']
    assert chk['missing_series'] == [r0['series']]
    assert chk['missing_key'] == [r1['file_name']]
    assert chk['missing_context'] == 1
    assert r0['series'] in format_summary(res)


def _measured_contrast(root):
    """|median HU inside - median HU of a ring around| of every lesion on
    its key slice, read back from the PNGs."""
    with open(osp.join(root, 'synthetic_truth.json')) as f:
        truth = json.load(f)
    out = []
    for s in truth['series']:
        sp = s['spacing']
        for les in s['lesions']:
            hu = _hu(
                osp.join(root, 'Images_png', s['series'],
                         f'{les["key"]:03d}.png'))
            size = hu.shape[0]
            yy, xx = (np.mgrid[:size, :size] - (size - 1) / 2) * sp  # mm
            d = np.sqrt(
                ellipse_norm2(xx, yy, les['cx'], les['cy'], les['a'], les['b'],
                              les['theta']))
            inner = np.median(hu[d <= 0.6])
            ring = hu[(d >= 1.3) & (d <= 1.8)]
            out.append(float(np.median(np.abs(ring - inner))))
    return np.array(out)


def test_every_lesion_is_visible(tiny):
    """A lesion differs from the tissue around it by at least half the
    minimum contrast (40 HU by default) on most of its border; the noise is
    10-20 HU, so 15 HU is a safe floor for the measured median."""
    root, _ = tiny
    contrast = _measured_contrast(root)
    assert len(contrast) > 10
    assert contrast.min() >= 15, np.sort(contrast)[:5]


def test_visible_target_rejects_lesions_that_match_their_border():
    from cspr_det.datasets.synthetic.lesion_placement import \
        visible_target as _visible_target
    from cspr_det.datasets.synthetic.phantom import KIDNEY, SOFT
    coords = np.arange(64, dtype=np.float32) - 31.5
    x, y = np.meshgrid(coords, coords)
    # kidney (150 HU) on the left half of the border, muscle (35) on the right
    clean = np.where(x < 0, 150.0, 35.0).astype(np.float32)
    rng = np.random.default_rng(0)
    got = [
        _visible_target(KIDNEY, clean, x, y, (0.0, 0.0, 5.0, 5.0, 0.0), rng,
                        (100.0, 101.0)) for _ in range(200)
    ]
    # 150 - 100 = 50 HU would vanish against the muscle: only hyperdense
    # targets (about 250 HU) or no target at all come back
    assert all(t is None or 249 <= t <= 252 for t in got)
    assert any(t is not None for t in got)
    # a uniform border accepts both signs
    uniform = np.full_like(clean, 35.0)
    both = {
        np.sign(
            _visible_target(SOFT, uniform, x, y, (0.0, 0.0, 5.0, 5.0,
                                                  0.0), rng, (100.0, 101.0)) -
            35.0)
        for _ in range(50)
    }
    assert both == {-1.0, 1.0}


def test_lesion_contrast_range(tmp_path):
    """``lesion_contrast_hu`` sets lesion-minus-tissue HU in soft tissue and
    organs: raising it raises the contrast measured on the images."""
    make_synthetic_deeplesion(
        str(tmp_path / 'a'), **dict(TINY, num_patients=4))
    make_synthetic_deeplesion(
        str(tmp_path / 'b'),
        **dict(TINY, num_patients=4, lesion_contrast_hu=(300.0, 301.0)))
    weak = _measured_contrast(str(tmp_path / 'a'))
    strong = _measured_contrast(str(tmp_path / 'b'))
    assert len(weak) and len(strong)
    assert np.median(strong) > np.median(weak) + 100


def test_png16_writer_stores_hu_plus_32768(tmp_path):
    hu = np.array([[-1024.0, -0.4, 0.6], [40.0, 3071.0, 1e6]], np.float32)
    png = hu_to_png16(hu)
    assert png.dtype == np.uint16
    assert png.tolist() == [[31744, 32768, 32769], [32808, 35839, 65535]]
    path = str(tmp_path / '001.png')
    write_png16(path, hu[:, :2])
    np.testing.assert_array_equal(_hu(path), [[-1024, 0], [40, 3071]])
    with pytest.raises(OSError, match='cannot write'):
        write_png16(str(tmp_path / 'missing' / '002.png'), hu)


def test_noise_and_blob_building_blocks():
    a = correlated_noise((64, 64), 15.0, np.random.default_rng(1))
    b = correlated_noise((64, 64), 15.0, np.random.default_rng(1))
    assert a.dtype == np.float32 and float(a.std()) == pytest.approx(15.0)
    np.testing.assert_array_equal(a, b)
    # neighbouring pixels are correlated (blurred), far ones are not
    assert np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1] > 0.3
    x, y = pixel_grid(65, 0.5)
    assert x[32, 32] == y[32, 32] == 0 and x[0, -1] == 16.0
    hu = np.full((65, 65), 40.0, np.float32)
    blend_blob(hu, ellipse_norm2(x, y, 0.0, 0.0, 6.0, 4.0), 4.0, 140.0)
    # weight 1 / (1 + exp((d - 1) * radius / 1 mm)) of the target at the
    # normalised radius d: about 0.98 at the centre, 1/2 on the surface
    assert hu[32, 32] == pytest.approx(40 + 100 / (1 + np.exp(-4)), abs=1e-3)
    assert hu[32, 32 + 12] == pytest.approx(90.0, abs=1e-3)  # x = 6 mm
    assert hu[0, 0] == pytest.approx(40.0, abs=1e-3)  # far away: unchanged


def test_phantom_render_is_its_label_map_in_hu():
    from cspr_det.datasets.synthetic.phantom import (LIVER, LUNG, TISSUE_HU,
                                                     tissue_hu)
    phantom = Phantom(np.random.default_rng(0))
    x, y = pixel_grid(96, 4.0)
    hu, labels, geo = phantom.render(x, y, 330.0)  # upper abdomen
    labels2, tex, geo2 = phantom.label_map(x, y, 330.0)
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_array_equal(hu, tissue_hu(labels, tex))
    assert geo == geo2 and LIVER in labels and LUNG not in labels
    assert abs(float(np.median(hu[labels == LIVER])) - TISSUE_HU[LIVER]) < 10
    _, chest, _ = phantom.render(x, y, 480.0)
    assert LUNG in chest


def test_generated_csv_is_pinned(tmp_path):
    """Refactors of the generator must keep its output byte-identical: the
    DL_info.csv of a small set is pinned (it depends only on the planning,
    through numpy's random generator and OpenCV's erosion; the PNG bytes
    also depend on the zlib build and are not pinned here). Regenerate the
    digest only for an intended change of the generated data."""
    make_synthetic_deeplesion(str(tmp_path), **dict(TINY, num_patients=3))
    with open(tmp_path / 'DL_info.csv', 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == PINNED_CSV_SHA256
