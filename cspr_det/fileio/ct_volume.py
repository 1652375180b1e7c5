"""One CT scan in memory: :class:`CTVolume`, the volume type every reader of
:mod:`cspr_det.fileio` returns.

Every input ends up the same way: a (D, H, W) float32 array of Hounsfield
units in the canonical storage order of
:data:`~cspr_det.fileio.image_io.CANONICAL_ORIENTATION` (``'LPS'``: W runs
to the patient's left, H to posterior, D to superior, i.e. row 0 is the
slice nearest the feet; only axes are permuted/flipped, no voxel is
interpolated), with its spacing, origin and direction in ITK conventions,
and the geometry of the stored source so that results can be mapped back
to it.
"""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np
import SimpleITK as sitk

from .image_io import (CANONICAL_ORIENTATION, geometry_of, orientation_of,
                       reorient)
from .volume_error import VolumeError


@dataclass
class CTVolume:
    """A CT volume in HU on its canonical grid.

    Attributes:
        hu: (D, H, W) float32 Hounsfield units, canonical (LPS) order.
        spacing: (x, y, z) voxel size in mm.
        origin: World (LPS, mm) position of voxel (0, 0, 0) of the z grid.
        direction: 9 direction cosines, row-major (column k = axis k).
        grid_z: (D,) int position of every array row on the regular z grid
            (``arange(D)`` unless slices are missing, e.g. a DeepLesion
            folder holding several runs of slices around its key slices).
        source: ``kind`` (``'nifti'``, ``'image'`` (another 3D file
            format), ``'dicom'`` or ``'png'``), ``path``,
            ``geometry`` (ITK geometry of the stored source, see
            :func:`~cspr_det.fileio.image_io.geometry_of`) and
            ``orientation`` (its ITK orientation code); DICOM adds
            ``series_uid``, PNG folders ``first_index``.
        slice_names: Name of the source file of every row (DICOM and PNG
            series), else empty.
    """
    hu: np.ndarray
    spacing: Tuple[float, float, float]
    origin: Tuple[float, float, float]
    direction: Tuple[float, ...]
    grid_z: np.ndarray
    source: dict
    slice_names: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.hu.ndim != 3 or self.hu.shape[0] < 1:
            raise VolumeError(f'{self.name}: expected a (D, H, W) volume, '
                              f'got shape {self.hu.shape}')
        self.grid_z = np.asarray(self.grid_z, dtype=np.int64)
        if self.grid_z.shape != (self.hu.shape[0], ) or \
                np.any(np.diff(self.grid_z) < 1):
            raise VolumeError(f'{self.name}: grid_z must increase and hold '
                              f'one entry per slice')

    @property
    def name(self) -> str:
        """The source path (for messages)."""
        return str(self.source.get('path', '<array>'))

    @property
    def num_slices(self) -> int:
        """D."""
        return int(self.hu.shape[0])

    def runs(self) -> List[Tuple[int, int]]:
        """Runs of consecutive rows ``(first, last)`` (inclusive) with no
        missing slice between them (one run unless slices are missing)."""
        breaks = np.flatnonzero(np.diff(self.grid_z) > 1)
        starts = [0] + [int(b) + 1 for b in breaks]
        ends = [int(b) for b in breaks] + [self.num_slices - 1]
        return list(zip(starts, ends))

    def run_of(self, row: int) -> Tuple[int, int]:
        """The run ``(first, last)`` holding ``row``."""
        for first, last in self.runs():
            if first <= row <= last:
                return first, last
        raise IndexError(f'{self.name}: slice {row} outside 0..'
                         f'{self.num_slices - 1}')

    def grid_geometry(self) -> dict:
        """ITK geometry of the regular z grid (missing slices included)."""
        depth = int(self.grid_z[-1] - self.grid_z[0] + 1)
        return dict(
            size_xyz=[int(self.hu.shape[2]),
                      int(self.hu.shape[1]), depth],
            spacing_xyz=[float(v) for v in self.spacing],
            origin=[float(v) for v in self.origin],
            direction=[float(v) for v in self.direction])

    def index_to_world(self, xyz: np.ndarray) -> np.ndarray:
        """World (LPS mm) points of continuous grid indices.

        Args:
            xyz: (N, 3) continuous indices (x, y, z on the z grid; voxel
                centres are integers).

        Returns:
            np.ndarray: (N, 3) float64 world coordinates.
        """
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        direction = np.asarray(self.direction, np.float64).reshape(3, 3)
        return np.asarray(self.origin)[None] + \
            (xyz * np.asarray(self.spacing)[None]) @ direction.T

    def world_to_source_index(self, points: np.ndarray) -> np.ndarray:
        """Continuous voxel indices (x, y, z) of world points in the grid of
        the stored source (what a viewer shows for the input file)."""
        geo = self.source['geometry']
        direction = np.asarray(geo['direction'], np.float64).reshape(3, 3)
        rel = np.asarray(points, np.float64).reshape(-1, 3) - \
            np.asarray(geo['origin'])[None]
        return (rel @ np.linalg.inv(direction).T) / \
            np.asarray(geo['spacing_xyz'])[None]


def volume_from_image(
    image: sitk.Image, source: dict,
    slice_names: Sequence[str] = ()) -> CTVolume:
    """A :class:`CTVolume` from a 3D SimpleITK image (HU values).

    The image is reoriented to the canonical order (a permutation/flip of
    the axes, no interpolation); ``source`` gets the stored geometry.
    ``slice_names`` (along the stored z axis) follow a flip of z.
    """
    source = dict(
        source, geometry=geometry_of(image), orientation=orientation_of(image))
    canon = reorient(sitk.Cast(image, sitk.sitkFloat32), CANONICAL_ORIENTATION)
    names = list(slice_names)
    if names:
        # the canonical z axis is the stored z axis (axial series); follow
        # its direction through the reorientation
        stored = np.asarray(image.GetDirection()).reshape(3, 3)[:, 2]
        canon_z = np.asarray(canon.GetDirection()).reshape(3, 3)[:, 2]
        if abs(float(stored @ canon_z)) < 0.5 or \
                canon.GetSize()[2] != len(names):
            names = []
        elif float(stored @ canon_z) < 0:
            names = names[::-1]
    return CTVolume(
        hu=sitk.GetArrayFromImage(canon),
        # NIfTI stores float32 spacings (0.7 -> 0.699999988)
        spacing=tuple(round(float(v), 6) for v in canon.GetSpacing()),
        origin=tuple(float(v) for v in canon.GetOrigin()),
        direction=tuple(float(v) for v in canon.GetDirection()),
        grid_z=np.arange(canon.GetSize()[2]),
        source=source,
        slice_names=names)
