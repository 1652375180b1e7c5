"""HU window of a volume, scaled to 0-255."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS


def window_hu(hu: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """``(clip(hu, lo, hi) - lo) / (hi - lo) * 255`` as a new float32 array
    of ``hu``'s shape (the scale every volume pipeline feeds the model)."""
    lo, hi = float(window[0]), float(window[1])
    out = np.array(hu, dtype=np.float32)  # a new array
    np.clip(out, lo, hi, out=out)
    out -= lo
    out *= 255.0 / (hi - lo)
    return out


@TRANSFORMS.register_module()
class HUWindow3D(BaseTransform):
    """Clip HU to ``window`` and scale linearly to [0, 255] (float32).

    ``out = (clip(hu, lo, hi) - lo) / (hi - lo) * 255``, as the DeepLesion
    loader does for 2D stacks; the segmentor's data preprocessor then
    subtracts its mean and divides by its std.

    Required keys: ``img``. Modified: ``img`` (float32).

    Args:
        window (Sequence[float]): (lo, hi) HU. Defaults to (-200, 250).
    """

    def __init__(self, window: Sequence[float] = (-200.0, 250.0)) -> None:
        if len(window) != 2 or not float(window[0]) < float(window[1]):
            raise ValueError(
                f'window must be (lo, hi) HU with lo < hi, got {window!r}')
        self.window = (float(window[0]), float(window[1]))

    def transform(self, results: dict) -> dict:
        """Window ``img``."""
        results['img'] = window_hu(results['img'], self.window)
        results['hu_window'] = self.window
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(window={self.window})'
