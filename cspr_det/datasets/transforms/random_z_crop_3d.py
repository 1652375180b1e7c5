"""Random z-window of a volume that overlaps the foreground with a given
probability."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomZCrop3D(BaseTransform):
    """Crop ``size`` consecutive slices of a (D, H, W) volume.

    With probability ``fg_prob`` the window is drawn uniformly among the
    windows that overlap the foreground z-range ``fg_z_range`` (inclusive
    slice indices from the converter's index; with ``class_balanced`` the
    range of one present class, drawn uniformly, from ``class_z_ranges``);
    otherwise uniformly among all windows. A volume with fewer than ``size``
    slices is padded at its top with ``pad_val`` HU and ``seg_pad_val``.

    Only the window's slices are read from a memory-mapped array (see
    :class:`LoadVolumeArrays`); the outputs are in-memory arrays.

    Required keys: ``img``; optional ``gt_seg``, ``fg_z_range``,
    ``class_z_ranges``. Modified keys: ``img``, ``gt_seg``, ``img_shape``.
    Added key: ``z_crop`` ((first, stop) slice indices of the window in the
    volume).

    Args:
        size (int): Slices per window. Defaults to 32.
        fg_prob (float): Probability of a foreground-overlapping window.
            Defaults to 0.5.
        class_balanced (bool): Aim at the z-range of a random present class
            instead of the whole foreground. Defaults to False.
        pad_val (float): HU of padded slices. Defaults to -1024.
        seg_pad_val (int): Label of padded slices. Defaults to 255
            (ignored by the losses).
    """

    def __init__(self,
                 size: int = 32,
                 fg_prob: float = 0.5,
                 class_balanced: bool = False,
                 pad_val: float = -1024,
                 seg_pad_val: int = 255) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f'size must be a positive int, got {size!r}')
        if not 0 <= fg_prob <= 1:
            raise ValueError(f'fg_prob must be in [0, 1], got {fg_prob}')
        self.size = size
        self.fg_prob = fg_prob
        self.class_balanced = class_balanced
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _target_range(self, results: dict) -> Optional[tuple]:
        if self.class_balanced and results.get('class_z_ranges'):
            ranges = list(results['class_z_ranges'].values())
            return tuple(ranges[np.random.randint(len(ranges))])
        fg = results.get('fg_z_range')
        return tuple(fg) if fg is not None else None

    def choose_start(self, results: dict, depth: int) -> int:
        """First slice of the window (uses ``np.random``)."""
        if depth <= self.size:
            return 0
        last = depth - self.size
        if np.random.rand() < self.fg_prob:
            target = self._target_range(results)
            if target is not None:
                lo = max(0, int(target[0]) - self.size + 1)
                hi = min(last, int(target[1]))
                if lo <= hi:
                    return int(np.random.randint(lo, hi + 1))
        return int(np.random.randint(0, last + 1))

    def _crop(self, array: np.ndarray, z0: int, pad) -> np.ndarray:
        out = np.array(array[z0:z0 + self.size])
        if out.shape[0] < self.size:
            extra = np.full((self.size - out.shape[0], ) + out.shape[1:], pad,
                            out.dtype)
            out = np.concatenate([out, extra])
        return out

    def transform(self, results: dict) -> dict:
        """Crop ``img`` and ``gt_seg`` to the same window."""
        img = results['img']
        z0 = self.choose_start(results, img.shape[0])
        results['img'] = self._crop(img, z0, self.pad_val)
        if results.get('gt_seg') is not None:
            results['gt_seg'] = self._crop(results['gt_seg'], z0,
                                           self.seg_pad_val)
        results['z_crop'] = (z0, min(z0 + self.size, img.shape[0]))
        results['img_shape'] = tuple(results['img'].shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'fg_prob={self.fg_prob}, '
                f'class_balanced={self.class_balanced})')
