"""Rendering one synthetic LIDC nodule crop: lung background from the body
phantom, vessels, the nodule, CT-like blur and noise, reader masks and
ratings."""
from typing import Dict, List, Tuple

import numpy as np
from scipy import ndimage

from .lidc_nodule_shapes import (KIND_IRREGULARITY, NODULE_KINDS, mm_grid,
                                 nodule_field, random_nodule, vessel_field)
from .phantom import LUNG, Phantom, pixel_grid, tissue_hu

#: HU window stored as uint8 0-255 in the synthetic ``voxel`` arrays.
VOXEL_WINDOW = (-1024.0, 400.0)
#: Phantom heights (mm) searched for nodule positions (the chest).
CHEST_Z = (440.0, 600.0)


def sample_properties(rng: np.random.Generator) -> Dict[str, object]:
    """Kind, size, calcification, texture and latent malignancy.

    The latent malignancy grows with the diameter (the main cue) and the
    margin irregularity (spheroid < lobulated < spiculated), falls with a
    benign (central) calcification, plus Gaussian noise; the readers' 1-5
    ratings scatter around it (:func:`reader_ratings`). Without mode-3
    nodules about 31 % are malignant; the diameter alone separates the
    classes with an AUC of about 0.97, diameter and margin with about
    0.998 (5,000 draws, four readers as in the generator's mix).
    """
    kind = str(rng.choice(NODULE_KINDS, p=(0.5, 0.3, 0.2)))
    diameter = float(np.clip(rng.lognormal(np.log(9.0), 0.5), 4.0, 30.0))
    calcified = bool(kind == 'spheroid' and rng.random() < 0.25)
    ground_glass = bool(not calcified and rng.random() < 0.12)
    latent = (-0.5 + 0.28 * diameter + 0.6 * KIND_IRREGULARITY[kind] -
              1.5 * calcified + 0.3 * ground_glass +
              float(rng.normal(0.0, 0.3)))
    return dict(
        kind=kind,
        diameter_mm=diameter,
        calcified=calcified,
        ground_glass=ground_glass,
        latent=latent)


def reader_ratings(rng: np.random.Generator, latent: float,
                   num_readers: int) -> List[int]:
    """1-5 malignancy ratings of ``num_readers`` readers."""
    return [
        int(np.clip(np.rint(latent + rng.normal(0.0, 0.5)), 1, 5))
        for _ in range(num_readers)
    ]


def rating_mode(ratings: List[int]) -> int:
    """Most frequent rating; ties go to the value nearest the mean rating,
    then to the lower one."""
    values, counts = np.unique(ratings, return_counts=True)
    best = values[counts == counts.max()]
    mean = float(np.mean(ratings))
    return int(min(best, key=lambda v: (abs(v - mean), v)))


def lung_position(rng: np.random.Generator, phantom: Phantom,
                  margin_mm: float) -> Tuple[float, float, float]:
    """A (z, y, x) point in mm inside a lung of ``phantom``, at least
    ``margin_mm`` from the lung boundary when possible (else the deepest
    point of the slice)."""
    x, y = pixel_grid(128, 3.0)
    for _ in range(20):
        z = float(rng.uniform(*CHEST_Z))
        labels, _, _ = phantom.label_map(x, y, z)
        lung = labels == LUNG
        if lung.sum() < 50:
            continue
        depth = ndimage.distance_transform_edt(lung) * 3.0
        ok = np.argwhere(depth >= margin_mm)
        if not len(ok):
            ok = np.argwhere(depth >= depth.max() - 1e-6)
        i, j = ok[int(rng.integers(len(ok)))]
        return z, float(y[i, j]), float(x[i, j])
    raise RuntimeError('no lung found in the phantom chest')


def _background(phantom: Phantom, centre: Tuple[float, float, float],
                grids: Tuple[np.ndarray, ...]) -> np.ndarray:
    """Phantom HU of the crop, slice by slice along z."""
    zz, yy, xx = grids
    cz, cy, cx = centre
    hu = np.empty(zz.shape, np.float32)
    for k in range(zz.shape[0]):
        labels, tex, _ = phantom.label_map(xx[k] + cx, yy[k] + cy,
                                           float(zz[k, 0, 0] + cz))
        hu[k] = tissue_hu(labels, tex)
    return hu


def reader_masks(rng: np.random.Generator, field: np.ndarray,
                 num_readers: int) -> List[np.ndarray]:
    """Masks of readers 1-4: the soft nodule field thresholded at a
    reader-specific level in [0.3, 0.7]; readers beyond ``num_readers``
    get an empty mask. Reader 1 always marks the nodule."""
    masks = []
    for k in range(4):
        if k < num_readers:
            m = field > rng.uniform(0.3, 0.7)
            if not m.any():
                m = field >= field.max()
        else:
            m = np.zeros(field.shape, bool)
        masks.append(m.astype(np.uint8))
    return masks


def render_nodule_crop(rng: np.random.Generator, phantom: Phantom,
                       props: Dict[str, object],
                       size: int) -> Tuple[np.ndarray, np.ndarray, dict]:
    """Render the crop of one nodule.

    Args:
        rng: Random source of this nodule.
        phantom: The patient's body phantom.
        props: :func:`sample_properties`.
        size: Crop edge in voxels (1 mm isotropic).

    Returns:
        tuple: ``voxel`` (size^3 uint8, HU in :data:`VOXEL_WINDOW` scaled
        to 0-255), the soft nodule field (float32, before blur) and a dict
        of the geometry (``centre_mm``, ``offset_mm``, ``nodule``).
    """
    nodule = random_nodule(rng, props['kind'], props['diameter_mm'])
    margin = 0.5 * props['diameter_mm'] + 3.0
    if rng.random() < 0.15:  # some juxtapleural nodules
        margin = 0.3 * props['diameter_mm']
    centre = lung_position(rng, phantom, margin)
    grids = mm_grid(size)
    offset = rng.uniform(-1.5, 1.5, size=3)  # annotation centre vs nodule
    local = tuple(g - o for g, o in zip(grids, offset))
    hu = _background(phantom, centre, grids)
    lungish = hu < -500
    vessels = vessel_field(rng, *grids, num=int(rng.integers(2, 6)))
    hu += vessels * lungish * (40.0 - hu)
    field = nodule_field(nodule, *local)
    if props['ground_glass']:
        target = rng.uniform(-600.0, -350.0)
    else:
        target = rng.uniform(-20.0, 60.0)
    hu += field * (target - hu)
    if props['calcified']:
        core = nodule_field(
            dict(nodule, radius=nodule['radius'] * rng.uniform(0.35, 0.7)),
            *local)
        hu += core * (rng.uniform(300.0, 700.0) - hu)
    hu = ndimage.gaussian_filter(hu, 0.6)
    noise = ndimage.gaussian_filter(
        rng.standard_normal(hu.shape).astype(np.float32), 0.7)
    hu += noise * (rng.uniform(18.0, 32.0) / max(float(noise.std()), 1e-6))
    lo, hi = VOXEL_WINDOW
    voxel = np.clip(np.rint((hu - lo) * (255.0 / (hi - lo))), 0, 255)
    return voxel.astype(np.uint8), field, dict(
        centre_mm=centre, offset_mm=offset.tolist(), nodule=nodule)


__all__ = [
    'CHEST_Z', 'VOXEL_WINDOW', 'lung_position', 'rating_mode', 'reader_masks',
    'reader_ratings', 'render_nodule_crop', 'sample_properties'
]
