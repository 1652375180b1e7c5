"""The DICOM series reader on real CT files shipped with pydicom: a real
series in position order whatever the file names, a series with a slice
202 mm away refused naming both files, JPEG 2000 slices (one whose header
and codestream disagree on signedness) with the HU pydicom's decoder gives,
and a folder with two series listing both UIDs."""
import os
import os.path as osp
import random
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files

from cspr_det.fileio import (DicomSeriesReader, VolumeError, find_reader,
                             list_dicom_series, read_ct_volume)

CT5N = 'dicomdirtests/98892001/CT5N/*'
CT2 = 'dicomdirtests/77654033/CT2/*'
J2K = ('693_J2KI.dcm', 'J2K_pixelrep_mismatch.dcm')


def _pydicom_hu(ds) -> np.ndarray:
    """pydicom's decoded pixels after the modality rescale."""
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + \
        float(ds.RescaleIntercept)


def _copy(files, folder, names=None):
    os.makedirs(folder, exist_ok=True)
    out = []
    for k, src in enumerate(files):
        dst = osp.join(folder, names[k] if names else osp.basename(src))
        shutil.copy(src, dst)
        out.append(dst)
    return out


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_ct5n_reads_in_position_order_with_exact_hu(tmp_path, seed):
    files = sorted(get_testdata_files(CT5N))
    assert len(files) == 5
    names = [f'slice_{k}.dcm' for k in range(5)]
    random.Random(seed).shuffle(names)
    copies = _copy(files, str(tmp_path / 'ct5n'), names)
    vol = read_ct_volume(str(tmp_path / 'ct5n'))
    assert isinstance(find_reader(str(tmp_path / 'ct5n')), DicomSeriesReader)
    # reference: pydicom, slices sorted by z (axial, IOP = identity)
    ds = [pydicom.dcmread(f) for f in copies]
    z = [float(d.ImagePositionPatient[2]) for d in ds]
    order = np.argsort(z)
    assert np.allclose(np.diff(np.sort(z)), 2.5)
    expected = np.stack([_pydicom_hu(ds[k]) for k in order])
    assert vol.hu.shape == expected.shape == (5, 16, 16)
    np.testing.assert_array_equal(vol.hu, expected.astype(np.float32))
    assert vol.slice_names == [names[k] for k in order]
    assert vol.spacing[2] == pytest.approx(2.5)
    first = ds[order[0]]
    np.testing.assert_allclose(
        vol.origin, [float(v) for v in first.ImagePositionPatient], atol=1e-4)


def test_ct2_with_a_far_slice_is_refused_naming_both_files(tmp_path):
    copies = _copy(get_testdata_files(CT2), str(tmp_path / 'ct2'))
    z = {f: float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in copies}
    ordered = sorted(copies, key=z.get)
    steps = np.diff([z[f] for f in ordered])
    gap = int(np.argmax(steps))
    assert steps[gap] > 200  # the slice 202 mm away
    with pytest.raises(VolumeError) as info:
        read_ct_volume(str(tmp_path / 'ct2'))
    msg = str(info.value)
    assert '\n' not in msg and 'uneven slice spacing' in msg
    assert ordered[gap] in msg and ordered[gap + 1] in msg


@pytest.mark.parametrize('name', J2K)
def test_jpeg2000_slices_read_with_pydicom_hu(tmp_path, name):
    src = get_testdata_file(name)
    ds = pydicom.dcmread(src)
    assert ds.file_meta.TransferSyntaxUID.startswith('1.2.840.10008.1.2.4.9')
    expected = _pydicom_hu(ds)
    copy = _copy([src], str(tmp_path / 'j2k'))[0]
    for path in (str(tmp_path / 'j2k'), copy):  # the folder or the file
        vol = read_ct_volume(path)
        assert vol.hu.shape == (1, ) + expected.shape
        np.testing.assert_array_equal(vol.hu[0], expected.astype(np.float32))
    if name == 'J2K_pixelrep_mismatch.dcm':
        # header says signed: negative HU must survive (no 65536 wrap)
        assert ds.PixelRepresentation == 1 and vol.hu.min() < 0
        assert vol.hu.max() < 4096


def test_undecodable_transfer_syntax_is_named(tmp_path):
    """Pixel data the decoder cannot read (a JPEG 2000 stream declared as
    JPEG-LS): the message names the file and its transfer syntax instead
    of returning wrong values."""
    ds = pydicom.dcmread(get_testdata_file('693_J2KI.dcm'))
    ds.file_meta.TransferSyntaxUID = '1.2.840.10008.1.2.4.80'
    folder = tmp_path / 'jpegls'
    folder.mkdir()
    ds.save_as(str(folder / 'slice.dcm'), enforce_file_format=True)
    with pytest.raises(VolumeError) as info:
        read_ct_volume(str(folder))
    msg = str(info.value)
    assert '\n' not in msg and str(folder / 'slice.dcm') in msg
    assert '1.2.840.10008.1.2.4.80 (JPEG-LS Lossless)' in msg


def test_folder_with_two_series_lists_both_uids(tmp_path):
    ct5n = get_testdata_files(CT5N)
    ct2 = get_testdata_files(CT2)
    folder = str(tmp_path / 'two')
    _copy(ct5n, folder)
    _copy(ct2, folder)
    uid5 = str(pydicom.dcmread(ct5n[0]).SeriesInstanceUID)
    uid2 = str(pydicom.dcmread(ct2[0]).SeriesInstanceUID)
    series = list_dicom_series(folder)
    assert sorted(series) == sorted([uid5, uid2])
    assert len(series[uid5]) == 5 and len(series[uid2]) == 4
    with pytest.raises(VolumeError) as info:
        read_ct_volume(folder)
    msg = str(info.value)
    assert 'holds 2 DICOM series' in msg and uid5 in msg and uid2 in msg
    vol = read_ct_volume(folder, series_uid=uid5)
    assert vol.hu.shape == (5, 16, 16)
