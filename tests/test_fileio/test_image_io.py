"""Volume I/O: NIfTI round trip keeping geometry (checked against the
NIfTI-1 header read independently), file checks, reorientation,
resampling, and the inverse mapping back to the source geometry."""
import gzip
import struct

import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.datasets.volume_converter import convert_case
from cspr_det.fileio import (VolumeError, check_nifti_file, geometry_of,
                             image_from_array, orientation_of, read_volume,
                             reorient, resample_labels, target_grid,
                             to_source_geometry, write_volume)


def _oblique_direction(deg=12.0):
    """A non-identity direction: axes permuted (x<->y), flipped, tilted."""
    a = np.deg2rad(deg)
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)],
                    [0, np.sin(a), np.cos(a)]])
    perm = np.array([[0, -1, 0], [1, 0, 0], [0, 0, -1]], float)
    return rot @ perm


def _nifti1_affine(path):
    """sform affine (RAS) and pixdim of a NIfTI-1 file, parsed by hand from
    the 348-byte header (offsets of the NIfTI-1 standard)."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        hdr = f.read(348)
    assert struct.unpack('<i', hdr[:4])[0] == 348
    assert hdr[344:347] == b'n+1'
    sform_code = struct.unpack('<h', hdr[254:256])[0]
    rows = [struct.unpack('<4f', hdr[o:o + 16]) for o in (280, 296, 312)]
    pixdim = struct.unpack('<8f', hdr[76:108])
    dims = struct.unpack('<8h', hdr[40:56])
    return sform_code, np.array(rows), pixdim, dims


@pytest.mark.parametrize('ext', ['.nii', '.nii.gz'])
def test_nifti_round_trip_keeps_geometry(tmp_path, ext):
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1000, size=(5, 7, 9)).astype(np.int16)
    direction = _oblique_direction()
    geo = dict(
        size_xyz=[9, 7, 5],
        spacing_xyz=[0.7, 0.8, 2.5],
        origin=[-120.5, 33.25, 410.0],
        direction=list(direction.ravel()))
    path = str(tmp_path / ('vol' + ext))
    write_volume(path, array, geo)
    back, geo2 = read_volume(path)
    assert back.dtype == np.int16
    np.testing.assert_array_equal(back, array)
    assert geo2['size_xyz'] == [9, 7, 5]
    np.testing.assert_allclose(
        geo2['spacing_xyz'], geo['spacing_xyz'], atol=1e-6)
    np.testing.assert_allclose(geo2['origin'], geo['origin'], atol=1e-4)
    np.testing.assert_allclose(geo2['direction'], geo['direction'], atol=1e-6)
    # the file itself, read without SimpleITK: sform = RAS affine of ITK's
    # LPS geometry (x and y negated), columns = direction * spacing
    code, rows, pixdim, dims = _nifti1_affine(path)
    assert code > 0
    assert dims[:4] == (3, 9, 7, 5)
    np.testing.assert_allclose(pixdim[1:4], [0.7, 0.8, 2.5], atol=1e-6)
    flip = np.diag([-1.0, -1.0, 1.0])
    expected = np.concatenate([
        flip @ direction @ np.diag(geo['spacing_xyz']),
        (flip @ np.asarray(geo['origin']))[:, None]
    ],
                              axis=1)
    np.testing.assert_allclose(rows, expected, atol=1e-4)
    # voxel (i, j, k) maps to the same physical point through both
    img = sitk.ReadImage(path)
    p = np.array(img.TransformIndexToPhysicalPoint((2, 3, 4)))
    np.testing.assert_allclose(
        flip @ p, rows @ np.array([2, 3, 4, 1.0]), atol=1e-4)


def test_write_is_atomic_and_checks_shape(tmp_path):
    geo = dict(
        size_xyz=[4, 3, 2],
        spacing_xyz=[1, 1, 1],
        origin=[0, 0, 0],
        direction=[1, 0, 0, 0, 1, 0, 0, 0, 1])
    with pytest.raises(ValueError, match='does not match'):
        write_volume(str(tmp_path / 'a.nii.gz'), np.zeros((2, 3, 5)), geo)
    write_volume(str(tmp_path / 'a.nii.gz'), np.zeros((2, 3, 4)), geo)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.nii.gz']


def test_check_nifti_file_detects_truncation_and_missing(tmp_path):
    geo = dict(
        size_xyz=[8, 8, 6],
        spacing_xyz=[1, 1, 2],
        origin=[0, 0, 0],
        direction=[1, 0, 0, 0, 1, 0, 0, 0, 1])
    arr = np.arange(6 * 8 * 8, dtype=np.int16).reshape(6, 8, 8)
    for name in ('v.nii', 'v.nii.gz'):
        write_volume(str(tmp_path / name), arr, geo)
        check_nifti_file(str(tmp_path / name))  # complete: no error
        data = (tmp_path / name).read_bytes()
        (tmp_path / ('cut_' + name)).write_bytes(data[:len(data) - 20])
        # SimpleITK itself reads the truncated file without complaint
        sitk.ReadImage(str(tmp_path / ('cut_' + name)))
        with pytest.raises(VolumeError, match=r'^case7: image .*truncated'):
            check_nifti_file(str(tmp_path / ('cut_' + name)), 'case7')
    with pytest.raises(VolumeError, match='case7: label file not found'):
        check_nifti_file(str(tmp_path / 'nope.nii'), 'case7', 'label')
    (tmp_path / 'junk.nii').write_bytes(b'x' * 400)
    with pytest.raises(VolumeError):
        read_volume(str(tmp_path / 'junk.nii'), 'case8')


def test_reorient_keeps_physical_positions():
    arr = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    img = image_from_array(arr, (0.7, 0.8, 2.5), (10, 20, 30),
                           list(_oblique_direction(0).ravel()))
    assert orientation_of(img) != 'LPS'
    can = reorient(img, 'LPS')
    assert orientation_of(can) == 'LPS'
    np.testing.assert_allclose(
        np.asarray(can.GetDirection()), np.eye(3).ravel(), atol=1e-12)
    # every voxel value sits at the same physical point in both images
    for idx in [(0, 0, 0), (4, 3, 2), (1, 2, 1)]:
        p = img.TransformIndexToPhysicalPoint(idx)
        idx2 = can.TransformPhysicalPointToIndex(p)
        assert img[idx] == can[idx2]


def test_target_grid_and_label_resampling():
    img = image_from_array(
        np.zeros((11, 4, 6), np.uint8), (0.7, 0.7, 2.5), (0, 0, 0),
        np.eye(3).ravel())
    grid = target_grid(img, (1.0, None, None))
    # (11 - 1) * 2.5 mm = 25 mm -> 26 slices of 1 mm, in-plane kept
    assert grid['size_xyz'] == [6, 4, 26]
    assert grid['spacing_xyz'][2] == 1.0
    np.testing.assert_allclose(grid['spacing_xyz'][:2], [0.7, 0.7], atol=1e-6)
    grid = target_grid(img, (2.0, 1.4, 1.4))
    assert grid['size_xyz'] == [
        int(np.floor(5 * 0.7 / 1.4 + 1e-6)) + 1,
        int(np.floor(3 * 0.7 / 1.4 + 1e-6)) + 1, 13
    ]
    # labels: nearest slice along z; one-hot linear interpolation in-plane
    lab = np.zeros((4, 8, 8), np.uint8)
    lab[1:3, 2:6, 2:6] = 2
    lab[0, 0:2, 0:2] = 1
    limg = image_from_array(lab, (1, 1, 3), (0, 0, 0), np.eye(3).ravel())
    zgrid = target_grid(limg, (1.0, None, None))
    out = sitk.GetArrayFromImage(resample_labels(limg, zgrid))
    assert out.shape == (10, 8, 8)
    for z in range(10):  # 1 mm slice z comes from source slice round(z / 3)
        np.testing.assert_array_equal(out[z], lab[int(np.floor(z / 3 + 0.5))])
    grid2 = target_grid(limg, (None, 2.0, 2.0))
    out2 = sitk.GetArrayFromImage(resample_labels(limg, grid2))
    assert out2.shape == (4, 4, 4)
    assert set(np.unique(out2)) <= {0, 1, 2}
    assert out2[1, 1:3, 1:3].tolist() == [[2, 2], [2, 2]]


def _write_case(tmp_path,
                direction,
                spacing=(0.8, 0.8, 2.5),
                shape=(9, 10, 12)):
    rng = np.random.default_rng(3)
    hu = rng.integers(-200, 300, size=shape).astype(np.int16)
    lab = np.zeros(shape, np.uint8)
    lab[2:7, 3:8, 4:10] = 1
    lab[3:5, 4:6, 5:7] = 2
    geo = dict(
        size_xyz=list(reversed(shape)),
        spacing_xyz=list(spacing),
        origin=[15.0, -40.0, 100.0],
        direction=list(direction.ravel()))
    write_volume(str(tmp_path / 'img.nii.gz'), hu, geo)
    write_volume(str(tmp_path / 'lab.nii.gz'), lab, geo)
    return hu, lab, geo


@pytest.mark.parametrize('tilt', [0.0, 10.0])
def test_convert_case_and_back_to_source_geometry(tmp_path, tilt):
    direction = _oblique_direction(tilt)
    hu, lab, geo = _write_case(tmp_path, direction)
    entry = convert_case('c1', str(tmp_path / 'img.nii.gz'),
                         str(tmp_path / 'lab.nii.gz'), str(tmp_path / 'out'),
                         (1.0, None, None), range(3))
    img = np.load(tmp_path / 'out' / 'images' / 'c1.npy', mmap_mode='r')
    seg = np.load(tmp_path / 'out' / 'labels' / 'c1.npy', mmap_mode='r')
    assert img.dtype == np.int16 and seg.dtype == np.uint8
    # z: (9 - 1) * 2.5 mm -> 21 slices of 1 mm; the permuted in-plane axes
    assert img.shape == seg.shape == (21, 12, 10)
    assert entry['shape'] == [21, 12, 10]
    assert entry['spacing'][0] == 1.0
    np.testing.assert_allclose(entry['spacing'][1:], [0.8, 0.8], atol=1e-6)
    assert entry['source']['size_xyz'] == geo['size_xyz']
    np.testing.assert_allclose(
        entry['source']['direction'], geo['direction'], atol=1e-6)
    assert entry['label_values'] == [0, 1, 2]
    z = np.flatnonzero(seg.reshape(21, -1).max(1) > 0)
    assert entry['fg_z_range'] == [int(z[0]), int(z[-1])]
    # source slices 0, 2.5, 5 ... mm are on the 1 mm grid every other one
    # (the z axis is flipped by the canonical orientation): HU unchanged
    src = sitk.ReadImage(str(tmp_path / 'img.nii.gz'))
    conv = image_from_array(
        np.asarray(img), list(reversed(entry['spacing'])), entry['origin'],
        entry['direction'])
    for idx in [(0, 0, 0), (3, 4, 2), (11, 9, 8)]:
        p = src.TransformIndexToPhysicalPoint(idx)
        cidx = conv.TransformPhysicalPointToIndex(p)
        assert abs(conv[cidx] - src[idx]) <= 1 or idx[2] % 2 == 1
    # back to the source geometry: identical labels and grid
    back = to_source_geometry(np.asarray(seg), entry)
    src_lab = sitk.ReadImage(str(tmp_path / 'lab.nii.gz'))
    assert geometry_of(back)['size_xyz'] == geo['size_xyz']
    np.testing.assert_allclose(
        back.GetDirection(), src_lab.GetDirection(), atol=1e-6)
    np.testing.assert_allclose(
        back.GetOrigin(), src_lab.GetOrigin(), atol=1e-4)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), lab)


def test_to_source_geometry_needs_meta():
    with pytest.raises(KeyError, match='source'):
        to_source_geometry(
            np.zeros((2, 2, 2)),
            dict(spacing=(1, 1, 1), origin=(0, 0, 0), direction=np.eye(3)))
