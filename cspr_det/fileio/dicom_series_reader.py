"""DICOM series folders (:class:`DicomSeriesReader`), read with SimpleITK
(GDCM).

The series is chosen by SeriesInstanceUID when the folder holds several
(:func:`list_dicom_series` lists them all); its slices are ordered by their
position along the slice normal (ImagePositionPatient projected on the
normal of ImageOrientationPatient), never by file name; a series whose
slices are not evenly spaced (a missing or misplaced slice) is refused with
a message naming the two files around the gap. GDCM applies RescaleSlope /
RescaleIntercept, so the values are HU; compressed transfer syntaxes that
GDCM decodes (JPEG, JPEG-LS, JPEG 2000, RLE) are read, any other is refused
with a message naming the transfer syntax. Every file's pixel data is
decoded once (the headers are read once more to order and check the
slices).
"""
import logging
import os
import os.path as osp
import struct
from typing import Dict, List, Optional, Tuple

import numpy as np
import SimpleITK as sitk
from mmengine.logging import print_log

from cspr_det.registry import CT_READERS
from .base_ct_reader import BaseCTReader
from .ct_volume import CTVolume, volume_from_image
from .volume_error import VolumeError

_SERIES_UID = '0020|000e'
_POSITION = '0020|0032'
_ORIENTATION = '0020|0037'
_MODALITY = '0008|0060'


def is_dicom_file(path: str) -> bool:
    """True for a file with the DICOM preamble (``DICM`` at byte 128)."""
    try:
        with open(path, 'rb') as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b'DICM'


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
        raise VolumeError(f'cannot read DICOM file {path} (transfer syntax '
                          f'{transfer_syntax_of(path)}; corrupt or '
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


#: Names of the transfer syntaxes named in messages.
TRANSFER_SYNTAXES = {
    '1.2.840.10008.1.2': 'Implicit VR Little Endian',
    '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
    '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
    '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
    '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
    '1.2.840.10008.1.2.4.51': 'JPEG Extended',
    '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
    '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
    '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
    '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-lossless',
    '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
    '1.2.840.10008.1.2.4.91': 'JPEG 2000',
    '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
    '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
    '1.2.840.10008.1.2.4.203': 'HTJ2K',
    '1.2.840.10008.1.2.5': 'RLE Lossless',
}


def _meta_transfer_syntax(path: str) -> Optional[str]:
    """TransferSyntaxUID (0002,0010) from the file meta information (the
    explicit little-endian group after the preamble), or None."""
    try:
        with open(path, 'rb') as f:
            head = f.read(1 << 14)
    except OSError:
        return None
    if head[128:132] != b'DICM':
        return None
    at = 132
    while at + 8 <= len(head):
        group, elem = struct.unpack('<HH', head[at:at + 4])
        if group != 0x0002:
            return None
        vr = head[at + 4:at + 6]
        if vr in (b'OB', b'OW', b'OF', b'SQ', b'UT', b'UN'):
            length = struct.unpack('<I', head[at + 8:at + 12])[0]
            start = at + 12
        else:
            length = struct.unpack('<H', head[at + 6:at + 8])[0]
            start = at + 8
        if elem == 0x0010:
            return head[start:start + length].decode('ascii',
                                                     'replace').strip('\x00 ')
        at = start + length
    return None


def transfer_syntax_of(path: str) -> str:
    """``'<UID> (<name>)'`` of a DICOM file, or ``'unknown'``."""
    uid = _meta_transfer_syntax(path)
    if not uid:
        return 'unknown'
    return f'{uid} ({TRANSFER_SYNTAXES.get(uid, "unlisted")})'


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
                    f'cannot decode DICOM file {f} (transfer syntax '
                    f'{transfer_syntax_of(f)}; unsupported compression, '
                    f'corrupt or truncated): {_last_line(e_file)}') from None
        raise VolumeError(f'cannot read DICOM series {uid} of {folder}: '
                          f'{_last_line(e)}') from None


def read_dicom_image(
        folder: str,
        series_uid: Optional[str] = None,
        member: Optional[str] = None) -> Tuple[sitk.Image, dict, List[str]]:
    """Read a DICOM series as one 3D image in its stored geometry.

    Args:
        folder: Folder of the series.
        series_uid: The series to read when the folder holds several.
        member: A file of the series to read (its UID chooses the series).

    Returns:
        tuple: The HU image (slices in position order), ``source`` =
        ``dict(kind='dicom', path=folder, series_uid=..., modality=...)``
        and the file name of every slice (empty for a multi-frame file).

    Raises:
        VolumeError: See :func:`list_dicom_series`, :func:`order_slices`;
            also no series, several series and no ``series_uid``, a file
            whose pixel data cannot be decoded (naming its transfer
            syntax), or a 2D/4D result.
    """
    if member is not None and series_uid is None:
        series_uid = _tag(_header(member), _SERIES_UID)
    series = list_dicom_series(folder)
    uid = _choose_series(folder, series, series_uid)
    files, modality = order_slices(series[uid])
    if modality and modality.upper() != 'CT':
        print_log(
            f'{folder}: series {uid} has modality {modality}, not CT; '
            'its values are not HU',
            logger='current',
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
    return image, dict(
        kind='dicom', path=folder, series_uid=uid, modality=modality), names


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
        VolumeError: See :func:`read_dicom_image`.
    """
    image, source, names = read_dicom_image(folder, series_uid, member)
    return volume_from_image(image, source, names)


def _folder_and_member(path: str) -> Tuple[str, Optional[str]]:
    if osp.isdir(path):
        return path, None
    return osp.dirname(path), path


@CT_READERS.register_module()
class DicomSeriesReader(BaseCTReader):
    """A DICOM series: a folder, or one DICOM file (its whole series is read
    from its folder). Option ``series_uid`` chooses the series of a folder
    holding several."""
    priority = 20
    options = ('series_uid', )

    def can_read(self, path: str) -> bool:
        if osp.isfile(path):
            return is_dicom_file(path)
        if not osp.isdir(path):
            return False
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return False
        return any(is_dicom_file(osp.join(path, n)) for n in names) or \
            bool(sitk.ImageSeriesReader.GetGDCMSeriesIDs(path))

    def read(self, path: str, series_uid: Optional[str] = None) -> CTVolume:
        folder, member = _folder_and_member(path)
        return read_dicom_series(folder, series_uid, member)

    def read_image(self,
                   path: str,
                   case_id: Optional[str] = None,
                   what: str = 'image',
                   series_uid: Optional[str] = None) -> sitk.Image:
        folder, member = _folder_and_member(path)
        return read_dicom_image(folder, series_uid, member)[0]
