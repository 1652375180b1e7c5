"""95 % Hausdorff distance of binary masks in mm (pure numpy/scipy)."""
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage

#: 6-neighbourhood (faces) used to find surface voxels.
_STRUCTURE = ndimage.generate_binary_structure(3, 1)


def _bbox(mask: np.ndarray, margin: int) -> Tuple[slice, ...]:
    """Bounding box of the non-zero voxels grown by ``margin``."""
    out = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        out.append(
            slice(
                max(idx[0] - margin, 0),
                min(idx[-1] + 1 + margin, mask.shape[axis])))
    return tuple(out)


def surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: those of ``mask`` with a face neighbour outside it
    (the array border counts as outside).

    Args:
        mask: ``(D, H, W)`` boolean mask.

    Returns:
        np.ndarray: boolean mask of the surface voxels.
    """
    mask = np.asarray(mask, dtype=bool)
    return mask & ~ndimage.binary_erosion(
        mask, structure=_STRUCTURE, border_value=0)


def directed_surface_distances(a: np.ndarray, b: np.ndarray,
                               spacing: Sequence[float]) -> np.ndarray:
    """Distances (mm) from every surface voxel of ``a`` to the nearest
    surface voxel of ``b`` (both non-empty, same shape)."""
    dist_to_b = ndimage.distance_transform_edt(
        ~surface(b), sampling=tuple(float(s) for s in spacing))
    return dist_to_b[surface(a)]


def hausdorff_distance(pred: np.ndarray,
                       gt: np.ndarray,
                       spacing: Optional[Sequence[float]] = None,
                       percentile: Optional[float] = 95.0) -> float:
    """Percentile Hausdorff distance between two binary masks, in mm.

    Surface voxels are mask voxels with a face neighbour outside the mask.
    For each surface voxel of one mask the Euclidean distance (with the
    voxel ``spacing``) to the nearest surface voxel of the other is taken;
    the result is the larger of the two directed ``percentile``-th
    percentiles (linear interpolation; None: the maximum, i.e. the classic
    Hausdorff distance). This is the definition of MONAI's
    ``compute_hausdorff_distance(percentile=95)``.

    The work is restricted to the bounding box of both masks (plus one
    voxel), so whole CT volumes are cheap.

    Args:
        pred: ``(D, H, W)`` boolean mask.
        gt: ``(D, H, W)`` boolean mask.
        spacing: ``(z, y, x)`` voxel size in mm (default 1).
        percentile: In ``[0, 100]`` or None.

    Returns:
        float: the distance, NaN when either mask is empty.
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f'HD95: prediction {pred.shape} and ground truth '
                         f'{gt.shape} have different shapes')
    spacing = (1.0, ) * pred.ndim if spacing is None else tuple(spacing)
    if len(spacing) != pred.ndim or min(spacing) <= 0:
        raise ValueError(f'HD95: spacing must be {pred.ndim} positive '
                         f'numbers, got {spacing}')
    if percentile is not None and not 0 <= percentile <= 100:
        raise ValueError(
            f'HD95: percentile must be in [0, 100], got {percentile}')
    if not pred.any() or not gt.any():
        return float('nan')
    box = _bbox(pred | gt, margin=1)
    pred, gt = pred[box], gt[box]
    d_pg = directed_surface_distances(pred, gt, spacing)
    d_gp = directed_surface_distances(gt, pred, spacing)
    if percentile is None:
        return float(max(d_pg.max(), d_gp.max()))
    return float(
        max(np.percentile(d_pg, percentile), np.percentile(d_gp, percentile)))
