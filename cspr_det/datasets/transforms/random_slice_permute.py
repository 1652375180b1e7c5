"""Random slice-order permutation (VDT augmentation)."""
import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomSlicePermute(BaseTransform):
    """Randomly permute the slices (last axis) of an (H, W, S) stack.

    VDT pre-training shuffles the order of the 3 colour channels (= slices)
    of every image so the 3D network cannot rely on a fixed channel order.
    The permutation is drawn from numpy's global RNG, which mmengine seeds
    (``randomness=dict(seed=...)``) in the main process and in every
    dataloader worker, so runs are reproducible. The identity is one of the
    S! permutations and is kept with probability ``1 / S!``.

    Required keys: ``img`` (H, W, S). Modified: ``img``. Added:
    ``slice_order`` (list of S ints: ``new[..., i] = old[..., order[i]]``).

    Args:
        prob: Probability of drawing a random permutation; otherwise the
            order is left unchanged (``slice_order`` is the identity).
    """

    def __init__(self, prob: float = 1.0) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(
                f'RandomSlicePermute: prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Permute ``results['img']`` along its last axis.

        Args:
            results: Dict with ``img`` of shape (H, W, S).

        Returns:
            dict: ``results`` with permuted ``img`` and ``slice_order``.
        """
        img = results['img']
        if img.ndim != 3:
            raise ValueError('RandomSlicePermute: expected an (H, W, S) '
                             f'stack, got shape {img.shape}')
        num_slices = img.shape[2]
        if self.prob > 0 and np.random.rand() < self.prob:
            order = np.random.permutation(num_slices)
            results['img'] = np.ascontiguousarray(img[..., order])
        else:
            order = np.arange(num_slices)
        results['slice_order'] = [int(i) for i in order]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
