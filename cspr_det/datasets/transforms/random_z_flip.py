"""Random reversal of the slice order of a 2.5D stack."""
import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomZFlip(BaseTransform):
    """Reverse the slice order (z-flip) of an (H, W, S*K) stack.

    The stack holds K window groups of S slices each (window-major, as
    produced by :class:`LoadDeepLesionSlices`); the order is reversed within
    every group, so the key slice stays in the centre. Boxes are unchanged.

    Required keys: ``img``; optional ``num_slices`` (S) and ``num_windows``
    (K) (default: one group of all channels). Added key: ``z_flip`` (bool).

    Args:
        prob (float): Probability of flipping. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Flip with probability ``prob``; records ``results['z_flip']``."""
        flip = bool(np.random.rand() < self.prob)
        results['z_flip'] = flip
        if not flip:
            return results
        img = results['img']
        channels = img.shape[2] if img.ndim == 3 else 1
        num_windows = int(results.get('num_windows', 1))
        num_slices = int(results.get('num_slices', channels // num_windows))
        if num_slices * num_windows != channels:
            raise ValueError(
                f'RandomZFlip: image has {channels} channels but '
                f'num_slices={num_slices} x num_windows={num_windows}')
        h, w = img.shape[:2]
        grouped = img.reshape(h, w, num_windows, num_slices)
        results['img'] = np.ascontiguousarray(grouped[..., ::-1].reshape(
            h, w, channels))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
