"""Random in-plane crop of a (D, H, W) volume."""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomCrop3D(BaseTransform):
    """Crop a random ``crop_size`` (h, w) window in-plane; depth is kept.

    An axis smaller than the crop is first padded on both sides (evenly,
    the odd pixel after) with ``pad_val`` HU and ``seg_pad_val``, so the
    output shape is always (D, h, w).

    Required keys: ``img``; optional ``gt_seg``. Modified: ``img``,
    ``gt_seg``, ``img_shape``. Added: ``crop_offset`` ((y, x) of the window
    in the padded input).

    Args:
        crop_size (tuple[int, int]): (h, w). Defaults to (256, 256).
        pad_val (float): HU of padding. Defaults to -1024 (air).
        seg_pad_val (int): Label of padding. Defaults to 255 (ignored).
    """

    def __init__(self,
                 crop_size: Tuple[int, int] = (256, 256),
                 pad_val: float = -1024,
                 seg_pad_val: int = 255) -> None:
        if len(crop_size) != 2 or any(not isinstance(v, int) or v < 1
                                      for v in crop_size):
            raise ValueError(
                f'crop_size must be (h, w) positive ints, got {crop_size!r}')
        self.crop_size = tuple(crop_size)
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _pad(self, array: np.ndarray, value) -> np.ndarray:
        pads = [(0, 0)]
        for n, c in zip(array.shape[1:], self.crop_size):
            extra = max(0, c - n)
            pads.append((extra // 2, extra - extra // 2))
        if all(p == (0, 0) for p in pads):
            return array
        return np.pad(array, pads, constant_values=value)

    def transform(self, results: dict) -> dict:
        """Pad if needed, then crop ``img`` and ``gt_seg`` alike."""
        img = self._pad(results['img'], self.pad_val)
        h, w = self.crop_size
        y0 = int(np.random.randint(0, img.shape[1] - h + 1))
        x0 = int(np.random.randint(0, img.shape[2] - w + 1))
        results['img'] = np.ascontiguousarray(img[:, y0:y0 + h, x0:x0 + w])
        if results.get('gt_seg') is not None:
            seg = self._pad(results['gt_seg'], self.seg_pad_val)
            results['gt_seg'] = np.ascontiguousarray(seg[:, y0:y0 + h,
                                                         x0:x0 + w])
        results['crop_offset'] = (y0, x0)
        results['img_shape'] = tuple(results['img'].shape)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'
