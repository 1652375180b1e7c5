"""Pack a 3D segmentation sample into model inputs and a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS
from cspr_det.structures import VolumeSegDataSample


@TRANSFORMS.register_module()
class PackVolumeSegInputs(BaseTransform):
    """Pack ``img`` and ``gt_seg`` for :class:`VolumeSegmentor`.

    ``gt_seg`` (source label values) is mapped to training ids through
    ``results['label_lut']`` (a 256-entry table from the dataset; source
    values outside the task map to 255, which also stays 255 = ignore).

    Returns ``dict(inputs, data_samples)``: ``inputs`` a (1, D, H, W)
    float32 tensor; ``data_samples`` a :class:`VolumeSegDataSample` with
    ``gt_seg`` (D, H, W) int64 (when present) and the ``meta_keys`` found in
    ``results`` as metainfo.

    Args:
        meta_keys (Sequence[str]): Keys copied to the metainfo.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('case_id', 'img_path', 'seg_map_path',
                                    'spacing', 'origin', 'direction', 'source',
                                    'img_shape', 'ori_shape', 'z_crop',
                                    'flip_3d', 'scale_factor', 'crop_offset',
                                    'hu_window')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample."""
        img = np.asarray(results['img'], dtype=np.float32)
        if img.ndim != 3:
            raise ValueError(f'PackVolumeSegInputs: img must be (D, H, W), '
                             f'got shape {img.shape}')
        sample = VolumeSegDataSample()
        seg = results.get('gt_seg')
        if seg is not None:
            seg = np.asarray(seg)
            if seg.shape != img.shape:
                raise ValueError(f'PackVolumeSegInputs: gt_seg shape '
                                 f'{seg.shape} differs from img {img.shape}')
            lut = results.get('label_lut')
            if lut is not None:  # one pass: the int64 table indexed
                seg = np.asarray(lut, np.int64)[seg]
            sample.gt_seg = torch.from_numpy(seg.astype(np.int64, copy=False))
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta['img_shape'] = tuple(int(v) for v in img.shape)
        sample.set_metainfo(meta)
        return dict(
            inputs=torch.from_numpy(np.ascontiguousarray(img)[None]),
            data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
