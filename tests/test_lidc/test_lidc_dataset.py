"""LIDCNoduleDataset on the tiny synthetic set: splits, labels, bad nodules."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from cspr_det.datasets import LIDCNoduleDataset
from cspr_det.datasets.lidc_metadata import (INFO_CSV, nodule_label,
                                             read_nodule_info)


def _ds(root, **kwargs):
    kwargs.setdefault('min_size', 48)
    return LIDCNoduleDataset(data_root=root, pipeline=[], **kwargs)


def _ids(ds):
    return [ds.get_data_info(i)['nodule_id'] for i in range(len(ds))]


def test_patient_split_subsets_are_disjoint(tiny_lidc):
    parts = {s: _ds(tiny_lidc, subset=s) for s in ('train', 'val', 'test')}
    patients = {
        s: {d.get_data_info(i)['patient_id']
            for i in range(len(d))}
        for s, d in parts.items()
    }
    assert not patients['train'] & patients['test']
    assert not patients['train'] & patients['val']
    assert not patients['val'] & patients['test']
    info = read_nodule_info(osp.join(tiny_lidc, INFO_CSV))
    labelled = [
        i for i, n in info.items()
        if nodule_label(n, 'classification') is not None
    ]
    got = sum((_ids(d) for d in parts.values()), [])
    assert sorted(got) == sorted(labelled)
    item = parts['train'].get_data_info(0)
    assert item['gt_label'] == nodule_label(info[item['nodule_id']],
                                            'classification')
    assert item['subset'] == 'train' and item['img_path'].endswith('.npz')


def test_val_and_test_in_one_dataset(tiny_lidc):
    both = _ds(tiny_lidc, subset=('val', 'test'), test_mode=True)
    subsets = [both.get_data_info(i)['subset'] for i in range(len(both))]
    assert set(subsets) == {'val', 'test'}
    assert len(both) == len(_ds(tiny_lidc, subset='val')) + len(
        _ds(tiny_lidc, subset='test'))


def test_reference_protocol_and_segmentation(tiny_lidc):
    ref = _ds(tiny_lidc, subset='trainval', split_protocol='reference')
    seg = _ds(
        tiny_lidc,
        subset='trainval',
        split_protocol='reference',
        task='segmentation',
        seg_label='union')
    # segmentation keeps the mode-3 nodules that classification drops
    assert set(_ids(ref)) < set(_ids(seg))
    item = seg.get_data_info(0)
    assert item['seg_label'] == 'union' and 'gt_label' not in item
    assert seg.metainfo['classes'] == ('background', 'nodule')
    assert ref.metainfo['classes'] == ('benign', 'malignant')


def test_patient_fraction_is_nested(tiny_lidc):
    full = _ds(tiny_lidc, subset='train', task='segmentation')
    half = _ds(
        tiny_lidc, subset='train', task='segmentation', patient_fraction=0.5)
    pats = {full.get_data_info(i)['patient_id'] for i in range(len(full))}
    kept = {half.get_data_info(i)['patient_id'] for i in range(len(half))}
    assert kept < pats and len(kept) == int(np.ceil(0.5 * len(pats)))


@pytest.fixture
def broken_lidc(tiny_lidc, tmp_path):
    """A copy of the tiny set with one missing, one unreadable, one small
    and one mask-mismatched nodule among the segmentation training ones."""
    root = str(tmp_path / 'broken')
    shutil.copytree(tiny_lidc, root)
    ids = _ids(_ds(root, subset='train', task='segmentation'))
    nod = osp.join(root, 'nodule')
    os.remove(osp.join(nod, f'{ids[0]}.npz'))
    with open(osp.join(nod, f'{ids[1]}.npz'), 'wb') as f:
        f.write(b'garbage')
    np.savez(
        osp.join(nod, f'{ids[2]}.npz'),
        voxel=np.zeros((40, 52, 52), np.uint8),
        answer1=np.zeros((40, 52, 52), np.uint8))
    np.savez(
        osp.join(nod, f'{ids[3]}.npz'),
        voxel=np.zeros((52, 52, 52), np.uint8),
        answer1=np.zeros((52, 52, 50), np.uint8))
    return root, ids


def test_bad_nodules_skipped_and_counted(broken_lidc):
    root, ids = broken_lidc
    ds = _ds(root, subset='train', task='segmentation')
    assert len(ds) == len(ids) - 4
    assert sorted(ds.skipped_nodules) == sorted(ids[:4])
    problems = [ds.skipped_nodules[i] for i in ids[:4]]
    assert 'npz not found' in problems[0]
    assert 'unreadable npz' in problems[1]
    assert 'smaller than 48^3' in problems[2]
    assert 'differs from the voxel shape' in problems[3]


def test_bad_nodule_raises_in_test_mode(broken_lidc):
    root, ids = broken_lidc
    with pytest.raises(ValueError, match=f'LIDC nodule {ids[0]}: npz not'):
        _ds(root, subset='train', task='segmentation', test_mode=True)


def test_bad_arguments(tiny_lidc):
    with pytest.raises(ValueError, match='task'):
        _ds(tiny_lidc, task='detection')
    with pytest.raises(ValueError, match='subset'):
        _ds(tiny_lidc, subset='holdout')
    with pytest.raises(ValueError, match='split_protocol'):
        _ds(tiny_lidc, split_protocol='nodule')
    with pytest.raises(ValueError, match='seg_label'):
        _ds(tiny_lidc, seg_label='answer5')
    with pytest.raises(FileNotFoundError, match='nodule table'):
        LIDCNoduleDataset(
            data_root=tiny_lidc, ann_file='missing.csv', pipeline=[])
