"""The reader registry and dispatch (a format is one registered reader
class), and the writer of arrays in the geometry of the source."""
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.fileio import (BaseCTReader, CTVolume, DeepLesionPNGReader,
                             DicomSeriesReader, ImageFileReader, VolumeError,
                             ct_readers, find_reader, read_ct_volume,
                             volume_from_image, write_volume_in_source)
from cspr_det.registry import CT_READERS
from ct_fixtures import (SPACING, synthetic_hu, write_dicom_series,
                         write_nifti_rotated, write_png_series)


class NpyVolumeReader(BaseCTReader):
    """A toy format: a (D, H, W) HU ``.npy`` in canonical order, 1 mm."""
    priority = 30
    options = ('spacing', )

    def can_read(self, path):
        return path.endswith('.npy')

    def read(self, path, spacing=None):
        image = sitk.GetImageFromArray(np.load(path))
        image.SetSpacing(spacing or (1.0, 1.0, 1.0))
        return volume_from_image(image, dict(kind='npy', path=path))


@pytest.fixture
def npy_reader():
    CT_READERS.register_module(module=NpyVolumeReader)
    yield NpyVolumeReader
    CT_READERS.module_dict.pop('NpyVolumeReader')


def test_builtin_readers_and_their_order():
    names = [r.name for r in ct_readers()]
    assert names == [
        'DeepLesionPNGReader', 'DicomSeriesReader', 'ImageFileReader'
    ]
    assert CT_READERS.get('DicomSeriesReader') is DicomSeriesReader


def test_dispatch(tmp_path):
    hu = synthetic_hu(depth=3)
    png = write_png_series(str(tmp_path / 'png'), hu)
    write_dicom_series(str(tmp_path / 'dcm'), hu)
    nii = write_nifti_rotated(str(tmp_path / 'v.nii.gz'), hu)
    assert isinstance(find_reader(png), DeepLesionPNGReader)
    assert isinstance(find_reader(str(tmp_path / 'dcm')), DicomSeriesReader)
    assert isinstance(find_reader(nii), ImageFileReader)
    with pytest.raises(VolumeError, match="unknown CT reader 'Nope'"):
        read_ct_volume(nii, reader='Nope')
    with pytest.raises(VolumeError, match='one PNG slice'):
        read_ct_volume(osp.join(png, '001.png'))
    with pytest.raises(VolumeError, match='CT input not found'):
        read_ct_volume(str(tmp_path / 'nothing'))


def test_a_new_format_is_one_registered_class(tmp_path, npy_reader):
    hu = synthetic_hu(depth=3).astype(np.float32)
    path = str(tmp_path / 'scan.npy')
    np.save(path, hu)
    assert [r.name for r in ct_readers()][2] == 'NpyVolumeReader'
    vol = read_ct_volume(path, spacing=(0.5, 0.5, 2.0), series_uid=None)
    assert isinstance(vol, CTVolume) and vol.source['kind'] == 'npy'
    np.testing.assert_array_equal(vol.hu, hu)
    assert vol.spacing == (0.5, 0.5, 2.0)
    # without the class, the file is left to SimpleITK, which refuses it
    CT_READERS.module_dict.pop('NpyVolumeReader')
    try:
        with pytest.raises(VolumeError, match='scan.npy'):
            read_ct_volume(path)
    finally:
        CT_READERS.register_module(module=NpyVolumeReader)


def test_arrays_written_in_the_source_geometry(tmp_path):
    """A label array on the canonical rows of a PNG folder (two runs of
    slices) comes back in slice-number order on the folder's grid, and on
    the stored grid of a rotated NIfTI."""
    hu = synthetic_hu(depth=5)
    folder = str(tmp_path / '000001_01_01')
    write_png_series(folder, hu[:2], first=3)
    write_png_series(folder, hu[2:], first=7)
    vol = read_ct_volume(folder, spacing=SPACING)
    labels = np.zeros(vol.hu.shape, np.uint8)
    for row, name in enumerate(vol.slice_names):
        labels[row] = int(name[:3])  # the slice number
    out = write_volume_in_source(str(tmp_path / 'labels.nii.gz'), labels, vol)
    back = sitk.ReadImage(out)
    arr = sitk.GetArrayFromImage(back)
    # stored order: slice 3 first, the missing slices 5-6 empty
    assert arr[:, 0, 0].tolist() == [3, 4, 0, 0, 7, 8, 9]
    assert back.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, -1))
    assert back.GetOrigin() == pytest.approx((0, 0, -2 * SPACING[2]))
    nii = write_nifti_rotated(str(tmp_path / 'r.nii.gz'), hu)
    rot = read_ct_volume(nii)
    out = write_volume_in_source(
        str(tmp_path / 'r_lab.nii.gz'), rot.hu.astype(np.int16), rot)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(sitk.ReadImage(out)),
        sitk.GetArrayFromImage(sitk.ReadImage(nii)))
    with pytest.raises(ValueError, match='matches neither'):
        write_volume_in_source(str(tmp_path / 'x.nii.gz'), labels[1:], vol)
