"""3-slice CT patches for VDT pre-training on a CT source task, read back
through the pre-training loader (LoadImageVDT, R, G, B = slices 0, 1, 2)."""
import json
import os

import numpy as np
import pytest

from cspr_det.datasets.ct_slice_patches import (PatchSourceError,
                                                sample_slice_patches,
                                                window_to_uint8)
from cspr_det.datasets.transforms import LoadImageVDT
from cspr_det.datasets.volume_converter import INDEX_VERSION
from tool_loader import load_tool

tool = load_tool('tools/dataset_converters/ct_patches_to_folder.py')


def _volume():
    """(6, 20, 20): HU rising with z (so slices are told apart) and x; a
    'liver' (label 1) block and one 'lesion' voxel (label 2)."""
    z, y, x = np.meshgrid(
        np.arange(6), np.arange(20), np.arange(20), indexing='ij')
    hu = (-150 + 60 * z + 2 * x).astype(np.int16)
    label = np.zeros(hu.shape, np.uint8)
    label[2:5, 5:15, 5:15] = 1
    label[3, 9, 9] = 2
    return hu, label


def test_patch_channels_are_neighbouring_slices_around_a_class_voxel():
    hu, label = _volume()
    rng = np.random.default_rng(0)
    got = list(sample_slice_patches(hu, label, 8, 50, (-200, 250), rng))
    by_class = {}
    for value, patch in got:
        by_class.setdefault(value, []).append(patch)
    assert len(by_class[2]) == 1 and len(by_class[1]) == 50
    # slices 0 and 5 have no context: no centre there
    assert len(by_class[0]) == 50
    lesion = by_class[2][0]
    assert lesion.shape == (8, 8, 3) and lesion.dtype == np.uint8
    expected = window_to_uint8(hu[2:5, 5:13, 5:13], (-200, 250))
    np.testing.assert_array_equal(lesion, expected.transpose(1, 2, 0))


def test_patches_crossing_the_border_are_padded_with_air():
    hu = np.zeros((3, 4, 4), np.int16)
    label = np.zeros((3, 4, 4), np.uint8)
    label[1, 0, 0] = 1
    (value, patch), = sample_slice_patches(
        hu, label, 4, 5, (-200, 250), np.random.default_rng(0), classes=[1])
    assert value == 1
    assert (patch[:2, :, :] == 0).all() and (patch[:, :2] == 0).all()
    hu0 = window_to_uint8(np.zeros(1), (-200, 250))[0]
    assert (patch[2:, 2:] == hu0).all()


def test_bad_volumes_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(PatchSourceError, match='one'):
        list(
            sample_slice_patches(
                np.zeros((3, 4, 4)), np.zeros((3, 4, 5)), 2, 1, (0, 1), rng))
    with pytest.raises(PatchSourceError, match='3-slice'):
        list(
            sample_slice_patches(
                np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), 2, 1, (0, 1), rng))


def _converted(root):
    hu, label = _volume()
    os.makedirs(root / 'images')
    os.makedirs(root / 'labels')
    cases = []
    for i, split in enumerate(('train', 'train', 'test')):
        np.save(root / 'images' / f'c{i}.npy', hu)
        np.save(root / 'labels' / f'c{i}.npy', label)
        cases.append(
            dict(
                case_id=f'c{i}',
                image=f'images/c{i}.npy',
                label=f'labels/c{i}.npy',
                split=split))
    (root / 'index.json').write_text(
        json.dumps(
            dict(
                version=INDEX_VERSION,
                label_values=[0, 1, 2],
                classes=['bg', 'liver', 'lesion'],
                cases=cases)))


def test_tool_writes_class_folders_read_back_in_slice_order(tmp_path, capsys):
    _converted(tmp_path / 'conv')
    out = tmp_path / 'patches'
    assert tool.main([
        str(tmp_path / 'conv'),
        str(out), '--patch-size', '8', '--per-class', '3', '--val-per-class',
        '2'
    ]) == 0
    for split, n in (('train', 2 * (3 + 3 + 1)), ('val', 2 + 2 + 1)):
        folders = sorted(os.listdir(out / split))
        assert folders == ['00_bg', '01_liver', '02_lesion']
        assert sum(len(os.listdir(out / split / f)) for f in folders) == n
    lesion = out / 'val' / '02_lesion'
    path = str(lesion / os.listdir(lesion)[0])
    img = LoadImageVDT().transform(dict(img_path=path))['img']
    hu, _ = _volume()
    expected = window_to_uint8(hu[2:5, 5:13, 5:13], (-200, 250))
    np.testing.assert_array_equal(img, expected.transpose(1, 2, 0))
    assert 'val: 5 patches in 3 classes' in capsys.readouterr().out


def test_tool_names_a_missing_index_and_bad_arguments(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match='converted index not found'):
        tool.main([str(tmp_path), str(tmp_path / 'o')])
    assert tool.main(
        [str(tmp_path),
         str(tmp_path / 'o'), '--window', '5', '1']) == 2
    assert 'HI must exceed LO' in capsys.readouterr().err


def test_volume_intensity_stats_equal_numpy_on_the_split(tmp_path, capsys):
    stats_tool = load_tool('tools/analysis_tools/volume_intensity_stats.py')
    _converted(tmp_path / 'conv')
    hu, _ = _volume()
    w = (np.clip(hu.astype(np.float64), -200, 250) + 200) / 450 * 255
    both = np.concatenate([w, w])  # the two training cases
    got = stats_tool.window_stats(str(tmp_path / 'conv'), (-200, 250), 'train')
    assert got['cases'] == 2 and got['voxels'] == both.size
    assert got['mean'] == pytest.approx(both.mean())
    assert got['std'] == pytest.approx(both.std())
    assert stats_tool.main([str(tmp_path / 'conv')]) == 0
    assert f'mean {both.mean():.2f}, std {both.std():.2f}' in \
        capsys.readouterr().out
    with pytest.raises(PatchSourceError, match="no 'val' case"):
        stats_tool.window_stats(str(tmp_path / 'conv'), (-200, 250), 'val')
