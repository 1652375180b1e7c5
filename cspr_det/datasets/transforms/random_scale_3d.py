"""Random in-plane rescaling of a (D, H, W) volume."""
from typing import Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


def resize_slices(array: np.ndarray, size_hw: Tuple[int, int],
                  interpolation: int) -> np.ndarray:
    """Resize every slice of a (D, H, W) array to ``size_hw`` with OpenCV
    (slices as channels, at most 512 per call)."""
    d = array.shape[0]
    h, w = size_hw
    out = np.empty((d, h, w), array.dtype)
    for start in range(0, d, 512):
        chunk = np.ascontiguousarray(
            np.moveaxis(array[start:start + 512], 0, -1))
        res = cv2.resize(chunk, (w, h), interpolation=interpolation)
        if res.ndim == 2:
            res = res[..., None]
        out[start:start + 512] = np.moveaxis(res, -1, 0)
    return out


@TRANSFORMS.register_module()
class RandomScale3D(BaseTransform):
    """Rescale the in-plane size (H, W) by a random factor; depth is kept.

    The factor ``s`` is uniform in ``scale_range``; the new size is
    ``round(H * s), round(W * s)``. The image is interpolated linearly (int16
    HU stays int16), the labels with nearest neighbour.

    Required keys: ``img``; optional ``gt_seg``. Modified: ``img``,
    ``gt_seg``, ``img_shape``. Added: ``scale_factor`` (float).

    Args:
        scale_range (tuple[float, float]): (min, max) factor. Defaults to
            (0.8, 1.2).
        prob (float): Probability of rescaling at all. Defaults to 1.0.
    """

    def __init__(self,
                 scale_range: Tuple[float, float] = (0.8, 1.2),
                 prob: float = 1.0) -> None:
        lo, hi = (float(v) for v in scale_range)
        if not 0 < lo <= hi:
            raise ValueError(f'scale_range must be (min, max) with 0 < min '
                             f'<= max, got {scale_range!r}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.scale_range = (lo, hi)
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Rescale ``img`` and ``gt_seg``."""
        if np.random.rand() >= self.prob:
            results['scale_factor'] = 1.0
            return results
        s = float(np.random.uniform(*self.scale_range))
        img = results['img']
        h, w = img.shape[1:]
        size = (max(1, int(round(h * s))), max(1, int(round(w * s))))
        results['scale_factor'] = s
        if size == (h, w):
            return results
        results['img'] = resize_slices(img, size, cv2.INTER_LINEAR)
        if results.get('gt_seg') is not None:
            results['gt_seg'] = resize_slices(results['gt_seg'], size,
                                              cv2.INTER_NEAREST)
        results['img_shape'] = tuple(results['img'].shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale_range={self.scale_range}, '
                f'prob={self.prob})')
