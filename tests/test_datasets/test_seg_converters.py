"""LiTS and BTCV converters on generated NIfTI in the real layouts: arrays,
index, published splits, and every kind of bad input (one-line errors naming
the case, counted skips, nothing half-written)."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.datasets.splits import (btcv_published_split,
                                      lits_published_split, load_split_file)
from cspr_det.datasets.synthetic.make_synthetic_seg import (
    make_synthetic_btcv, make_synthetic_lits)
from cspr_det.datasets.volume_converter import load_index
from cspr_det.fileio import geometry_of, write_image
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool


def test_published_splits():
    lits = lits_published_split()
    assert [len(lits[k]) for k in ('train', 'val', 'test')] == [105, 13, 13]
    every = set(lits['train']) | set(lits['val']) | set(lits['test'])
    assert every == {f'volume-{i}' for i in range(131)}
    assert 'volume-52' in lits['test'] and 'volume-34' in lits['val']
    btcv = btcv_published_split()
    assert btcv['test'] == [f'img{i:04d}' for i in range(35, 41)]
    assert len(btcv['train']) == 24
    assert 'img0011' not in btcv['train'] and 'img0021' in btcv['train']


def test_load_split_file_rejects_overlap(tmp_path):
    p = tmp_path / 's.json'
    p.write_text(json.dumps(dict(train=['a', 'b'], test=['b'])))
    with pytest.raises(ValueError, match='b is in both train and test'):
        load_split_file(str(p))


@pytest.mark.parametrize('dataset', ['lits', 'btcv'])
def test_converter_on_generated_nifti(tmp_path_factory, dataset):
    data = tiny_seg_dataset(tmp_path_factory, dataset)
    index = load_index(osp.join(data['converted'], 'index.json'))
    split = json.load(open(data['split']))
    assert index['dataset'] == dataset
    assert index['orientation'] == 'LPS'
    assert {c['case_id'] for c in index['cases']} == \
        {c for ids in split.values() for c in ids}
    assert index['splits'] == {k: len(v) for k, v in split.items() if v}
    truth = json.load(open(osp.join(data['raw'], 'synthetic_truth.json')))
    sources = {truth['cases'][c]['orientation'] for c in truth['cases']}
    assert len(sources) > 1  # several source orientations were converted
    assert any(v['tilt_deg'] for v in truth['cases'].values())
    for case in index['cases']:
        img = np.load(
            osp.join(data['converted'], case['image']), mmap_mode='r')
        seg = np.load(
            osp.join(data['converted'], case['label']), mmap_mode='r')
        assert isinstance(img, np.memmap) and img.dtype == np.int16
        assert seg.dtype == np.uint8 and seg.shape == img.shape
        assert list(img.shape) == case['shape']
        assert case['spacing'][0] == 8.0
        if dataset == 'btcv':
            assert case['spacing'][1:] == [12.0, 12.0]
        # canonical orientation: direction = identity up to a tilt about x
        d = np.asarray(case['direction']).reshape(3, 3)
        assert d[0, 0] == pytest.approx(1.0)
        assert d[1, 1] > 0.9 and d[2, 2] > 0.9
        src = sitk.ReadImage(osp.join(data['raw'], case['source']['image']))
        assert geometry_of(src)['size_xyz'] == case['source']['size_xyz']
        t = truth['cases'][case['case_id']]
        assert case['source']['orientation'] == t['orientation']
        values = set(np.unique(seg).tolist())
        assert values == set(case['label_values'])
        assert values <= set(range(3 if dataset == 'lits' else 14))
        fg = np.flatnonzero(seg.reshape(seg.shape[0], -1).max(1) > 0)
        assert case['fg_z_range'] == [int(fg[0]), int(fg[-1])]
        # HU realistic: air outside the body, soft tissue in the organs
        assert img.min() == -1024
        liver = 1 if dataset == 'lits' else 6
        assert 40 < float(np.median(img[seg == liver])) < 130
    # nothing left behind next to the output
    parent = osp.dirname(data['converted'])
    assert not [n for n in os.listdir(parent) if '.tmp-' in n]


def _copy_raw(src, dst):
    shutil.copytree(src, dst)
    return dst


def _lits_case_paths(raw, n):
    batch = osp.join(raw, 'Training Batch 1')
    return (osp.join(batch, f'volume-{n}.nii'),
            osp.join(batch, f'segmentation-{n}.nii'))


def _break(kind, img_path, lab_path):
    """Damage one LiTS case in place."""
    lab = sitk.ReadImage(lab_path)
    arr = sitk.GetArrayFromImage(lab)
    if kind == 'geometry':
        lab.SetSpacing([s * 1.5 for s in lab.GetSpacing()])
        write_image(lab, lab_path, False)
    elif kind == 'label_range':
        arr[arr.shape[0] // 2, 0, 0] = 7
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(lab)
        write_image(out, lab_path, False)
    elif kind == 'truncated':
        gz = img_path + '.gz'
        write_image(sitk.ReadImage(img_path), gz, True)
        os.remove(img_path)
        data = open(gz, 'rb').read()
        open(gz, 'wb').write(data[:len(data) // 2])
    elif kind == 'missing':
        os.remove(lab_path)
    elif kind == 'empty':
        out = sitk.GetImageFromArray(np.zeros_like(arr))
        out.CopyInformation(lab)
        write_image(out, lab_path, False)


BAD = {
    'geometry': 'volume-1: image and label geometry differ (spacing',
    'label_range': 'volume-1: label value(s) 7 outside the class range 0-2',
    'truncated': 'volume-1: image ',
    'missing': 'volume-1: label file not found',
    'empty': 'volume-1: empty foreground',
}


@pytest.mark.parametrize('kind', sorted(BAD))
def test_bad_input_one_line_error_nothing_written(tmp_path_factory, tmp_path,
                                                  kind, capsys):
    data = tiny_seg_dataset(tmp_path_factory, 'lits')
    raw = _copy_raw(data['raw'], str(tmp_path / 'raw'))
    _break(kind, *_lits_case_paths(raw, 1))
    tool = load_tool('tools/dataset_converters/lits.py')
    out = str(tmp_path / 'out')
    os.makedirs(out)
    open(osp.join(out, 'keep.txt'), 'w').write('old')
    args = [
        raw, out, '--spacing', '8', 'none', 'none', '--split-file',
        osp.join(raw, 'split.json')
    ]
    capsys.readouterr()
    assert tool.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith('error: ' + BAD[kind]), err
    if kind == 'truncated':
        assert 'truncated' in err
    # the failed run wrote nothing: out unchanged, no temporary folder left
    assert os.listdir(out) == ['keep.txt']
    assert sorted(os.listdir(tmp_path)) == ['out', 'raw']
    # --skip-bad converts the others and counts the bad case
    assert tool.main(args + ['--skip-bad']) == 0
    printed = capsys.readouterr().out
    assert 'skipped 1 bad case(s):' in printed and BAD[kind] in printed
    index = load_index(osp.join(out, 'index.json'))
    assert 'volume-1' not in {c['case_id'] for c in index['cases']}
    assert list(index['skipped']) == ['volume-1']
    assert len(index['cases']) == 5
    assert not osp.exists(osp.join(out, 'images', 'volume-1.npy'))


def test_btcv_converter_published_split_and_missing_cases(tmp_path, capsys):
    raw = str(tmp_path / 'raw')
    make_synthetic_btcv(raw, num_cases=2, seed=2, preset='tiny')
    tool = load_tool('tools/dataset_converters/btcv.py')
    out = str(tmp_path / 'out')
    # the published split names 30 cases; 28 are missing here: the error
    # comes before any conversion
    assert tool.main([raw, out]) == 1
    err = capsys.readouterr().err
    assert 'file not found' in err and len(err.strip().splitlines()) == 1
    assert not osp.exists(out)
    assert tool.main([raw, out, '--skip-bad', '--spacing', '8', '12',
                      '12']) == 0
    index = load_index(osp.join(out, 'index.json'))
    assert [c['case_id'] for c in index['cases']] == ['img0001', 'img0002']
    assert len(index['skipped']) == 28
    assert index['cases'][0]['split'] == 'train'


def test_lits_converter_finds_release_layout(tmp_path):
    raw = str(tmp_path / 'raw')
    summary = make_synthetic_lits(
        raw, num_cases=2, seed=0, preset='tiny', split_fractions=(1, 0, 0))
    assert summary['cases'] == 2
    assert osp.isfile(osp.join(raw, 'Training Batch 1', 'volume-0.nii'))
    assert osp.isfile(osp.join(raw, 'Training Batch 1', 'segmentation-1.nii'))
    # a duplicate case file is refused
    shutil.copy(
        osp.join(raw, 'Training Batch 1', 'volume-0.nii'),
        osp.join(raw, 'volume-0.nii.gz'))
    tool = load_tool('tools/dataset_converters/lits.py')
    assert tool.main([
        raw,
        str(tmp_path / 'out'), '--split-file',
        osp.join(raw, 'split.json')
    ]) == 1
