"""Random-resized-crop for (H, W, S) slice stacks."""
import math
from typing import Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


def _pair(size: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f'{name}: expected a positive int or (h, w), got '
                         f'{size}')
    return size


def resize_stack(img: np.ndarray, size_hw: Tuple[int, int],
                 interpolation: str) -> np.ndarray:
    """Resize an (H, W, S) stack to ``size_hw`` keeping the slice axis."""
    out = mmcv.imresize(
        img, (size_hw[1], size_hw[0]), interpolation=interpolation)
    if out.ndim == 2:
        out = out[..., None]
    return out


@TRANSFORMS.register_module()
class RandomResizedCropVDT(BaseTransform):
    """Crop a random area / aspect-ratio region and resize it to ``scale``.

    The usual ImageNet augmentation, applied identically to every slice of
    an (H, W, S) stack. Up to ``max_attempts`` boxes are drawn with area
    fraction in ``crop_ratio_range`` and aspect ratio (w / h) log-uniform in
    ``aspect_ratio_range``; if none fits, the largest centred box with an
    aspect ratio inside the range is used. Random numbers come from numpy's
    global RNG (seeded by mmengine).

    Required keys: ``img``. Modified: ``img``, ``img_shape``. Added:
    ``crop_bbox`` (x1, y1, x2, y2) in the input image.

    Args:
        scale: Output size, int or (h, w).
        crop_ratio_range: Range of the crop area as a fraction of the image.
        aspect_ratio_range: Range of the crop aspect ratio (w / h).
        max_attempts: Number of random draws before the centred fallback.
        interpolation: mmcv interpolation name ('bilinear', 'bicubic', ...).
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]] = 224,
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear') -> None:
        self.scale = _pair(scale, 'RandomResizedCropVDT.scale')
        lo, hi = crop_ratio_range
        if not 0 < lo <= hi <= 1:
            raise ValueError('RandomResizedCropVDT: crop_ratio_range must '
                             f'satisfy 0 < lo <= hi <= 1, got '
                             f'{crop_ratio_range}')
        alo, ahi = aspect_ratio_range
        if not 0 < alo <= ahi:
            raise ValueError('RandomResizedCropVDT: aspect_ratio_range must '
                             f'satisfy 0 < lo <= hi, got {aspect_ratio_range}')
        if max_attempts < 1:
            raise ValueError('RandomResizedCropVDT: max_attempts must be >= 1')
        self.crop_ratio_range = (float(lo), float(hi))
        self.aspect_ratio_range = (float(alo), float(ahi))
        self.max_attempts = int(max_attempts)
        self.interpolation = interpolation

    def _draw_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        area = h * w
        log_lo = math.log(self.aspect_ratio_range[0])
        log_hi = math.log(self.aspect_ratio_range[1])
        for _ in range(self.max_attempts):
            target = area * np.random.uniform(*self.crop_ratio_range)
            ratio = math.exp(np.random.uniform(log_lo, log_hi))
            cw = int(round(math.sqrt(target * ratio)))
            ch = int(round(math.sqrt(target / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                y = np.random.randint(0, h - ch + 1)
                x = np.random.randint(0, w - cw + 1)
                return y, x, ch, cw
        # Fallback: centred box, aspect ratio clamped into the range.
        ratio = w / h
        if ratio < self.aspect_ratio_range[0]:
            cw = w
            ch = int(round(w / self.aspect_ratio_range[0]))
        elif ratio > self.aspect_ratio_range[1]:
            ch = h
            cw = int(round(h * self.aspect_ratio_range[1]))
        else:
            ch, cw = h, w
        ch, cw = max(1, min(ch, h)), max(1, min(cw, w))
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        """Crop and resize ``results['img']``.

        Args:
            results: Dict with ``img`` (H, W, S).

        Returns:
            dict: ``results`` with ``img`` of shape ``(*scale, S)``.
        """
        img = results['img']
        h, w = img.shape[:2]
        y, x, ch, cw = self._draw_box(h, w)
        crop = img[y:y + ch, x:x + cw]
        results['img'] = resize_stack(crop, self.scale, self.interpolation)
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = (x, y, x + cw, y + ch)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'crop_ratio_range={self.crop_ratio_range}, '
                f'aspect_ratio_range={self.aspect_ratio_range}, '
                f'max_attempts={self.max_attempts}, '
                f'interpolation={self.interpolation!r})')
