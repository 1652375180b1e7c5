"""Load one LIDC nodule crop (and its segmentation target) from its npz."""
import zipfile
import zlib

import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS
from ..data_check import UnreadableSampleError
from ..lidc_npz import load_nodule_npz


@TRANSFORMS.register_module()
class LoadLIDCNodule(BaseTransform):
    """Read ``voxel`` (and the reader masks) of ``results['img_path']``.

    The crop is returned as stored (uint8 0-255 for the community crops)
    in float32; the model's data preprocessor subtracts its mean and
    divides by its std. With ``with_seg`` the segmentation target named by
    ``results['seg_label']`` (set by
    :class:`~cspr_det.datasets.LIDCNoduleDataset`: ``'answer1'``,
    ``'any'``, ``'union'`` or ``'majority'``) becomes ``gt_seg``, a
    (D, H, W) uint8 0/1 mask.

    Required keys: ``img_path``, ``nodule_id`` (for messages),
    ``seg_label`` (with ``with_seg``). Added keys: ``img`` (D, H, W)
    float32, ``gt_seg`` (D, H, W) uint8, ``ori_shape``, ``img_shape``.

    Args:
        with_seg (bool): Load the segmentation target. Defaults to False.

    Raises:
        UnreadableSampleError: The file is missing or unreadable, or a
            mask's shape differs from the crop; the message names the
            nodule (a ``ValueError``; training datasets skip such a nodule
            with a warning).
    """

    def __init__(self, with_seg: bool = False) -> None:
        self.with_seg = bool(with_seg)

    def transform(self, results: dict) -> dict:
        """Load the crop (and mask)."""
        nodule = results.get('nodule_id', results.get('img_path'))
        seg_label = None
        if self.with_seg:
            seg_label = results.get('seg_label')
            if seg_label is None:
                raise ValueError(f'LoadLIDCNodule: nodule {nodule} has no '
                                 'seg_label (use LIDCNoduleDataset with '
                                 "task='segmentation')")
        try:
            voxel, mask = load_nodule_npz(results['img_path'], seg_label)
        except (OSError, ValueError, KeyError, EOFError, zlib.error,
                zipfile.BadZipFile) as err:
            raise UnreadableSampleError(
                f'LIDC nodule {nodule}: {type(err).__name__}: {err}') from err
        if voxel.ndim != 3:
            raise UnreadableSampleError(
                f'LIDC nodule {nodule}: voxel must be (D, H, W), got shape '
                f'{voxel.shape}')
        results['img'] = voxel.astype(np.float32)
        if mask is not None:
            results['gt_seg'] = mask
        results['ori_shape'] = tuple(int(v) for v in voxel.shape)
        results['img_shape'] = results['ori_shape']
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(with_seg={self.with_seg})'
