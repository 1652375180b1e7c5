"""Crop a cube around the centre of a volume, optionally shifted."""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


def _triple(name: str, value: Union[int, Sequence[int]],
            low: int) -> Tuple[int, int, int]:
    values = (value, ) * 3 if isinstance(value, int) else tuple(value)
    if len(values) != 3 or any(not isinstance(v, int) or v < low
                               for v in values):
        raise ValueError(f'CentreCrop3D: {name} must be an int >= {low} or 3 '
                         f'of them (D, H, W), got {value!r}')
    return values


@TRANSFORMS.register_module()
class CentreCrop3D(BaseTransform):
    """Crop ``size`` voxels around the centre of ``img`` (and ``gt_seg``).

    The window starts at ``(n - s) // 2 + t`` on each axis, where ``t`` is
    drawn uniformly from the integers in ``[-max_shift, max_shift]`` (the
    LIDC training augmentation: a 48^3 crop around the nodule centre moved
    by up to 5 voxels) and then limited so the window stays inside the
    volume. ``max_shift=0`` is the plain centre crop of testing.

    Required keys: ``img`` (D, H, W); optional ``gt_seg``, ``nodule_id``
    (for messages). Modified: ``img``, ``gt_seg``, ``img_shape``. Added:
    ``crop_offset_3d`` ((z, y, x) start of the window).

    Args:
        size (int | Sequence[int]): Crop size, one int for a cube.
            Defaults to 48.
        max_shift (int | Sequence[int]): Largest shift per axis. Defaults
            to 0.

    Raises:
        ValueError: The volume is smaller than ``size`` on some axis (the
            message names the nodule).
    """

    def __init__(self,
                 size: Union[int, Sequence[int]] = 48,
                 max_shift: Union[int, Sequence[int]] = 0) -> None:
        self.size = _triple('size', size, 1)
        self.max_shift = _triple('max_shift', max_shift, 0)

    def transform(self, results: dict) -> dict:
        """Crop ``img`` and ``gt_seg`` alike."""
        img = results['img']
        if img.ndim != 3:
            raise ValueError('CentreCrop3D: img must be (D, H, W), got shape '
                             f'{img.shape}')
        if any(n < s for n, s in zip(img.shape, self.size)):
            raise ValueError(
                f'CentreCrop3D: crop {img.shape} of nodule '
                f'{results.get("nodule_id", "?")} is smaller than the '
                f'{self.size} window')
        starts = []
        for n, s, m in zip(img.shape, self.size, self.max_shift):
            shift = int(np.random.randint(-m, m + 1)) if m else 0
            starts.append(min(max((n - s) // 2 + shift, 0), n - s))
        window = tuple(slice(a, a + s) for a, s in zip(starts, self.size))
        results['img'] = np.ascontiguousarray(img[window])
        if results.get('gt_seg') is not None:
            seg = results['gt_seg']
            if seg.shape != img.shape:
                raise ValueError(
                    f'CentreCrop3D: gt_seg {seg.shape} and img {img.shape} '
                    f'of nodule {results.get("nodule_id", "?")} differ')
            results['gt_seg'] = np.ascontiguousarray(seg[window])
        results['crop_offset_3d'] = tuple(starts)
        results['img_shape'] = tuple(results['img'].shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'max_shift={self.max_shift})')
