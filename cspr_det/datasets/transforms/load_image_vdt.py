"""Load a 2D natural image as a 3-slice stack for VDT pre-training."""
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageVDT(BaseTransform):
    """Read ``results['img_path']`` into an (H, W, 3) slice stack.

    The Variable Dimension Transform treats the colour channels of a 2D image
    as the slices of a depth-3 volume. Channels are stored in **R, G, B**
    order (slice 0 = red), independently of the file format, so the test-time
    slice order is fixed and documented.

    Other channel layouts are handled explicitly:

    * grayscale (H, W) or (H, W, 1): the single channel is **replicated** to
      3 identical slices (the volume is constant along depth, so a slice
      permutation leaves it unchanged);
    * gray + alpha (H, W, 2): the alpha channel is dropped, then replicated;
    * RGBA / BGRA (H, W, 4): the alpha channel is dropped.

    Only 8-bit images are accepted, because the VDT mean/std (114.495 /
    57.63) are in 0-255 units.

    Required keys: ``img_path``. Added keys: ``img`` (H, W, 3) uint8 (or
    float32 with ``to_float32``), ``img_shape`` and ``ori_shape`` (H, W).

    Args:
        to_float32: Convert the stack to float32.
        backend_args: mmengine file backend arguments.

    Raises:
        IOError: The file cannot be read or decoded (the path is named).
        ValueError: The image is not 8-bit or has an unsupported channel
            count.
    """

    def __init__(self,
                 to_float32: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        self.to_float32 = to_float32
        self.backend_args = None if backend_args is None else dict(
            backend_args)

    @staticmethod
    def to_slices(img: np.ndarray, path: str = '<array>') -> np.ndarray:
        """Convert a decoded image (cv2 channel order) to an (H, W, 3) RGB
        slice stack.

        Args:
            img: (H, W), (H, W, 1), (H, W, 2), (H, W, 3) BGR or (H, W, 4)
                BGRA array as returned by OpenCV.
            path: Name used in error messages.

        Returns:
            np.ndarray: (H, W, 3) array, channels R, G, B (or 3 copies of
            the gray channel).
        """
        if img.dtype != np.uint8:
            raise ValueError(f'LoadImageVDT: {path} has dtype {img.dtype}; '
                             'only 8-bit images are supported')
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f'LoadImageVDT: {path} has unsupported shape '
                             f'{img.shape}')
        channels = img.shape[2]
        if channels in (1, 2):
            return np.ascontiguousarray(np.repeat(img[..., :1], 3, axis=2))
        return np.ascontiguousarray(img[..., 2::-1])  # BGR(A) -> RGB

    def transform(self, results: dict) -> dict:
        """Load the image.

        Args:
            results: Dict with ``img_path``.

        Returns:
            dict: ``results`` with ``img``, ``img_shape``, ``ori_shape``.
        """
        path = results['img_path']
        try:
            img_bytes = get(path, backend_args=self.backend_args)
            img = mmcv.imfrombytes(img_bytes, flag='unchanged', backend='cv2')
        except Exception as exc:
            raise IOError(f'LoadImageVDT: cannot read {path}: {exc}') from exc
        if img is None:
            raise IOError(f'LoadImageVDT: cannot decode {path}')
        img = self.to_slices(img, path)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f'backend_args={self.backend_args})')
