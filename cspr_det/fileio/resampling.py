"""Resampling of CT images and label maps onto another grid (ITK geometry
dicts, see :func:`~cspr_det.fileio.image_io.geometry_of`)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk

from .image_io import Spacing, geometry_of, reference_image


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
        counts = np.bincount(
            label.astype(np.uint8, copy=False).ravel(), minlength=256)
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
        1 for k in range(3) if src['size_xyz'][k] != geometry['size_xyz'][k]
        or abs(src['spacing_xyz'][k] - geometry['spacing_xyz'][k]) > 1e-9)
    same_frame = np.allclose(src['origin'], geometry['origin']) and \
        np.allclose(src['direction'], geometry['direction'])
    label = sitk.Cast(label, sitk.sitkUInt8)
    if changed <= 1 and same_frame:
        return sitk.Resample(label, ref, sitk.Transform(),
                             sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8, True)
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
