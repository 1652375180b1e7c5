"""LiTS / BTCV datasets over converted volumes: tasks and label maps,
splits, subsets and bad cases (skipped with a counted warning in training,
one-line error in test mode)."""
import json
import logging
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from cspr_det.datasets import BTCVDataset, LiTSDataset
from seg_fixtures import tiny_seg_dataset


def _infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


PIPELINE = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=False),
    dict(type='cspr_det.HUWindow3D', window=(-200, 250)),
    dict(type='cspr_det.PackVolumeSegInputs')
]


@pytest.fixture(scope='module')
def lits(tmp_path_factory):
    return tiny_seg_dataset(tmp_path_factory, 'lits')


@pytest.fixture(scope='module')
def btcv(tmp_path_factory):
    return tiny_seg_dataset(tmp_path_factory, 'btcv')


def test_lits_tasks_and_splits(lits):
    split = json.load(open(lits['split']))
    ds = LiTSDataset(
        data_root=lits['converted'], split='train', pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('background', 'liver')
    assert [d['case_id'] for d in _infos(ds)] == split['train']
    item = ds[0]
    gt = item['data_samples'].gt_seg
    raw = np.load(ds.get_data_info(0)['seg_map_path'])
    # tumour (2) merged into the liver (1)
    assert set(gt.unique().tolist()) == {0, 1}
    assert int((gt == 1).sum()) == int((raw > 0).sum())
    meta = item['data_samples'].metainfo
    for key in ('case_id', 'spacing', 'origin', 'direction', 'source',
                'img_shape', 'ori_shape'):
        assert key in meta
    assert meta['img_shape'] == meta['ori_shape'] == tuple(gt.shape)
    three = LiTSDataset(
        data_root=lits['converted'],
        split='test',
        task='liver_tumour',
        test_mode=True,
        pipeline=PIPELINE)
    assert three.metainfo['classes'] == ('background', 'liver', 'tumour')
    assert len(three) == len(split['test'])
    gts = [three[i]['data_samples'].gt_seg for i in range(len(three))]
    raws = [np.load(d['seg_map_path']) for d in _infos(three)]
    for g, r in zip(gts, raws):
        np.testing.assert_array_equal(g.numpy(), r)
    both = LiTSDataset(
        data_root=lits['converted'], split=('train', 'val'), pipeline=PIPELINE)
    assert len(both) == len(split['train']) + len(split['val'])
    sub = LiTSDataset(
        data_root=lits['converted'],
        split='train',
        case_ids=split['train'][1:],
        pipeline=PIPELINE)
    assert [d['case_id'] for d in _infos(sub)] == split['train'][1:]
    with pytest.raises(ValueError, match='unknown LiTS task'):
        LiTSDataset(data_root=lits['converted'], task='tumour')
    with pytest.raises(ValueError, match='case_ids not in split'):
        LiTSDataset(data_root=lits['converted'], case_ids=['volume-99'])


def test_case_fraction_nested_subsets(lits):
    """case_fraction keeps ceil(f * n) training cases, nested in f for one
    seed, a different subset for another seed; val/test untouched."""
    split = json.load(open(lits['split']))
    n = len(split['train'])

    def ids(fraction, seed=0, name='train'):
        ds = LiTSDataset(
            data_root=lits['converted'],
            split=name,
            case_fraction=fraction,
            case_fraction_seed=seed,
            pipeline=PIPELINE)
        return [d['case_id'] for d in _infos(ds)]

    one = ids(1 / n)
    two = ids(2 / n)
    assert len(one) == 1 and len(two) == 2 and set(one) < set(two)
    assert set(two) <= set(split['train'])
    assert ids(1.0) == split['train']
    assert {tuple(ids(1 / n, seed)) for seed in range(6)} != {tuple(one)}
    with pytest.raises(ValueError, match='case_fraction must be in'):
        LiTSDataset(data_root=lits['converted'], case_fraction=0.0)


def test_btcv_classes_and_wrong_index(btcv, lits):
    ds = BTCVDataset(
        data_root=btcv['converted'], split='train', pipeline=PIPELINE)
    assert len(ds.metainfo['classes']) == 14
    assert ds.metainfo['classes'][6] == 'liver'
    gt = ds[0]['data_samples'].gt_seg
    assert int(gt.max()) <= 13 and len(gt.unique()) > 8
    entry = ds.get_data_info(0)
    assert entry['class_z_ranges'] and all(1 <= k <= 13
                                           for k in entry['class_z_ranges'])
    with pytest.raises(ValueError, match="holds a 'lits' dataset"):
        BTCVDataset(data_root=lits['converted'])


def _damaged_copy(src, dst, case_to_break, how):
    shutil.copytree(src, dst)
    index = json.load(open(osp.join(dst, 'index.json')))
    for case in index['cases']:
        if case['case_id'] != case_to_break:
            continue
        if how == 'missing':
            os.remove(osp.join(dst, case['label']))
        elif how == 'range':
            case['label_values'] = case['label_values'] + [9]
        elif how == 'empty':
            case['fg_z_range'] = None
    json.dump(index, open(osp.join(dst, 'index.json'), 'w'))
    return dst


@pytest.mark.parametrize('how,message', [
    ('missing', 'label array not found'),
    ('range', r'label value\(s\) 9 outside the class range'),
    ('empty', 'empty foreground'),
])
def test_bad_cases_skipped_in_training_error_in_test(lits, tmp_path, how,
                                                     message, monkeypatch):
    split = json.load(open(lits['split']))
    bad = split['train'][0]
    root = _damaged_copy(lits['converted'], str(tmp_path / 'c'), bad, how)
    logged = []
    monkeypatch.setattr(
        'cspr_det.datasets.base_volume_seg_dataset.print_log',
        lambda msg, **kw: logged.append((msg, kw.get('level'))))
    ds = LiTSDataset(data_root=root, split='train', pipeline=PIPELINE)
    assert bad not in [d['case_id'] for d in _infos(ds)]
    assert len(ds) == len(split['train']) - 1
    assert list(ds.skipped_cases) == [bad]
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert logged[0][0].startswith(
        f'LiTSDataset: skipped 1 bad case(s) of {len(split["train"])}: '
        f'{bad}: ')
    with pytest.raises(ValueError, match=f'^{bad}: {message}'):
        LiTSDataset(
            data_root=root, split='train', test_mode=True, pipeline=PIPELINE)
