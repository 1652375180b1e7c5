"""The synthetic LIDC generator: the real layout and columns, determinism,
malignancy tied to size and margin."""
import csv
import json
import os.path as osp

import numpy as np

from cspr_det.datasets.lidc_metadata import (INFO_CSV, PACKAGED_INFO_CSV,
                                             SPLIT_CSV, read_nodule_info,
                                             read_reference_split,
                                             shared_patients)
from cspr_det.datasets.lidc_npz import READER_KEYS, check_nodule_npz
from cspr_det.datasets.synthetic.lidc_nodule_rendering import (
    rating_mode, reader_ratings, sample_properties)
from cspr_det.datasets.synthetic.make_synthetic_lidc import make_synthetic_lidc
from cspr_det.evaluation.functional import roc_auc


def test_layout_matches_the_real_release(tiny_lidc):
    with open(PACKAGED_INFO_CSV, newline='') as f:
        real_header = next(csv.reader(f))
    with open(osp.join(tiny_lidc, INFO_CSV), newline='') as f:
        assert next(csv.reader(f)) == real_header
    info = read_nodule_info(osp.join(tiny_lidc, INFO_CSV))
    ref = read_reference_split(osp.join(tiny_lidc, SPLIT_CSV))
    listed = set(ref['train']) | set(ref['test'])
    no_crop = [i for i, n in info.items() if n.malignancy_mode == 0]
    assert len(no_crop) == 1 and no_crop[0] not in listed
    assert listed == set(info) - set(no_crop)
    for index in sorted(listed):
        path = osp.join(tiny_lidc, 'nodule', f'{index}.npz')
        assert check_nodule_npz(path, min_size=48, need_masks=True) is None
        with np.load(path) as npz:
            assert npz['voxel'].dtype == np.uint8
            assert set(npz.files) == {'voxel', *READER_KEYS}
            assert npz['answer1'].any()
    with open(osp.join(tiny_lidc, 'synthetic_truth.json')) as f:
        truth = json.load(f)['nodules']
    # the malignancy string holds one digit per rating reader
    for index, t in truth.items():
        row_readers = len(t['ratings'])
        assert row_readers == t['num_readers']
        masks = np.load(osp.join(tiny_lidc, 'nodule', f'{index}.npz'))
        drawn = [masks[k].any() for k in READER_KEYS]
        assert drawn == [k < row_readers for k in range(4)]


def test_reference_split_leaks_like_the_real_one(tmp_path):
    root = str(tmp_path / 'syn')
    make_synthetic_lidc(
        root, preset='tiny', num_patients=14, crop_size=24, seed=5)
    info = read_nodule_info(osp.join(root, INFO_CSV))
    ref = read_reference_split(osp.join(root, SPLIT_CSV))
    assert shared_patients(info, ref['train'], ref['test'])
    with open(osp.join(root, SPLIT_CSV), newline='') as f:
        test_rows = [r['test'] for r in csv.DictReader(f) if r['test']]
    assert len(test_rows) >= len(ref['test'])  # repeated names kept
    again = str(tmp_path / 'again')
    make_synthetic_lidc(
        again, preset='tiny', num_patients=14, crop_size=24, seed=5)
    for name in (INFO_CSV, SPLIT_CSV):
        with open(osp.join(root, name)) as a, open(osp.join(again, name)) as b:
            assert a.read() == b.read()
    index = ref['train'][0]
    with np.load(osp.join(root, 'nodule', f'{index}.npz')) as a, np.load(
            osp.join(again, 'nodule', f'{index}.npz')) as b:
        assert np.array_equal(a['voxel'], b['voxel'])


def test_malignancy_follows_size_and_margin():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(3000):
        p = sample_properties(rng)
        mode = rating_mode(reader_ratings(rng, p['latent'], 4))
        if mode != 3:
            rows.append((p['diameter_mm'], p['kind'], int(mode > 3)))
    diam = np.array([r[0] for r in rows])
    label = np.array([r[2] for r in rows])
    assert 0.2 < label.mean() < 0.45
    assert roc_auc(label, diam) > 0.85
    rate = {
        k: np.mean([r[2] for r in rows if r[1] == k and 8 < r[0] < 14])
        for k in ('spheroid', 'lobulated', 'spiculated')
    }
    assert rate['spheroid'] < rate['lobulated'] < rate['spiculated']


def test_rating_mode_ties():
    assert rating_mode([4, 4, 2]) == 4
    assert rating_mode([2, 4]) == 2  # tie: nearest the mean (3), then lower
    assert rating_mode([1, 1, 4, 4, 5]) == 4  # mean 3: 4 is nearer than 1
