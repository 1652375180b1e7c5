"""Writing label and probability volumes in the geometry of their source:
:func:`write_volume_in_source` for an array on the rows of a
:class:`~cspr_det.fileio.CTVolume` (inference), :func:`write_prediction`
for an array on a converted dataset grid (segmentation datasets)."""
import numpy as np
import SimpleITK as sitk

from .ct_volume import CTVolume
from .image_io import (geometry_difference, image_from_array, reference_image,
                       reorient, write_image)
from .resampling import resample_labels


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
    grid = image_from_array(
        label_array.astype(np.uint8), list(reversed(meta['spacing'])),
        meta['origin'], meta['direction'])
    return resample_labels(grid, meta['source'])


def write_prediction(path: str, label_array: np.ndarray, meta: dict) -> str:
    """Write a converted-grid prediction as NIfTI in the source geometry
    (atomic); see :func:`to_source_geometry`."""
    return write_image(to_source_geometry(label_array, meta), path)


def volume_to_source(array: np.ndarray,
                     volume: CTVolume,
                     fill: float = 0) -> sitk.Image:
    """An array on a :class:`CTVolume`'s canonical rows, as an image in the
    geometry of the volume's stored source (what a viewer shows for the
    input file: a NIfTI's own grid, a DICOM series, a PNG folder in slice
    number order).

    The rows are placed on the regular z grid (missing slices of a PNG
    folder take ``fill``) and the axes are permuted/flipped back to the
    source orientation, so no voxel is interpolated; a source grid that is
    not reached that way (an oblique direction) is resampled with the
    nearest voxel.

    Args:
        array: (D, H, W) labels or probabilities, one row per volume row,
            or (G, H, W) on the whole regular z grid (G = the grid depth,
            missing slices included).
        volume: The volume the array belongs to.
        fill: Value of grid slices the volume does not hold.

    Returns:
        sitk.Image: The array in the source's size, spacing, origin and
        direction (its dtype kept).
    """
    array = np.asarray(array)
    geo = volume.grid_geometry()
    size = geo['size_xyz']
    grid_shape = (size[2], size[1], size[0])
    if array.shape == grid_shape:
        grid = array
    elif array.shape == volume.hu.shape:
        grid = np.full(grid_shape, fill, array.dtype)
        grid[volume.grid_z - volume.grid_z[0]] = array
    else:
        raise ValueError(f'{volume.name}: array shape {array.shape} matches '
                         f'neither the volume rows {volume.hu.shape} nor '
                         f'its z grid {grid_shape}')
    image = image_from_array(grid, geo['spacing_xyz'], geo['origin'],
                             geo['direction'])
    source = volume.source['geometry']
    ref = reference_image(source, image.GetPixelID())
    out = reorient(image, volume.source.get('orientation', 'LPS'))
    if geometry_difference(out, ref) is None:
        out.CopyInformation(ref)
        return out
    return sitk.Resample(image, ref, sitk.Transform(),
                         sitk.sitkNearestNeighbor, fill, image.GetPixelID())


def write_volume_in_source(path: str,
                           array: np.ndarray,
                           volume: CTVolume,
                           fill: float = 0) -> str:
    """Write a label or probability array of a :class:`CTVolume` in the
    geometry of its source (see :func:`volume_to_source`; atomic)."""
    return write_image(volume_to_source(array, volume, fill), path)
