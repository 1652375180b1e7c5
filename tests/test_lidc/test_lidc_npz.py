"""Nodule npz reading: header-only shapes, reader-mask rules, bad files."""
import numpy as np
import pytest

from cspr_det.datasets.lidc_npz import (check_nodule_npz, combine_reader_masks,
                                        load_nodule_npz, npz_array_headers)


def _masks():
    a = np.zeros((1, 1, 5), np.uint8)
    r1, r2, r3, r4 = a.copy(), a.copy(), a.copy(), a.copy()
    r1[0, 0, [0, 1]] = 1
    r2[0, 0, [1, 2]] = 1
    r3[0, 0, [1, 2, 3]] = 1
    return [r1, r2, r3, r4]  # reader 4 drew nothing


def test_reader_mask_rules_by_hand():
    m = _masks()
    assert combine_reader_masks(m, 'answer1')[0, 0].tolist() == [1, 1, 0, 0, 0]
    assert combine_reader_masks(m, 'union')[0, 0].tolist() == [1, 1, 1, 1, 0]
    # 3 readers drew a mask: a voxel needs 2 votes
    assert combine_reader_masks(m, 'majority')[0,
                                               0].tolist() == [0, 1, 1, 0, 0]
    empty_first = [m[3], m[1], m[2], None]
    assert combine_reader_masks(empty_first,
                                'any')[0, 0].tolist() == [0, 1, 1, 0, 0]
    # two readers: majority = both
    assert combine_reader_masks([m[0], m[1], None, None],
                                'majority')[0, 0].tolist() == [0, 1, 0, 0, 0]
    with pytest.raises(ValueError, match='answer1 is missing'):
        combine_reader_masks([None, m[1], None, None], 'answer1')
    with pytest.raises(ValueError, match='seg_label'):
        combine_reader_masks(m, 'vote')


def test_headers_match_the_arrays(tmp_path):
    path = str(tmp_path / 'n.npz')
    voxel = np.arange(60 * 50 * 49, dtype=np.uint8).reshape(60, 50, 49)
    np.savez_compressed(path, voxel=voxel, answer1=voxel > 3)
    heads = npz_array_headers(path)
    assert heads['voxel'] == ((60, 50, 49), np.dtype(np.uint8))
    assert heads['answer1'] == ((60, 50, 49), np.dtype(bool))
    v, m = load_nodule_npz(path, 'answer1')
    np.testing.assert_array_equal(v, voxel)
    np.testing.assert_array_equal(m, (voxel > 3).astype(np.uint8))
    assert load_nodule_npz(path)[1] is None


def test_bad_files_are_described(tmp_path):
    assert 'npz not found' in check_nodule_npz(str(tmp_path / 'gone.npz'))
    bad = tmp_path / 'bad.npz'
    bad.write_bytes(b'not a zip file')
    assert 'unreadable npz' in check_nodule_npz(str(bad))
    small = str(tmp_path / 'small.npz')
    np.savez(small, voxel=np.zeros((48, 47, 48), np.uint8))
    assert 'smaller than 48^3' in check_nodule_npz(small)
    assert check_nodule_npz(small, min_size=40) is None
    shape = str(tmp_path / 'shape.npz')
    np.savez(
        shape,
        voxel=np.zeros((48, 48, 48), np.uint8),
        answer1=np.zeros((48, 48, 40), np.uint8))
    assert 'answer1 (48, 48, 40) differs' in check_nodule_npz(shape)
    with pytest.raises(ValueError, match='answer1 .* differs'):
        load_nodule_npz(shape, 'union')
    nomask = str(tmp_path / 'nomask.npz')
    np.savez(nomask, voxel=np.zeros((48, 48, 48), np.uint8))
    assert check_nodule_npz(nomask) is None
    assert 'no answer1 mask' in check_nodule_npz(nomask, need_masks=True)
