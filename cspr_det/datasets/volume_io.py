"""Volume I/O for 3D segmentation: NIfTI reading and writing with SimpleITK,
file checks, canonical reorientation, resampling, and the inverse mapping of
a prediction on the converted grid back to the source geometry (the
conversion of whole cases is in :mod:`.volume_converter`).

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
from typing import List, Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk

#: ITK orientation code of converted arrays (+x left, +y posterior, +z up).
CANONICAL_ORIENTATION = 'LPS'

Spacing = Sequence[Optional[float]]


class VolumeError(ValueError):
    """Bad input volume; the message is one line naming the case and what is
    wrong."""


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


def check_nifti_file(path: str, case_id: Optional[str] = None,
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


def geometry_difference(a: sitk.Image, b: sitk.Image,
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
# resampling
# --------------------------------------------------------------------- #
def parse_spacing(values: Sequence) -> Tuple[Optional[float], ...]:
    """Target spacing from 3 command-line strings (z, y, x); ``'none'``
    keeps an axis."""
    if len(values) != 3:
        raise ValueError(f'spacing needs 3 values (z y x), got {values!r}')
    out: List[Optional[float]] = []
    for v in values:
        if v is None or str(v).lower() in ('none', 'keep', '-'):
            out.append(None)
            continue
        out.append(float(v))
        if not out[-1] > 0:
            raise ValueError(f'spacing must be > 0 mm, got {v}')
    return tuple(out)


def target_grid(image: sitk.Image, spacing_zyx: Spacing) -> dict:
    """The grid of ``image`` resampled to ``spacing_zyx``.

    ``None`` entries keep the axis unchanged. The first voxel keeps its
    position and the new grid stays inside the old one:
    ``n' = floor((n - 1) * s / s') + 1``.

    Args:
        image: Source image.
        spacing_zyx: Target (z, y, x) spacing in mm, ``None`` = keep.

    Returns:
        dict: Geometry (see :func:`geometry_of`).
    """
    if len(spacing_zyx) != 3:
        raise ValueError(f'target spacing must have 3 values (z, y, x; None '
                         f'keeps an axis), got {spacing_zyx!r}')
    geo = geometry_of(image)
    size, spacing = list(geo['size_xyz']), list(geo['spacing_xyz'])
    for axis, target in enumerate(reversed(list(spacing_zyx))):
        if target is None or abs(float(target) - spacing[axis]) < 1e-6:
            continue
        if not float(target) > 0:
            raise ValueError(f'target spacing must be > 0, got {target}')
        extent = (size[axis] - 1) * spacing[axis]
        size[axis] = int(np.floor(extent / float(target) + 1e-6)) + 1
        spacing[axis] = float(target)
    geo.update(size_xyz=size, spacing_xyz=spacing)
    return geo


def label_values_of(label: np.ndarray) -> List[int]:
    """Sorted distinct values of an integer label array (bincount for
    values in 0-255, which is much faster than ``np.unique``)."""
    lo, hi = label.min(), label.max()
    if lo >= 0 and hi <= 255:
        counts = np.bincount(label.astype(np.uint8, copy=False).ravel(),
                             minlength=256)
        return [int(v) for v in np.flatnonzero(counts)]
    return [int(v) for v in np.unique(label)]


def resample_intensity(image: sitk.Image, geometry: dict) -> sitk.Image:
    """Linear resampling onto ``geometry`` (float32 output)."""
    return sitk.Resample(image, reference_image(geometry, sitk.sitkFloat32),
                         sitk.Transform(), sitk.sitkLinear, -1024.0,
                         sitk.sitkFloat32, True)


def resample_labels(label: sitk.Image, geometry: dict) -> sitk.Image:
    """Resample a label map onto ``geometry`` (uint8 output).

    Every label's indicator is interpolated linearly and each voxel takes
    the label with the largest value (what nnU-Net does with one-hot
    labels); points outside the source grid take the nearest voxel. When
    the grids differ along at most one axis this equals nearest-neighbour
    interpolation (except for exact ties), which is used then to save
    memory.
    """
    ref = reference_image(geometry, sitk.sitkUInt8)
    src = geometry_of(label)
    changed = sum(
        1 for k in range(3)
        if src['size_xyz'][k] != geometry['size_xyz'][k]
        or abs(src['spacing_xyz'][k] - geometry['spacing_xyz'][k]) > 1e-9)
    same_frame = np.allclose(src['origin'], geometry['origin']) and \
        np.allclose(src['direction'], geometry['direction'])
    label = sitk.Cast(label, sitk.sitkUInt8)
    if changed <= 1 and same_frame:
        return sitk.Resample(label, ref, sitk.Transform(),
                             sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8,
                             True)
    values = label_values_of(sitk.GetArrayViewFromImage(label))
    best = None
    out = None
    for value in values:
        mask = sitk.Cast(label == int(value), sitk.sitkFloat32)
        res = sitk.GetArrayFromImage(
            sitk.Resample(mask, ref, sitk.Transform(), sitk.sitkLinear, 0.0,
                          sitk.sitkFloat32, True))
        if best is None:
            best = res
            out = np.full(res.shape, value, np.uint8)
        else:
            better = res > best
            best[better] = res[better]
            out[better] = value
    result = sitk.GetImageFromArray(out)
    result.CopyInformation(ref)
    return result


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


def read_volume(path: str, case_id: Optional[str] = None,
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


# --------------------------------------------------------------------- #
# back to the source geometry
# --------------------------------------------------------------------- #
def to_source_geometry(label_array: np.ndarray, meta: dict) -> sitk.Image:
    """Map a label array on the converted grid back to the source grid.

    The inverse of :func:`convert_case`'s mapping: the array is placed on
    its converted grid (``meta['spacing']`` (z, y, x), ``meta['origin']``,
    ``meta['direction']``) and resampled (:func:`resample_labels`) onto the
    source grid of ``meta['source']`` in physical space, which undoes the
    reorientation and the resampling. The result loads in any viewer
    aligned with the source image.

    Args:
        label_array: (D, H, W) integer labels on the converted grid.
        meta: A case's index entry or sample metainfo with ``spacing``,
            ``origin``, ``direction`` and ``source``.

    Returns:
        sitk.Image: uint8 labels with the source size, spacing, origin and
        direction.
    """
    for key in ('spacing', 'origin', 'direction', 'source'):
        if key not in meta:
            raise KeyError(f'to_source_geometry needs meta[{key!r}] (the '
                           'converted index entry of the case)')
    label_array = np.asarray(label_array)
    if label_array.ndim != 3:
        raise ValueError(f'expected a (D, H, W) label array, got shape '
                         f'{label_array.shape}')
    if label_array.min() < 0 or label_array.max() > 255:
        raise ValueError('labels must be in 0-255 to be written as uint8')
    grid = image_from_array(label_array.astype(np.uint8),
                            list(reversed(meta['spacing'])), meta['origin'],
                            meta['direction'])
    return resample_labels(grid, meta['source'])


def write_prediction(path: str, label_array: np.ndarray,
                     meta: dict) -> str:
    """Write a converted-grid prediction as NIfTI in the source geometry
    (atomic); see :func:`to_source_geometry`."""
    return write_image(to_source_geometry(label_array, meta), path)
