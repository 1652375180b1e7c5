"""read_ct_volume: one synthetic series as PNG folder, NIfTI and DICOM series
gives one HU volume in canonical order (PNG slice numbers run toward the
feet); pydicom's real CT_small.dcm; bad input."""
import gzip
import os
import os.path as osp
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from cspr_det.fileio import VolumeError, read_ct_volume
from ct_fixtures import (SPACING, synthetic_hu, write_dicom_series,
                         write_nifti_rotated, write_png_series)


@pytest.fixture(scope='module')
def series(tmp_path_factory):
    """The same series in the three formats, plus a second DICOM series in
    the DICOM folder."""
    root = tmp_path_factory.mktemp('series')
    hu = synthetic_hu()
    png = write_png_series(str(root / 'png'), hu)
    nii = write_nifti_rotated(str(root / 'vol.nii.gz'), hu)
    files = write_dicom_series(str(root / 'dcm'), hu)
    write_dicom_series(
        str(root / 'dcm'), hu[:3] + 5, uid='1.2.3.999', prefix='other')
    return dict(hu=hu, png=png, nii=nii, dcm=str(root / 'dcm'), files=files)


def test_three_formats_give_one_hu_volume(series):
    # canonical LPS: row 0 is the most inferior slice, the last PNG slice
    hu = series['hu'].astype(np.float32)[::-1]
    png = read_ct_volume(series['png'], spacing=SPACING)
    nii = read_ct_volume(series['nii'])
    dcm = read_ct_volume(
        series['dcm'], series_uid='1.2.826.0.1.3680043.2.1125.7.1')
    for vol in (png, nii, dcm):
        assert vol.hu.dtype == np.float32
        np.testing.assert_array_equal(vol.hu, hu)
        assert vol.spacing == pytest.approx(SPACING, abs=1e-6)
        np.testing.assert_allclose(vol.direction, np.eye(3).ravel())
        assert vol.runs() == [(0, len(hu) - 1)]
    # the NIfTI was stored with x and z reversed; its canonical origin is
    # the physical position of the canonical voxel (0, 0, 0): world (0, 0, 0)
    assert nii.source['orientation'] == 'RPI'
    bottom = (0, 0, -(len(hu) - 1) * SPACING[2])
    for vol in (png, nii, dcm):
        np.testing.assert_allclose(vol.origin, bottom, atol=1e-5)
    # slices ordered by position, not by the shuffled file names
    assert dcm.slice_names == [osp.basename(f) for f in series['files']][::-1]
    assert dcm.slice_names != sorted(dcm.slice_names)
    assert dcm.source['series_uid'] == '1.2.826.0.1.3680043.2.1125.7.1'
    assert png.slice_names[0] == '008.png' and png.slice_names[-1] == '001.png'
    assert png.source['orientation'] == 'LPI'
    # a DICOM file reads its whole series
    one = read_ct_volume(series['files'][3])
    np.testing.assert_array_equal(one.hu, hu)
    # world coordinates agree between formats
    probe = np.array([[3.0, 5.0, 2.0]])
    np.testing.assert_allclose(
        nii.index_to_world(probe), dcm.index_to_world(probe), atol=1e-4)
    np.testing.assert_allclose(
        nii.world_to_source_index(nii.index_to_world(probe)),
        [[63 - 3.0, 5.0, 7 - 2.0]],
        atol=1e-4)


def test_dicom_series_choice_and_mixed_folder(series):
    with pytest.raises(VolumeError) as info:
        read_ct_volume(series['dcm'])
    msg = str(info.value)
    assert '\n' not in msg and series['dcm'] in msg
    assert 'holds 2 DICOM series' in msg and '1.2.3.999 (3 files)' in msg
    other = read_ct_volume(series['dcm'], series_uid='1.2.3.999')
    np.testing.assert_array_equal(other.hu, (series['hu'][:3] + 5)[::-1])
    with pytest.raises(VolumeError, match='has no DICOM series 9.9'):
        read_ct_volume(series['dcm'], series_uid='9.9')


def test_png_runs_and_spacing_from_dl_info(tmp_path):
    hu = synthetic_hu(depth=6)
    folder = str(tmp_path / 'Images_png' / '000007_01_02')
    write_png_series(folder, hu[:3], first=4)
    write_png_series(folder, hu[3:], first=10)
    with pytest.raises(VolumeError, match='slice spacing unknown'):
        read_ct_volume(folder)
    with open(tmp_path / 'DL_info.csv', 'w') as f:
        f.write('File_name,Key_slice_index,Spacing_mm_px_\n'
                '000007_01_01_005.png,5,"0.5, 0.5, 1"\n'
                '000007_01_02_011.png,11,"0.66, 0.66, 5"\n')
    vol = read_ct_volume(folder)
    assert vol.spacing == (0.66, 0.66, 5.0)
    np.testing.assert_array_equal(vol.grid_z, [0, 1, 2, 6, 7, 8])
    assert vol.runs() == [(0, 2), (3, 5)]
    # slice n at z = -(n - 1) * dz: row 0 is slice 12, at -55 mm
    assert vol.source['first_index'] == 4 and vol.origin[2] == -55.0
    assert vol.slice_names == [
        '012.png', '011.png', '010.png', '006.png', '005.png', '004.png'
    ]
    assert vol.grid_geometry()['size_xyz'] == [64, 48, 9]
    np.testing.assert_array_equal(vol.hu, hu.astype(np.float32)[::-1])


def test_ct_small_hu_equals_pydicom(tmp_path):
    """A real CT slice: HU = pixel_array * RescaleSlope + RescaleIntercept,
    also after changing slope and intercept."""
    from pydicom.data import get_testdata_file
    src = get_testdata_file('CT_small.dcm')
    ds = pydicom.dcmread(src)
    folder = tmp_path / 'ct_small'
    folder.mkdir()
    shutil.copy(src, folder / 'CT_small.dcm')
    vol = read_ct_volume(str(folder))
    expected = ds.pixel_array * float(ds.RescaleSlope) + \
        float(ds.RescaleIntercept)
    assert vol.hu.shape == (1, ) + ds.pixel_array.shape
    np.testing.assert_array_equal(vol.hu[0], expected.astype(np.float32))
    assert vol.spacing[:2] == pytest.approx(
        [float(v) for v in ds.PixelSpacing][::-1])
    ds.RescaleSlope, ds.RescaleIntercept = 2.5, -1000
    rescaled = tmp_path / 'rescaled'
    rescaled.mkdir()
    ds.save_as(str(rescaled / 'slice.dcm'))
    vol = read_ct_volume(str(rescaled))
    np.testing.assert_allclose(
        vol.hu[0], ds.pixel_array * 2.5 - 1000, atol=1e-3)


def _one_line(exc, *parts):
    msg = str(exc.value)
    assert '\n' not in msg
    for part in parts:
        assert part in msg, msg


def test_bad_inputs(tmp_path, series):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('not a scan')
    with pytest.raises(VolumeError) as info:
        read_ct_volume(str(empty))
    _one_line(info, 'no readable CT series', str(empty))
    with pytest.raises(VolumeError) as info:
        read_ct_volume(str(tmp_path / 'missing.nii.gz'))
    _one_line(info, 'not found')

    flat = str(tmp_path / 'flat.nii.gz')
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((8, 9), np.int16)), flat)
    with pytest.raises(VolumeError) as info:
        read_ct_volume(flat)
    _one_line(info, flat, 'not a 3D scalar volume')
    four = str(tmp_path / 'four.nii.gz')
    sitk.WriteImage(
        sitk.GetImageFromArray(
            np.zeros((2, 3, 8, 9), np.int16), isVector=False), four)
    with pytest.raises(VolumeError) as info:
        read_ct_volume(four)
    _one_line(info, four, 'not a 3D scalar volume')

    truncated = str(tmp_path / 'cut.nii.gz')
    with gzip.open(series['nii']) as f:
        data = f.read()
    with gzip.open(truncated, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(VolumeError) as info:
        read_ct_volume(truncated)
    _one_line(info, truncated, 'truncated')


def test_corrupt_slices_are_named(tmp_path, series):
    png = str(tmp_path / 'png')
    shutil.copytree(series['png'], png)
    with open(osp.join(png, '004.png'), 'r+b') as f:
        f.truncate(40)
    with pytest.raises(VolumeError) as info:
        read_ct_volume(png, spacing=SPACING)
    _one_line(info, osp.join(png, '004.png'))

    dcm = str(tmp_path / 'dcm')
    files = write_dicom_series(dcm, series['hu'])
    size = os.path.getsize(files[2])
    with open(files[2], 'r+b') as f:
        f.truncate(size - 2000)
    with pytest.raises(VolumeError) as info:
        read_ct_volume(dcm)
    _one_line(info, files[2])


def test_dicom_missing_slice_is_refused(tmp_path, series):
    files = write_dicom_series(str(tmp_path / 'dcm'), series['hu'])
    os.remove(files[4])
    with pytest.raises(VolumeError) as info:
        read_ct_volume(str(tmp_path / 'dcm'))
    _one_line(info, 'uneven slice spacing', files[3], files[5])
