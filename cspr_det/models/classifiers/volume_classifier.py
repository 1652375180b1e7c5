"""The general 3D classifier (backbone + head): VDT supervised pre-training
and volume classification (LIDC nodule malignancy)."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from cspr_det.registry import MODELS

#: One mean/std (0-255 units) shared by all slices in VDT pre-training.
VDT_MEAN = 114.495
VDT_STD = 57.63


@MODELS.register_module()
class VolumeClassifier(BaseModel):
    """Backbone + classification head trained on VDT-lifted 2D images.

    A batch of 2D images with S channels (N, S, H, W) is normalised by the
    data preprocessor with **one** mean/std for every channel (the channels
    are slices), handed to a backbone that lifts it to (N, 1, S, H, W)
    (e.g. ``cspr_det.ResNet3D``) and the last backbone map is pooled and
    classified by the head (e.g. ``cspr_det.LinearClsHead3D``).

    The same class classifies volumes (the LIDC nodule malignancy configs,
    ``configs/classification/lidc/``): the data preprocessor is then
    ``cspr_det.VolumeSegDataPreprocessor`` (one mean/std, no padding for
    fixed-size crops), the inputs are (N, 1, D, H, W) crops used by the
    backbone as they are, and the head is a two-class
    ``LinearClsHead3D`` without label smoothing. Pre-training and
    classification differ only in their configs (head, preprocessor).

    After pre-training, the backbone weights live under the ``backbone.``
    prefix of the checkpoint and initialise downstream models through
    ``init_cfg=dict(type='cspr_det.PretrainedBackbone', checkpoint=...,
    prefix='backbone.')`` (or mmengine's ``Pretrained``).

    Args:
        backbone: Backbone config (built with ``MODELS``).
        head: Head config with ``loss(feats, data_samples)`` and
            ``predict(feats, data_samples)`` methods.
        data_preprocessor: Default ``mmengine.ImgDataPreprocessor`` with
            mean 114.495, std 57.63 for all channels, no colour conversion.
        init_cfg: mmengine init config of the whole model.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='mmengine.ImgDataPreprocessor',
                mean=[VDT_MEAN],
                std=[VDT_STD],
                bgr_to_rgb=False)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)

    def extract_feat(self, inputs: torch.Tensor):
        """Backbone features.

        Args:
            inputs: (N, S, H, W) normalised images (or (N, 1, S, H, W)).

        Returns:
            Whatever the backbone returns (a tuple of maps).
        """
        return self.backbone(inputs)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[Sequence[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """Run in one of three modes.

        Args:
            inputs: (N, S, H, W) batch after the data preprocessor, or
                (N, 1, D, H, W) volumes.
            data_samples: N samples with ``gt_label`` (loss mode).
            mode: ``'loss'`` -> dict of losses; ``'predict'`` -> list of
                data samples with ``pred_score`` (num_classes,) and
                ``pred_label`` (1,); ``'tensor'`` -> (N, num_classes) logits.

        Returns:
            dict | list[BaseDataElement] | torch.Tensor: see ``mode``.
        """
        feats = self.extract_feat(inputs)
        if mode == 'loss':
            return self.head.loss(feats, data_samples)
        if mode == 'predict':
            return self.head.predict(feats, data_samples)
        if mode == 'tensor':
            return self.head(feats)
        raise RuntimeError(f'VolumeClassifier: invalid mode "{mode}"; '
                           'expected "loss", "predict" or "tensor"')
