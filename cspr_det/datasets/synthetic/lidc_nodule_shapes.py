"""Synthetic lung nodules and vessels as soft 3D indicator fields.

A nodule is a rotated ellipsoid, optionally lobulated (smooth bulges
towards a few random directions) or spiculated (thin tapering spikes
radiating from the surface), with the soft edge of
:func:`~.phantom.blob_profile`. Fields are computed on a grid of
millimetre offsets from the nodule centre; values are in [0, 1] (1 inside).
"""
from typing import Dict, Tuple

import numpy as np

from .phantom import blob_profile

#: Nodule shapes and their margin irregularity (0 smooth .. 2 spiculated).
NODULE_KINDS = ('spheroid', 'lobulated', 'spiculated')
KIND_IRREGULARITY = dict(spheroid=0.0, lobulated=1.0, spiculated=2.0)


def mm_grid(size: int, spacing: float = 1.0) -> Tuple[np.ndarray, ...]:
    """(z, y, x) offsets in mm of the voxel centres of a cubic crop of
    ``size`` voxels per side from its centre, each (size, size, size)
    float32."""
    c = (np.arange(size, dtype=np.float32) - (size - 1) / 2) * spacing
    return tuple(np.meshgrid(c, c, c, indexing='ij'))


def _unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A random 3x3 rotation matrix (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def random_nodule(rng: np.random.Generator, kind: str,
                  diameter_mm: float) -> Dict[str, object]:
    """Draw the geometry of one nodule.

    Args:
        rng: Random source.
        kind: One of :data:`NODULE_KINDS`.
        diameter_mm: Mean diameter of the ellipsoidal body.

    Returns:
        dict: ``kind``, ``radius`` (mm), ``axes`` (3 relative semi-axes),
        ``rotation`` (3x3), ``lobes`` (directions and amplitudes),
        ``spikes`` (directions, lengths and radii in mm).
    """
    if kind not in NODULE_KINDS:
        raise ValueError(f'nodule kind must be one of {NODULE_KINDS}, got '
                         f'{kind!r}')
    r = diameter_mm / 2.0
    nodule = dict(
        kind=kind,
        radius=float(r),
        axes=rng.uniform(0.85, 1.15, size=3),
        rotation=_rotation(rng),
        lobe_dirs=np.zeros((0, 3)),
        lobe_amps=np.zeros(0),
        spike_dirs=np.zeros((0, 3)),
        spike_lengths=np.zeros(0),
        spike_radii=np.zeros(0))
    if kind in ('lobulated', 'spiculated'):
        n = int(rng.integers(3, 6))
        nodule['lobe_dirs'] = _unit_vectors(rng, n)
        nodule['lobe_amps'] = rng.uniform(
            0.3, 0.6, size=n) * (1.0 if kind == 'lobulated' else 0.5)
    if kind == 'spiculated':
        n = int(rng.integers(6, 13))
        nodule['spike_dirs'] = _unit_vectors(rng, n)
        nodule['spike_lengths'] = r * rng.uniform(0.6, 1.6, size=n) + 2.0
        nodule['spike_radii'] = rng.uniform(0.9, 1.6, size=n)
    return nodule


def _dot(grids: Tuple[np.ndarray, ...], v) -> np.ndarray:
    """``p . v`` for every grid point ``p = (z, y, x)``."""
    return grids[0] * np.float32(v[0]) + grids[1] * np.float32(
        v[1]) + grids[2] * np.float32(v[2])


def _segment_distance(grids: Tuple[np.ndarray, ...], norm2: np.ndarray,
                      direction: np.ndarray,
                      length: float) -> Tuple[np.ndarray, np.ndarray]:
    """Distance of the grid points to the segment from 0 to ``length *
    direction`` and the position ``t`` in [0, 1] of the nearest point."""
    proj = _dot(grids, direction)
    t = np.clip(proj / np.float32(length), 0.0, 1.0)
    d2 = norm2 - 2 * t * np.float32(length) * proj + (t *
                                                      np.float32(length))**2
    return np.sqrt(np.maximum(d2, 0.0)), t


def nodule_field(nodule: Dict[str, object],
                 zz: np.ndarray,
                 yy: np.ndarray,
                 xx: np.ndarray,
                 edge_mm: float = 0.8) -> np.ndarray:
    """Soft indicator of a nodule centred at the origin.

    Args:
        nodule: Output of :func:`random_nodule`.
        zz, yy, xx: Grids of mm offsets from the nodule centre.
        edge_mm: Width of the soft edge.

    Returns:
        np.ndarray: float32 field in [0, 1] of the grid's shape.
    """
    grids = tuple(np.asarray(g, np.float32) for g in (zz, yy, xx))
    rot = np.asarray(nodule['rotation'])
    r = float(nodule['radius'])
    axes = np.asarray(nodule['axes']) * r
    ell2 = sum(
        (_dot(grids, rot[:, i]) / np.float32(axes[i]))**2 for i in range(3))
    norm2 = grids[0]**2 + grids[1]**2 + grids[2]**2
    inv_norm = 1.0 / np.maximum(np.sqrt(norm2), 1e-6)
    bulge = np.ones(norm2.shape, np.float32)
    for v, a in zip(nodule['lobe_dirs'], nodule['lobe_amps']):
        bulge += np.float32(a) * np.exp(
            (_dot(grids, v) * inv_norm - 1.0) / np.float32(0.18))
    field = blob_profile(np.sqrt(ell2) / bulge, r, edge_mm)
    for v, length, rho in zip(nodule['spike_dirs'], nodule['spike_lengths'],
                              nodule['spike_radii']):
        dist, t = _segment_distance(grids, norm2, v, r + length)
        # full width inside the body, tapering to a point at the tip
        taper = rho * np.clip((1.0 - t) * (r + length) / length, 0.15, 1.0)
        spike = blob_profile(dist / taper, rho, edge_mm * 0.6)
        field = np.maximum(field, spike)
    return field.astype(np.float32)


def vessel_field(
    rng: np.random.Generator,
    zz: np.ndarray,
    yy: np.ndarray,
    xx: np.ndarray,
    num: int,
    radius_mm: Tuple[float, float] = (0.6, 2.2)) -> np.ndarray:
    """Soft indicator of ``num`` straight vessels crossing the crop.

    Each vessel is a line through a random point of the crop's central
    region, in a random direction, with a random radius.

    Returns:
        np.ndarray: float32 field in [0, 1].
    """
    half = float(np.max(np.abs(zz)))
    field = np.zeros(np.shape(zz), np.float32)
    for _ in range(num):
        p0 = rng.uniform(-0.7 * half, 0.7 * half, size=3)
        d = _unit_vectors(rng, 1)[0]
        rel = tuple(
            np.asarray(g, np.float32) - np.float32(o)
            for g, o in zip((zz, yy, xx), p0))
        proj = _dot(rel, d)
        dist = np.sqrt(
            np.maximum(rel[0]**2 + rel[1]**2 + rel[2]**2 - proj**2, 0.0))
        rad = float(rng.uniform(*radius_mm))
        field = np.maximum(field, blob_profile(dist / rad, rad, 0.5))
    return field.astype(np.float32)


__all__ = [
    'KIND_IRREGULARITY', 'NODULE_KINDS', 'mm_grid', 'nodule_field',
    'random_nodule', 'vessel_field'
]
