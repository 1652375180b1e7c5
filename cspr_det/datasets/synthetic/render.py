"""Rendering synthetic CT slices: phantom, soft-edged blobs, CT-like noise.

:func:`blend_blob` and :func:`correlated_noise` are the building blocks any
synthetic generator (DeepLesion slices here; volumes for segmentation or
nodule data) can share with :class:`~.phantom.Phantom`.
"""
from typing import TYPE_CHECKING, Tuple

import cv2
import numpy as np

from .phantom import blob_profile, ellipse_norm2, pixel_grid

if TYPE_CHECKING:  # pragma: no cover
    from .series_plan import SeriesPlan

#: HU range of the rendered slices (the 12-bit CT range)
HU_RANGE: Tuple[float, float] = (-1024.0, 3071.0)


def tube_centre(tube: dict, z: float) -> Tuple[float, float]:
    """In-plane centre (mm) of a tube at height ``z``.

    The centre starts at ``(x0, y0)`` at height ``zref`` and follows a sine
    along z per axis (amplitudes ``amp``, ``wavelength``, phases ``phase``).
    """
    out = []
    for i, c0 in enumerate((tube['x0'], tube['y0'])):
        ph = tube['phase'][i]
        out.append(c0 + tube['amp'][i] *
                   (np.sin(2 * np.pi *
                           (z - tube['zref']) / tube['wavelength'] + ph) -
                    np.sin(ph)))
    return float(out[0]), float(out[1])


def blend_blob(hu: np.ndarray, d2: np.ndarray, radius_mm: float,
               target: float) -> None:
    """Blend a soft-edged blob of HU ``target`` into a slice, in place.

    Args:
        hu (np.ndarray): (H, W) float32 HU, modified in place.
        d2 (np.ndarray): (H, W) normalised squared radius of the blob
            (< 1 inside, e.g. :func:`~.phantom.ellipse_norm2`, plus the
            squared normalised z offset for an ellipsoid).
        radius_mm (float): Radius setting the edge softness
            (:func:`~.phantom.blob_profile`).
        target (float): HU inside the blob.
    """
    s = blob_profile(np.sqrt(d2), radius_mm)
    hu += s * (target - hu)


def correlated_noise(shape: Tuple[int, int],
                     sigma_hu: float,
                     rng: np.random.Generator,
                     blur_px: float = 0.6) -> np.ndarray:
    """CT-like noise: white Gaussian noise blurred by ``blur_px`` pixels
    and rescaled to a standard deviation of ``sigma_hu``.

    Args:
        shape (tuple[int, int]): (H, W).
        sigma_hu (float): Standard deviation (HU).
        rng (np.random.Generator): Source of the noise.
        blur_px (float): Gaussian blur sigma in pixels.

    Returns:
        np.ndarray: (H, W) float32 noise.
    """
    noise = rng.standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), blur_px)
    noise *= sigma_hu / max(float(noise.std()), 1e-6)
    return noise


def render_series_slice(plan: 'SeriesPlan', k: int, seed: int) -> np.ndarray:
    """Render slice ``k`` of a planned series as HU (float32, with noise).

    Args:
        plan (SeriesPlan): The series.
        k (int): Slice index (1-based).
        seed (int): Dataset seed; the noise of a slice depends on the seed,
            the series and ``k`` only.

    Returns:
        np.ndarray: (size, size) float32 HU clipped to :data:`HU_RANGE`.
    """
    x, y = pixel_grid(plan.size, plan.spacing)
    z = plan.z0 - (k - 1) * plan.dz  # slice numbers run toward the feet
    hu, _, _ = plan.phantom.render(x, y, z)
    for les in plan.lesions:
        dzn = (z - les['cz']) / les['c']
        if abs(dzn) >= 1.3:
            continue
        d2 = ellipse_norm2(x, y, les['cx'], les['cy'], les['a'], les['b'],
                           les['theta']) + dzn**2
        blend_blob(hu, d2, les['b'], les['target'])
    for tube in plan.tubes:
        tx, ty = tube_centre(tube, z)
        d2 = ellipse_norm2(x, y, tx, ty, tube['a'], tube['b'], tube['theta'])
        blend_blob(hu, d2, tube['b'], tube['target'])
    rng = np.random.default_rng(
        [seed, plan.patient, plan.study, plan.series_id, k])
    hu += correlated_noise(hu.shape, plan.noise, rng)
    return np.clip(hu, *HU_RANGE)
