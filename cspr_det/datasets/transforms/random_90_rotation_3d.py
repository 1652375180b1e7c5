"""Random rotation of a volume by multiples of 90 degrees about its axes."""
from typing import List, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS

#: One rotation = a sequence of ``(k, (axis_a, axis_b))`` ``np.rot90`` steps.
Rotation = Tuple[Tuple[int, Tuple[int, int]], ...]


def cube_rotations() -> List[Rotation]:
    """The 24 proper rotations of a cube as ``np.rot90`` steps.

    Six choices of the face brought to the top (identity; 90, 180, 270
    degrees in the (z, x) plane; 90, 270 degrees in the (z, y) plane),
    each followed by 0-3 quarter turns in the (y, x) plane. The identity is
    the first.
    """
    faces = [(), ((1, (0, 2)), ), ((2, (0, 2)), ), ((3, (0, 2)), ),
             ((1, (0, 1)), ), ((3, (0, 1)), )]
    return [face + ((k, (1, 2)), ) for face in faces for k in range(4)]


def apply_rotation(array: np.ndarray, rotation: Rotation) -> np.ndarray:
    """Apply one rotation of :func:`cube_rotations` to the first three axes
    of ``array`` (a contiguous copy)."""
    for k, axes in rotation:
        if k % 4:
            array = np.rot90(array, k, axes)
    return np.ascontiguousarray(array)


@TRANSFORMS.register_module()
class Random90Rotation3D(BaseTransform):
    """Rotate ``img`` and ``gt_seg`` by one of the 24 rotations of the cube.

    With probability ``prob`` a rotation is drawn uniformly from the 24
    proper rotations (quarter turns about all three axes, the identity
    included); otherwise the volume is left as it is. Each rotation is an
    exact permutation of the voxels (``np.rot90``, no interpolation) and
    never a mirror image (flips are :class:`RandomFlip3D`'s job). For
    isotropic crops (the LIDC nodules); a non-cubic volume comes back with
    its axes permuted.

    Required keys: ``img`` (D, H, W); optional ``gt_seg``. Modified:
    ``img``, ``gt_seg``, ``img_shape``. Added: ``rot90_3d`` (index of the
    rotation in :func:`cube_rotations`, 0 = identity).

    Args:
        prob (float): Probability of drawing a rotation. Defaults to 1.0.
    """

    ROTATIONS = tuple(cube_rotations())

    def __init__(self, prob: float = 1.0) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(
                f'Random90Rotation3D: prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Rotate; records ``results['rot90_3d']``."""
        index = 0
        if self.prob > 0 and np.random.rand() < self.prob:
            index = int(np.random.randint(len(self.ROTATIONS)))
        results['rot90_3d'] = index
        if index == 0:
            return results
        rotation = self.ROTATIONS[index]
        if results['img'].ndim != 3:
            raise ValueError('Random90Rotation3D: img must be (D, H, W), got '
                             f'shape {results["img"].shape}')
        results['img'] = apply_rotation(results['img'], rotation)
        if results.get('gt_seg') is not None:
            results['gt_seg'] = apply_rotation(results['gt_seg'], rotation)
        results['img_shape'] = tuple(results['img'].shape)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
