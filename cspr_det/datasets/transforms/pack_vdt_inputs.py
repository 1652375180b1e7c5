"""Pack a VDT sample into a tensor and a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackVDTInputs(BaseTransform):
    """Convert ``img`` (H, W, S) into ``inputs`` (S, H, W) and build a
    :class:`mmengine.structures.BaseDataElement` data sample.

    The dtype of ``img`` is kept (uint8 stays uint8); the model's data
    preprocessor converts to float and normalises with one mean/std for all
    slices.

    Returns ``dict(inputs=Tensor[S, H, W], data_samples=BaseDataElement)``;
    the data sample holds ``gt_label`` (LongTensor of shape (1,)) when
    ``results`` has ``gt_label``, and the keys of ``meta_keys`` present in
    ``results`` as metainfo.

    Args:
        meta_keys: Keys copied into the data sample's metainfo.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape',
                                    'img_shape', 'slice_order', 'flip',
                                    'flip_direction')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results: Dict with ``img`` (H, W, S) or (H, W) and optionally
                ``gt_label`` (int).

        Returns:
            dict: ``inputs`` (S, H, W) tensor and ``data_samples``.
        """
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3:
            raise ValueError('PackVDTInputs: expected an (H, W, S) image, got '
                             f'shape {img.shape}')
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement()
        if 'gt_label' in results:
            sample.gt_label = torch.as_tensor([int(results['gt_label'])],
                                              dtype=torch.long)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
