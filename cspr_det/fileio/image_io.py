"""3D image files with SimpleITK: NIfTI checks, reading and (atomic) writing,
ITK geometry helpers and the canonical reorientation (resampling is in
:mod:`.resampling`, the mapping back to a source grid in
:mod:`.source_geometry_writer`).

Conventions (all functions):

- ITK order for geometry: ``size_xyz``, ``spacing_xyz``, ``origin`` (mm, LPS
  physical coordinates of voxel (0, 0, 0)) and ``direction`` (9 floats,
  row-major; column ``k`` is the physical direction of array axis ``k``).
- Numpy arrays are (D, H, W) = (z, y, x), as ``sitk.GetArrayFromImage``
  returns them, and the ``spacing`` of a converted case is (z, y, x).
- The canonical orientation of converted cases is ITK ``'LPS'``
  (:data:`CANONICAL_ORIENTATION`): W runs to the patient's left, H to
  posterior, D to superior, the usual radiological display of a slice.

SimpleITK reads a truncated NIfTI file without an error (the missing voxels
come back as zeros); :func:`check_nifti_file` therefore compares the stored
data length with the header before a file is used.
"""
import gzip
import os
import os.path as osp
import struct
import tempfile
import zlib
from typing import Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk

from .volume_error import VolumeError

#: ITK orientation code of converted arrays (+x left, +y posterior, +z up).
CANONICAL_ORIENTATION = 'LPS'

Spacing = Sequence[Optional[float]]


def _case(case_id: Optional[str]) -> str:
    return f'{case_id}: ' if case_id else ''


# --------------------------------------------------------------------- #
# file checks and reading
# --------------------------------------------------------------------- #
def _nifti_expected_bytes(header: bytes, path: str) -> Optional[int]:
    """Bytes a single-file NIfTI-1/2 should hold (header + data), or None
    when the header is not NIfTI (other formats are left to SimpleITK)."""
    if len(header) < 348:
        raise VolumeError(f'{path} is not a NIfTI file (header of '
                          f'{len(header)} bytes, truncated)')
    for endian in '<>':
        size = struct.unpack(endian + 'i', header[:4])[0]
        if size == 348 and header[344:347] in (b'n+1', b'ni1'):
            if header[344:347] == b'ni1':
                raise VolumeError(f'{path} is a two-file NIfTI (.hdr/.img); '
                                  'convert it to a single .nii first')
            dims = struct.unpack(endian + '8h', header[40:56])
            bitpix = struct.unpack(endian + 'h', header[72:74])[0]
            offset = int(struct.unpack(endian + 'f', header[108:112])[0])
            break
        if size == 540 and len(header) >= 540 and header[4:7] == b'n+2':
            bitpix = struct.unpack(endian + 'h', header[14:16])[0]
            dims = struct.unpack(endian + '8q', header[16:80])
            offset = struct.unpack(endian + 'q', header[168:176])[0]
            break
    else:
        return None
    ndim = int(dims[0])
    if not 1 <= ndim <= 7 or any(d < 1 for d in dims[1:ndim + 1]):
        raise VolumeError(f'{path}: invalid NIfTI dimensions {dims}')
    n = int(np.prod([int(d) for d in dims[1:ndim + 1]], dtype=np.int64))
    return max(offset, 348) + n * int(bitpix) // 8


def check_nifti_file(path: str,
                     case_id: Optional[str] = None,
                     what: str = 'image') -> None:
    """Check that a ``.nii``/``.nii.gz`` file is complete.

    Reads the header, then compares the stored length (for gzip files the
    decompressed stream, whose CRC is verified) with header + data size.

    Raises:
        VolumeError: Missing file, not NIfTI, corrupt gzip stream or fewer
            bytes than the header announces.
    """
    if not osp.isfile(path):
        raise VolumeError(f'{_case(case_id)}{what} file not found: {path}')
    with open(path, 'rb') as f:
        gz = f.read(2) == b'\x1f\x8b'
    try:
        if gz:
            with gzip.open(path, 'rb') as f:
                header = f.read(540)
                expected = _nifti_expected_bytes(header, path)
                total = len(header)
                while True:
                    chunk = f.read(1 << 22)
                    if not chunk:
                        break
                    total += len(chunk)
        else:
            with open(path, 'rb') as f:
                header = f.read(540)
            expected = _nifti_expected_bytes(header, path)
            total = osp.getsize(path)
    except VolumeError as e:
        raise VolumeError(f'{_case(case_id)}{what} {e}') from None
    except (EOFError, OSError, zlib.error) as e:
        raise VolumeError(f'{_case(case_id)}{what} {path} is truncated or '
                          f'corrupt ({type(e).__name__}: {e})') from None
    if expected is not None and total < expected:
        raise VolumeError(f'{_case(case_id)}{what} {path} is truncated: '
                          f'{total} of {expected} bytes')


def read_image(path: str,
               case_id: Optional[str] = None,
               what: str = 'image',
               check: bool = True) -> sitk.Image:
    """Read a 3D scalar image with SimpleITK.

    Args:
        path: ``.nii``, ``.nii.gz`` or any format SimpleITK reads.
        case_id: Case name for error messages.
        what: ``'image'`` or ``'label'`` for error messages.
        check: Run :func:`check_nifti_file` first (NIfTI files only).

    Returns:
        sitk.Image: The 3D image (a trailing singleton 4th axis is dropped).

    Raises:
        VolumeError: Missing, truncated or unreadable file, or not a 3D
            scalar volume.
    """
    if not osp.isfile(path):
        raise VolumeError(f'{_case(case_id)}{what} file not found: {path}')
    if check and path.endswith(('.nii', '.nii.gz')):
        check_nifti_file(path, case_id, what)
    try:
        image = sitk.ReadImage(path)
    except RuntimeError as e:
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        raise VolumeError(f'{_case(case_id)}cannot read {what} {path}: '
                          f'{lines[-1] if lines else e}') from None
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeError(
            f'{_case(case_id)}{what} {path} is not a 3D scalar volume '
            f'(size {image.GetSize()}, '
            f'{image.GetNumberOfComponentsPerPixel()} components)')
    return image


def geometry_of(image: sitk.Image) -> dict:
    """Geometry of an image in ITK order (JSON-serialisable).

    Returns:
        dict: ``size_xyz`` (3 ints), ``spacing_xyz``, ``origin`` and
        ``direction`` (9 floats, row-major).
    """
    return dict(
        size_xyz=[int(v) for v in image.GetSize()],
        spacing_xyz=[float(v) for v in image.GetSpacing()],
        origin=[float(v) for v in image.GetOrigin()],
        direction=[float(v) for v in image.GetDirection()])


def image_from_array(array: np.ndarray, spacing_xyz: Sequence[float],
                     origin: Sequence[float],
                     direction: Sequence[float]) -> sitk.Image:
    """A SimpleITK image from a (D, H, W) array and ITK geometry."""
    if array.ndim != 3:
        raise ValueError(
            f'expected a (D, H, W) array, got shape {array.shape}')
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing([float(v) for v in spacing_xyz])
    image.SetOrigin([float(v) for v in origin])
    image.SetDirection([float(v) for v in direction])
    return image


def reference_image(geometry: dict,
                    pixel_type: int = sitk.sitkUInt8) -> sitk.Image:
    """An empty image on the grid of ``geometry`` (see :func:`geometry_of`)."""
    ref = sitk.Image([int(v) for v in geometry['size_xyz']], pixel_type)
    ref.SetSpacing([float(v) for v in geometry['spacing_xyz']])
    ref.SetOrigin([float(v) for v in geometry['origin']])
    ref.SetDirection([float(v) for v in geometry['direction']])
    return ref


def geometry_difference(a: sitk.Image,
                        b: sitk.Image,
                        tol: float = 1e-3) -> Optional[str]:
    """Describe how the grids of ``a`` and ``b`` differ, or None if equal.

    Spacing and origin are compared with a tolerance of ``tol`` mm (plus
    ``tol`` relative), direction cosines with ``tol``.
    """
    if a.GetSize() != b.GetSize():
        return f'size {a.GetSize()} vs {b.GetSize()}'
    for name, get in (('spacing', 'GetSpacing'), ('origin', 'GetOrigin'),
                      ('direction', 'GetDirection')):
        va = np.asarray(getattr(a, get)())
        vb = np.asarray(getattr(b, get)())
        if not np.allclose(va, vb, rtol=tol, atol=tol):
            return f'{name} {_fmt(va)} vs {_fmt(vb)}'
    return None


def _fmt(values) -> str:
    return '(' + ', '.join(f'{v:.4g}' for v in values) + ')'


def orientation_of(image: sitk.Image) -> str:
    """ITK orientation code (e.g. ``'LPS'``, ``'RAS'``) of the nearest
    axis-aligned orientation of ``image``."""
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(
        image.GetDirection())


def reorient(image: sitk.Image,
             orientation: str = CANONICAL_ORIENTATION) -> sitk.Image:
    """Permute/flip the array axes so the image has ``orientation``.

    No voxel is interpolated: only the storage order changes, the physical
    position of every voxel is kept (oblique direction cosines stay oblique;
    the nearest axis-aligned orientation is made ``orientation``).
    """
    return sitk.DICOMOrient(image, orientation)


# --------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------- #
def _tmp_sibling(path: str) -> str:
    """A temporary file name next to ``path`` with the same extension."""
    d, base = osp.split(osp.abspath(path))
    ext = '.nii.gz' if base.endswith('.nii.gz') else osp.splitext(base)[1]
    fd, tmp = tempfile.mkstemp(prefix=f'.{base}.', suffix='.tmp' + ext, dir=d)
    os.close(fd)
    return tmp


def write_image(image: sitk.Image, path: str, compress: bool = True) -> str:
    """Write ``image`` atomically (temporary file, then rename)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        sitk.WriteImage(image, tmp, compress)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def read_volume(path: str,
                case_id: Optional[str] = None,
                what: str = 'image') -> Tuple[np.ndarray, dict]:
    """Read a volume as a (D, H, W) array and its ITK geometry."""
    image = read_image(path, case_id, what)
    return sitk.GetArrayFromImage(image), geometry_of(image)


def write_volume(path: str, array: np.ndarray, geometry: dict) -> str:
    """Write a (D, H, W) array with the ITK ``geometry`` (atomic)."""
    shape = tuple(int(v) for v in reversed(geometry['size_xyz']))
    if 'size_xyz' in geometry and array.shape != shape:
        raise ValueError(f'array shape {array.shape} does not match the '
                         f'geometry size (D, H, W) = {shape}')
    return write_image(
        image_from_array(array, geometry['spacing_xyz'], geometry['origin'],
                         geometry['direction']), path)
