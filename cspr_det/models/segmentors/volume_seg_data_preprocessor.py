"""Normalise, stack and pad 3D segmentation batches."""
import math
from typing import List, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from cspr_det.registry import MODELS

#: One mean/std (0-255 units) of VDT pre-training, used for windowed CT too.
VDT_MEAN = 114.495
VDT_STD = 57.63


def _per_channel(name: str, value: Union[float,
                                         Sequence[float]]) -> List[float]:
    values = [value] if isinstance(value, (int, float)) else list(value)
    if not values or any(not isinstance(v, (int, float)) for v in values):
        raise ValueError('VolumeSegDataPreprocessor: '
                         f'{name} must be a number or a list of numbers, got '
                         f'{value!r}')
    return [float(v) for v in values]


@MODELS.register_module()
class VolumeSegDataPreprocessor(BaseDataPreprocessor):
    """Data preprocessor of :class:`VolumeSegmentor`.

    Takes the packed samples (``inputs``: list of ``(C_in, D, H, W)``
    tensors windowed to 0-255, ``data_samples``: list of
    :class:`~cspr_det.structures.VolumeSegDataSample`) and

    1. moves them to the model's device,
    2. pads every volume at the far end of each axis (``D, H, W``) to the
       largest size in the batch rounded up to a multiple of
       ``pad_size_divisor``, with ``pad_value`` (in input units, before
       normalisation: 0 is the bottom of the HU window),
    3. normalises ``(x - mean) / std`` per input channel,
    4. stacks to ``(N, C_in, D', H', W')`` float32,
    5. pads ``gt_seg`` alike with ``seg_pad_value`` (255, ignored by the
       losses) and records ``batch_input_shape`` in every sample's metainfo
       (``img_shape`` is set to the unpadded input size when missing).

    Args:
        mean: Per-channel mean (one number for CT).
        std: Per-channel std.
        pad_size_divisor: Pad ``D, H, W`` to a multiple of this (16 for a
            4-stage encoder at 1/16).
        pad_value: Input padding value, before normalisation.
        seg_pad_value: ``gt_seg`` padding value.
        non_blocking: Non-blocking device copies.
    """

    def __init__(self,
                 mean: Union[float, Sequence[float]] = VDT_MEAN,
                 std: Union[float, Sequence[float]] = VDT_STD,
                 pad_size_divisor: int = 16,
                 pad_value: float = 0.0,
                 seg_pad_value: int = 255,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        mean = _per_channel('mean', mean)
        std = _per_channel('std', std)
        if len(mean) != len(std):
            raise ValueError(
                f'VolumeSegDataPreprocessor: mean {mean} and std {std} '
                'have different lengths')
        if min(std) <= 0:
            raise ValueError(
                f'VolumeSegDataPreprocessor: std must be > 0, got {std}')
        if not isinstance(pad_size_divisor, int) or pad_size_divisor < 1:
            raise ValueError('VolumeSegDataPreprocessor: pad_size_divisor '
                             f'must be a positive int, got '
                             f'{pad_size_divisor!r}')
        self.register_buffer('mean',
                             torch.tensor(mean).view(-1, 1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(-1, 1, 1, 1), False)
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = float(pad_value)
        self.seg_pad_value = int(seg_pad_value)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise, pad and stack one batch.

        Args:
            data: ``dict(inputs=list of (C_in, D, H, W) tensors or a
                (N, C_in, D, H, W) tensor, data_samples=list or None)``.
            training: Unused (no batch augmentation).

        Returns:
            dict: ``inputs`` ``(N, C_in, D', H', W')`` float32 and the
            ``data_samples`` with padded ``gt_seg``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 5:
                raise ValueError(
                    'VolumeSegDataPreprocessor: a stacked input must be '
                    f'(N, C, D, H, W), got {tuple(inputs.shape)}')
            inputs = list(inputs)
        if not inputs:
            raise ValueError('VolumeSegDataPreprocessor: empty batch')
        num_channels = self.mean.size(0)
        for i, x in enumerate(inputs):
            if x.dim() != 4 or (num_channels > 1
                                and x.size(0) != num_channels):
                raise ValueError(
                    f'VolumeSegDataPreprocessor: input {i} must be '
                    f'({num_channels}, D, H, W), got {tuple(x.shape)}')
        if len({x.size(0) for x in inputs}) > 1:
            raise ValueError('VolumeSegDataPreprocessor: inputs have '
                             'different channel numbers '
                             f'{[x.size(0) for x in inputs]}')
        div = self.pad_size_divisor
        shape = [
            int(math.ceil(max(x.shape[a] for x in inputs) / div)) * div
            for a in (1, 2, 3)
        ]
        # One allocation, filled in place (whole CT volumes are large).
        batch = torch.full((len(inputs), inputs[0].size(0), *shape),
                           self.pad_value,
                           dtype=torch.float32,
                           device=inputs[0].device)
        for i, x in enumerate(inputs):
            batch[i, :, :x.size(1), :x.size(2), :x.size(3)].copy_(x)
        batch.sub_(self.mean).div_(self.std)

        data_samples = data.get('data_samples')
        if data_samples is not None:
            if len(data_samples) != len(inputs):
                raise ValueError(
                    f'VolumeSegDataPreprocessor: {len(inputs)} inputs but '
                    f'{len(data_samples)} data samples')
            for x, sample in zip(inputs, data_samples):
                meta = dict(batch_input_shape=tuple(shape))
                if 'img_shape' not in sample:
                    meta['img_shape'] = tuple(x.shape[1:])
                sample.set_metainfo(meta)
                if 'gt_seg' in sample:
                    gt = sample.gt_seg
                    if tuple(gt.shape) != tuple(x.shape[1:]):
                        raise ValueError(
                            'VolumeSegDataPreprocessor: gt_seg '
                            f'{tuple(gt.shape)} and input '
                            f'{tuple(x.shape[1:])} of case '
                            f'{sample.metainfo.get("case_id", "?")} differ')
                    pad = []
                    for a in (2, 1, 0):
                        pad += [0, shape[a] - gt.shape[a]]
                    sample.gt_seg = F.pad(
                        gt.long(), pad, value=self.seg_pad_value)
        return dict(inputs=batch, data_samples=data_samples)
