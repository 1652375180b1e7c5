"""Random flips of a (D, H, W) volume along chosen axes."""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS

_AXES = dict(z=0, y=1, x=2)


@TRANSFORMS.register_module()
class RandomFlip3D(BaseTransform):
    """Flip ``img`` and ``gt_seg`` along each listed axis with probability
    ``prob`` (independently per axis).

    A left-right (``'x'``) flip mirrors the anatomy; for label sets with
    sided organs (BTCV's right/left kidney and adrenal) give
    ``swap_labels`` so a flipped right kidney becomes a left one.

    Required keys: ``img``; optional ``gt_seg``. Added key: ``flip_3d``
    (tuple of the flipped axis names).

    Args:
        prob (float): Flip probability per axis. Defaults to 0.5.
        axes (Sequence[str]): Axis names among ``'z'``, ``'y'``, ``'x'``.
            Defaults to ``('z', )`` (slice order).
        swap_labels (Sequence[Tuple[int, int]]): Label pairs exchanged when
            ``'x'`` is flipped (source label values). Defaults to none.
    """

    def __init__(
        self,
        prob: float = 0.5,
        axes: Sequence[str] = ('z', ),
        swap_labels: Sequence[Tuple[int, int]] = ()
    ) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        axes = tuple(axes) if not isinstance(axes, str) else (axes, )
        if not axes or any(a not in _AXES for a in axes) or \
                len(set(axes)) != len(axes):
            raise ValueError(f"axes must be distinct names among 'z', 'y', "
                             f"'x', got {axes!r}")
        self.prob = prob
        self.axes = axes
        self.swap_labels = tuple(tuple(int(v) for v in p) for p in swap_labels)
        if any(len(p) != 2 for p in self.swap_labels):
            raise ValueError(f'swap_labels must be pairs, got {swap_labels!r}')

    def transform(self, results: dict) -> dict:
        """Flip; records ``results['flip_3d']``."""
        flipped = tuple(a for a in self.axes if np.random.rand() < self.prob)
        results['flip_3d'] = flipped
        if not flipped:
            return results
        dims = tuple(_AXES[a] for a in flipped)
        results['img'] = np.ascontiguousarray(np.flip(results['img'], dims))
        seg = results.get('gt_seg')
        if seg is not None:
            seg = np.ascontiguousarray(np.flip(seg, dims))
            if 'x' in flipped and self.swap_labels:
                lut = np.arange(256, dtype=seg.dtype)
                for a, b in self.swap_labels:
                    lut[a], lut[b] = b, a
                seg = lut[seg]
            results['gt_seg'] = seg
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'axes={self.axes}, swap_labels={self.swap_labels})')
