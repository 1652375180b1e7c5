"""The one entry point for CT input: :func:`read_ct_volume` asks the
registered readers (:data:`cspr_det.registry.CT_READERS`) which one reads a
path and uses it."""
import logging
import os.path as osp
from typing import List, Optional, Union

import SimpleITK as sitk
from mmengine.logging import print_log

from cspr_det.registry import CT_READERS
from .base_ct_reader import BaseCTReader
from .ct_volume import CTVolume
from .volume_error import VolumeError


def ct_readers() -> List[BaseCTReader]:
    """One instance of every registered reader, in dispatch order
    (increasing ``priority``, then name)."""
    CT_READERS.import_from_location()
    readers = [cls() for cls in CT_READERS.module_dict.values()]
    return sorted(readers, key=lambda r: (r.priority, r.name))


def find_reader(path: str, reader: Optional[str] = None) -> BaseCTReader:
    """The reader for ``path``: the one named ``reader``, else the first
    registered reader whose ``can_read`` accepts it.

    Raises:
        VolumeError: Missing path, unknown reader name, or no reader for
            the path.
    """
    if not osp.exists(path):
        raise VolumeError(f'CT input not found: {path}')
    readers = ct_readers()
    if reader is not None:
        named = [r for r in readers if r.name == reader]
        if not named:
            raise VolumeError(f'unknown CT reader {reader!r}; registered: '
                              f'{[r.name for r in readers]}')
        return named[0]
    for candidate in readers:
        if candidate.can_read(path):
            return candidate
    if osp.isdir(path):
        raise VolumeError(f'no readable CT series in {path}: no DICOM '
                          'series and no DeepLesion PNG slices (NNN.png)')
    raise VolumeError(f'no CT reader reads {path} (readers: '
                      f'{", ".join(r.name for r in readers)})')


def _options(chosen: BaseCTReader, path: str, options: dict) -> dict:
    kept = {}
    for key, value in options.items():
        if key in chosen.options:
            kept[key] = value
        elif value is not None:
            print_log(
                f'{key} is not used for {path} ({chosen.name} reads '
                'it from the input)',
                logger='current',
                level=logging.WARNING)
    return kept


def read_ct_volume(path: str,
                   series_uid: Optional[str] = None,
                   spacing=None,
                   reader: Optional[str] = None,
                   **options) -> CTVolume:
    """Read a CT scan into a :class:`CTVolume` (HU, canonical LPS order).

    Args:
        path: A 3D image file (``.nii``/``.nii.gz``, ``.nrrd``, ``.mha``,
            ...), a DICOM series folder, a DICOM file (its whole series is
            read from its folder), a DeepLesion PNG series folder
            (``NNN.png``, uint16 = HU + 32768), or anything a registered
            reader accepts.
        series_uid: SeriesInstanceUID to read when a DICOM folder holds
            several.
        spacing: (x, y, z) mm of a PNG series; read from a ``DL_info.csv``
            next to the folder (or one or two levels up) when not given.
        reader: Name of the reader to use (default: the first registered
            reader that accepts ``path``).
        **options: Options of other readers (passed to the chosen reader
            when it takes them; a warning names the ones it ignores).

    Returns:
        CTVolume: The volume.

    Raises:
        VolumeError: One line naming the file or folder and what is wrong
            (missing, no readable series, several series and no
            ``series_uid``, corrupt or truncated file, not 3D, ...).
    """
    path = osp.abspath(osp.expanduser(str(path)))
    chosen = find_reader(path, reader)
    options = dict(options, series_uid=series_uid, spacing=spacing)
    return chosen.read(path, **_options(chosen, path, options))


def as_ct_volume(scan: Union[str, CTVolume],
                 series_uid: Optional[str] = None,
                 spacing=None) -> CTVolume:
    """``scan`` itself when it is already a :class:`CTVolume`, else
    :func:`read_ct_volume` of it: what every inference function takes.

    Args:
        scan: A :class:`CTVolume` or anything :func:`read_ct_volume` reads.
        series_uid: See :func:`read_ct_volume`.
        spacing: See :func:`read_ct_volume`.

    Returns:
        CTVolume: The volume.
    """
    if isinstance(scan, CTVolume):
        return scan
    return read_ct_volume(str(scan), series_uid, spacing)


def read_ct_image(path: str,
                  case_id: Optional[str] = None,
                  what: str = 'image',
                  **options) -> sitk.Image:
    """Read a CT scan as one 3D SimpleITK image in its stored geometry (HU):
    an image file or a DICOM series folder; used by the dataset converters.

    Args:
        path: The input (see :func:`read_ct_volume`).
        case_id: Case name put in front of error messages.
        what: What the input is (``'image'``, ``'label'``) for messages.
        **options: Reader options (``series_uid``).

    Raises:
        VolumeError: As :func:`read_ct_volume`, or the chosen reader gives
            no single image.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    prefix = f'{case_id}: ' if case_id else ''
    try:
        if not osp.exists(path):
            raise VolumeError(f'{what} file not found: {path}')
        chosen = find_reader(path)
        return chosen.read_image(path, case_id, what,
                                 **_options(chosen, path, options))
    except VolumeError as e:
        msg = str(e)
        raise VolumeError(msg if msg.startswith(prefix) else prefix + msg) \
            from None
