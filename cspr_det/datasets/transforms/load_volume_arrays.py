"""Load a converted 3D case (HU and label arrays) for segmentation."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS
from ..data_check import UnreadableSampleError


@TRANSFORMS.register_module()
class LoadVolumeArrays(BaseTransform):
    """Load the ``.npy`` arrays written by the LiTS/BTCV converters.

    With ``lazy=True`` (training) both arrays are memory-mapped
    (``np.load(mmap_mode='r')``): nothing is read until a later transform
    slices them, so :class:`RandomZCrop3D` reads only the slices of its
    window and a training sample never reads a whole volume. With
    ``lazy=False`` (testing) the arrays are read into memory.

    Labels keep their source values here; :class:`PackVolumeSegInputs` maps
    them to training ids through ``label_lut``.

    Required keys: ``img_path``; ``seg_map_path`` when ``with_seg``;
    optional ``case_id`` (for error messages).

    Added keys: ``img`` (D, H, W) int16 HU, ``gt_seg`` (D, H, W) uint8
    (``with_seg``), ``img_shape`` and ``ori_shape`` (D, H, W).

    Raises:
        FileNotFoundError: An array is missing.
        UnreadableSampleError: An array is truncated, not an ``.npy`` or
            not (D, H, W), or the label's shape differs from the image's
            (a ``ValueError``; training datasets skip such a case with a
            warning).

    Args:
        lazy (bool): Memory-map instead of reading. Defaults to True.
        with_seg (bool): Load the label array. Defaults to True.
    """

    def __init__(self, lazy: bool = True, with_seg: bool = True) -> None:
        self.lazy = lazy
        self.with_seg = with_seg

    def _load(self, path: str, case: str, what: str) -> np.ndarray:
        if not osp.isfile(path):
            raise FileNotFoundError(f'{case}: {what} array not found: {path}')
        try:
            array = np.load(
                path, mmap_mode='r' if self.lazy else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise UnreadableSampleError(
                f'{case}: cannot read {what} array {path} (truncated or not '
                f'.npy: {e})') from None
        if array.ndim != 3:
            raise UnreadableSampleError(
                f'{case}: {what} array {path} has shape {array.shape}, '
                'expected (D, H, W)')
        return array

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``img`` (and ``gt_seg``)."""
        case = results.get('case_id', osp.basename(results['img_path']))
        img = self._load(results['img_path'], case, 'image')
        results['img'] = img
        if self.with_seg:
            seg = self._load(results['seg_map_path'], case, 'label')
            if seg.shape != img.shape:
                raise UnreadableSampleError(
                    f'{case}: label array shape {seg.shape} differs from '
                    f'image shape {img.shape}')
            results['gt_seg'] = seg
        results['img_shape'] = tuple(int(v) for v in img.shape)
        results['ori_shape'] = tuple(int(v) for v in img.shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(lazy={self.lazy}, '
                f'with_seg={self.with_seg})')
