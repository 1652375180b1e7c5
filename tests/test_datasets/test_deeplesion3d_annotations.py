"""The DeepLesion 3D annotation reader (the released pickle and its JSON
form) and the sub-volume dataset."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest

# yapf: disable
from cspr_det.datasets.deeplesion3d_annotations import (AnnotationError,
                                                        load_3d_annotations,
                                                        load_3d_predictions,
                                                        parse_subvolume_name,
                                                        save_3d_boxes,
                                                        subvolume_name)
# yapf: enable
from cspr_det.datasets.deeplesion3d_subvolumes import DeepLesion3DSubvolumes
from cspr_det.utils.safe_pickle import UnsafePickleError, export_json

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RELEASED = osp.join(REPO, 'tests', 'data', 'deeplesion3d',
                    'DeepLesion_manual_1K_test_release.pkl')


def test_released_counts():
    ann = load_3d_annotations(RELEASED)
    val, test = ann['val'], ann['test']
    assert (len(val), len(test)) == (200, 800)
    assert sum(len(b) for b in val.values()) == 1292
    assert sum(len(b) for b in test.values()) == 4155
    assert sum(1 for b in test.values() if not len(b)) == 31
    assert sum(1 for b in val.values() if not len(b)) == 0
    # no patient in both splits; 618 patients, 43,295 slices in all
    pv = {parse_subvolume_name(n)[0][:6] for n in val}
    pt = {parse_subvolume_name(n)[0][:6] for n in test}
    assert not pv & pt and len(pv | pt) == 618
    slices = sum(last - first + 1 for split in ann.values()
                 for _, first, last in map(parse_subvolume_name, split))
    assert slices == 43295
    assert all(b.shape == (0, 6) for b in test.values() if not len(b))
    assert load_3d_annotations(RELEASED, 'val').keys() == val.keys()


def test_json_form_equals_pickle(tmp_path):
    out = str(tmp_path / 'ann.json')
    export_json(RELEASED, out)
    a, b = load_3d_annotations(RELEASED), load_3d_annotations(out)
    assert list(a['test']) == list(b['test'])
    assert all(np.array_equal(a[s][n], b[s][n]) for s in a for n in a[s])
    # and back to a pickle in the released layout
    back = str(tmp_path / 'ann.pkl')
    save_3d_boxes(b, back)
    with open(back, 'rb') as f:
        raw = pickle.load(f)
    assert raw['test']['001344_01_01_012-024'].dtype == np.float64


def test_names():
    assert parse_subvolume_name('001344_01_01_012-024') == \
        ('001344_01_01', 12, 24)
    assert parse_subvolume_name('d/000001_02_01_014-1038.nii.gz') == \
        ('000001_02_01', 14, 1038)
    assert subvolume_name('000001_02_01', 14, 38) == '000001_02_01_014-038'
    for bad in ('001344_01_01_24-12', '1344_01_01_012-024', 'scan',
                '001344_01_01_000-003'):
        with pytest.raises(AnnotationError, match=bad):
            parse_subvolume_name(bad)


@pytest.mark.parametrize('content, words', [
    ([1, 2], 'expected {split'),
    ({
        'test': [1]
    }, 'expected {split'),
    ({
        'test': {
            'scan_1-2': np.zeros((0, 6))
        }
    }, "'scan_1-2'"),
    ({
        'test': {
            '000001_01_01_010-020': np.zeros((2, 5))
        }
    }, "000001_01_01_010-020'].*shape \\(2, 5\\)"),
    ({
        'test': {
            '000001_01_01_010-020': [[1, 1, 9, 5, 5, 12]]
        }
    }, '000001_01_01_010-020.*slices 9-12, outside .* 10-20'),
    ({
        'test': {
            '000001_01_01_010-020': [[1, 1, 12, 5, 5, 21]]
        }
    }, 'outside'),
    ({
        'test': {
            '000001_01_01_010-020': [[5, 1, 12, 1, 5, 14]]
        }
    }, 'empty'),
    ({
        'test': {
            '000001_01_01_010-020': [[1, 1, 12, np.nan, 5, 14]]
        }
    }, 'NaN'),
])
def test_bad_annotations(tmp_path, content, words):
    path = str(tmp_path / 'ann.pkl')
    with open(path, 'wb') as f:
        pickle.dump(content, f)
    with pytest.raises(AnnotationError, match=words) as info:
        load_3d_annotations(path)
    assert 'ann.pkl' in str(info.value) and '\n' not in str(info.value)


def test_bad_files(tmp_path):
    js = tmp_path / 'a.json'
    js.write_text('{"test": ')
    with pytest.raises(AnnotationError, match='a.json'):
        load_3d_annotations(str(js))
    with pytest.raises(FileNotFoundError, match='none.pkl'):
        load_3d_annotations(str(tmp_path / 'none.pkl'))
    with pytest.raises(AnnotationError, match="no split 'train'"):
        load_3d_annotations(RELEASED, 'train')
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps(np.random.default_rng(0)))
    with pytest.raises(UnsafePickleError, match='evil.pkl'):
        load_3d_annotations(str(evil))


def test_predictions(tmp_path):
    name = '000001_01_01_010-020'
    path = str(tmp_path / 'p.json')
    json.dump({name: [[1, 2, 10, 5, 6, 30, 0.9]]}, open(path, 'w'))
    # predictions may reach past the sub-volume (they are only scored)
    assert load_3d_predictions(path)[name].shape == (1, 7)
    json.dump({name: [[1, 2, 10, 5, 6, 30]]}, open(path, 'w'))
    with pytest.raises(AnnotationError, match=f'{name}.*expected \\(n, 7\\)'):
        load_3d_predictions(path)


def test_subvolume_dataset(tmp_path):
    ann = {
        'test': {
            '000001_01_01_010-020': np.zeros((0, 6)),
            '000002_01_01_001-005': np.array([[1, 1, 2, 4, 4, 3.]]),
            '000003_01_01_001-005': np.zeros((0, 6))
        }
    }
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / '000001_01_01_010-020.nii.gz').write_bytes(b'')
    (tmp_path / '000002_01_01_001-005.nii').write_bytes(b'')
    (tmp_path / '000009_01_01_001-005.nii.gz').write_bytes(b'')
    with pytest.raises(
            FileNotFoundError,
            match='1 of 3 test sub-volumes .*000003_01_01_001-005'):
        DeepLesion3DSubvolumes(str(tmp_path), ann, 'test')
    data = DeepLesion3DSubvolumes(
        str(tmp_path), ann, 'test', allow_missing=True)
    assert data.names == ['000001_01_01_010-020', '000002_01_01_001-005']
    assert data.missing == ['000003_01_01_001-005']
    assert data.unannotated == ['000009_01_01_001-005']
    assert data[1]['first'] == 1 and data[1]['gt_boxes'].shape == (1, 6)
    assert data[0]['path'].endswith(
        osp.join('a', '000001_01_01_010-020.nii.gz'))
