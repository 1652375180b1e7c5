"""Read one DICOM series of a folder with SimpleITK (GDCM).

The series is chosen by SeriesInstanceUID when the folder holds several;
its slices are ordered by their position along the slice normal
(ImagePositionPatient projected on the normal of ImageOrientationPatient),
never by file name; GDCM applies RescaleSlope / RescaleIntercept, so the
values are HU. Every file's pixel data is decoded once (the headers are
read once more to order and check the slices).
"""
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
import SimpleITK as sitk
from mmengine.logging import print_log

from cspr_det.datasets.volume_io import VolumeError
from .ct_volume import CTVolume, is_dicom_file, volume_from_image

_SERIES_UID = '0020|000e'
_POSITION = '0020|0032'
_ORIENTATION = '0020|0037'
_MODALITY = '0008|0060'


def _last_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def _header(path: str) -> sitk.ImageFileReader:
    """A reader holding the header of ``path`` (pixel data not decoded)."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.LoadPrivateTagsOff()
    try:
        reader.ReadImageInformation()
    except RuntimeError as e:
        raise VolumeError(f'cannot read DICOM file {path} (corrupt or '
                          f'truncated?): {_last_line(e)}') from None
    return reader


def _tag(reader: sitk.ImageFileReader, tag: str) -> Optional[str]:
    if not reader.HasMetaDataKey(tag):
        return None
    return reader.GetMetaData(tag).strip().strip('\x00').strip()


def _floats(text: Optional[str], n: int) -> Optional[np.ndarray]:
    try:
        values = [float(v) for v in text.split('\\')]
    except (AttributeError, ValueError):
        return None
    return np.asarray(values) if len(values) == n else None


def list_dicom_series(folder: str) -> Dict[str, List[str]]:
    """Series of a folder: ``{SeriesInstanceUID: [files]}``.

    Raises:
        VolumeError: A file with the DICOM preamble that belongs to no
            series and whose header cannot be read.
    """
    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder)
    series = {
        uid: list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid))
        for uid in ids
    }
    members = {osp.abspath(f) for files in series.values() for f in files}
    for name in sorted(os.listdir(folder)):
        path = osp.abspath(osp.join(folder, name))
        if path not in members and name.upper() != 'DICOMDIR' and \
                is_dicom_file(path):
            _header(path)  # raises for a corrupt file
    return series


def _choose_series(folder: str, series: Dict[str, List[str]],
                   series_uid: Optional[str]) -> str:
    if not series:
        raise VolumeError(f'no readable CT series in {folder}: no DICOM '
                          'series and no DeepLesion PNG slices (NNN.png)')
    if series_uid is not None:
        if series_uid not in series:
            raise VolumeError(f'{folder} has no DICOM series {series_uid}; '
                              f'found {sorted(series)}')
        return series_uid
    if len(series) > 1:
        found = ', '.join(f'{uid} ({len(f)} files)'
                          for uid, f in sorted(series.items()))
        raise VolumeError(f'{folder} holds {len(series)} DICOM series '
                          f'({found}); choose one with series_uid '
                          '(--series-uid)')
    return next(iter(series))


def order_slices(files: List[str]) -> Tuple[List[str], str]:
    """Order the files of one series by position along the slice normal.

    Returns:
        tuple: The ordered files and the Modality of the first file.

    Raises:
        VolumeError: Slices with different orientations, two slices at one
            position, or missing slices (uneven spacing).
    """
    headers = [_header(f) for f in files]
    modality = _tag(headers[0], _MODALITY) or ''
    if len(files) == 1:
        return files, modality
    iop = [_floats(_tag(h, _ORIENTATION), 6) for h in headers]
    ipp = [_floats(_tag(h, _POSITION), 3) for h in headers]
    bad = [f for f, o, p in zip(files, iop, ipp) if o is None or p is None]
    if bad:
        raise VolumeError(f'DICOM file {bad[0]} has no valid '
                          'ImagePositionPatient / ImageOrientationPatient; '
                          'the series cannot be ordered')
    for f, o in zip(files, iop):
        if not np.allclose(o, iop[0], atol=1e-4):
            raise VolumeError(f'DICOM file {f} has another slice orientation '
                              f'than {files[0]}: not one axial stack')
    normal = np.cross(iop[0][:3], iop[0][3:])
    dist = np.asarray([float(p @ normal) for p in ipp])
    order = np.argsort(dist, kind='stable')
    files = [files[i] for i in order]
    steps = np.diff(dist[order])
    for k, step in enumerate(steps):
        if step < 1e-3:
            raise VolumeError(f'DICOM files {files[k]} and {files[k + 1]} '
                              'lie at the same position (duplicate slices)')
    median = float(np.median(steps))
    for k, step in enumerate(steps):
        if abs(step - median) > 0.01 * median + 1e-3:
            raise VolumeError(
                f'uneven slice spacing in the DICOM series: {step:.3g} mm '
                f'between {files[k]} and {files[k + 1]} instead of '
                f'{median:.3g} mm (missing slices?)')
    return files, modality


def _execute(files: List[str], folder: str, uid: str) -> sitk.Image:
    try:
        if len(files) == 1:
            return sitk.ReadImage(files[0])
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(files)
        return reader.Execute()
    except RuntimeError as e:
        for f in files:  # name the file that fails
            try:
                sitk.ReadImage(f)
            except RuntimeError as e_file:
                raise VolumeError(
                    f'cannot read DICOM file {f} (corrupt or truncated?): '
                    f'{_last_line(e_file)}') from None
        raise VolumeError(f'cannot read DICOM series {uid} of {folder}: '
                          f'{_last_line(e)}') from None


def read_dicom_series(folder: str,
                      series_uid: Optional[str] = None,
                      member: Optional[str] = None) -> CTVolume:
    """Read a DICOM series into a :class:`CTVolume` (HU, canonical order).

    Args:
        folder: Folder of the series.
        series_uid: The series to read when the folder holds several.
        member: A file of the series to read (its UID chooses the series).

    Returns:
        CTVolume: ``source`` = ``dict(kind='dicom', path=folder,
        series_uid=..., modality=...)`` plus the stored geometry;
        ``slice_names`` are the file names.

    Raises:
        VolumeError: See :func:`list_dicom_series`, :func:`order_slices`;
            also no series, several series and no ``series_uid``, a file
            whose pixel data cannot be decoded, or a 2D/4D result.
    """
    if member is not None and series_uid is None:
        series_uid = _tag(_header(member), _SERIES_UID)
    series = list_dicom_series(folder)
    uid = _choose_series(folder, series, series_uid)
    files, modality = order_slices(series[uid])
    if modality and modality.upper() != 'CT':
        print_log(f'{folder}: series {uid} has modality {modality}, not CT; '
                  'its values are not HU', logger='current',
                  level=logging.WARNING)
    image = _execute(files, folder, uid)
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    if image.GetDimension() != 3 or \
            image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeError(f'DICOM series {uid} of {folder} is not a 3D '
                          f'scalar volume (size {image.GetSize()})')
    names = [osp.basename(f) for f in files] \
        if image.GetSize()[2] == len(files) else []
    return volume_from_image(
        image,
        dict(kind='dicom', path=folder, series_uid=uid, modality=modality),
        names)
