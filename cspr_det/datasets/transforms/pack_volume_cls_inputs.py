"""Pack a 3D classification sample into model inputs and a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackVolumeClsInputs(BaseTransform):
    """Pack ``img`` (D, H, W) and ``gt_label`` for a 3D classifier
    (:class:`~cspr_det.models.classifiers.VolumeClassifier` with a volume
    data preprocessor).

    Returns ``dict(inputs, data_samples)``: ``inputs`` a (1, D, H, W)
    float32 tensor; ``data_samples`` a
    :class:`mmengine.structures.BaseDataElement` with ``gt_label``
    (LongTensor of shape (1,)) when ``results`` has one, and the
    ``meta_keys`` found in ``results`` as metainfo.

    Args:
        meta_keys (Sequence[str]): Keys copied to the metainfo.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('nodule_id', 'patient_id', 'subset',
                                    'img_path', 'ori_shape', 'img_shape',
                                    'malignancy_mode', 'diameter_mm',
                                    'crop_offset_3d', 'rot90_3d', 'flip_3d')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample."""
        img = np.asarray(results['img'], dtype=np.float32)
        if img.ndim != 3:
            raise ValueError('PackVolumeClsInputs: img must be (D, H, W), '
                             f'got shape {img.shape}')
        sample = BaseDataElement()
        if results.get('gt_label') is not None:
            sample.gt_label = torch.as_tensor([int(results['gt_label'])],
                                              dtype=torch.long)
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta['img_shape'] = tuple(int(v) for v in img.shape)
        sample.set_metainfo(meta)
        return dict(
            inputs=torch.from_numpy(np.ascontiguousarray(img)[None]),
            data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
