"""FCN segmentation head for 5D feature maps."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from cspr_det.registry import MODELS


@MODELS.register_module()
class FCNHead3D(BaseModule):
    """Convolutions, Dropout3d and a 1x1x1 classifier (the StdUNet head).

    Layout: ``num_convs`` x (3x3x3 conv + norm + act), ``in_channels ->
    channels -> channels``; ``Dropout3d(dropout_ratio)``; 1x1x1 conv
    ``channels -> num_classes`` (``conv_seg``, with bias).

    Losses: ``loss`` is one loss config or a list (their values are logged
    under each loss's ``loss_name``; equal names are summed). Logits are
    resized trilinearly to the ground truth when they are smaller (e.g.
    encoders whose first skip is at 1/2 resolution). The head also logs
    ``acc_seg``, the voxel accuracy (%) over non-ignored voxels.

    Args:
        num_classes: Output classes ``C`` (background included).
        in_channels: Channels of the decoder map.
        channels: Width of the convs (16).
        num_convs: Number of 3x3x3 convs (2).
        kernel_size: Kernel of those convs.
        dropout_ratio: ``Dropout3d`` probability (0.1; 0 disables).
        in_index: Which map of a tuple input is used (0: the finest).
        ignore_index: Label ignored by the losses and ``acc_seg`` (255).
        align_corners: ``align_corners`` of the logit resize.
        loss: Loss config(s); default CE + 0.5 soft Dice on the foreground.
        conv_cfg, norm_cfg, act_cfg: Defaults Conv3d, BN3d, ReLU.
        init_cfg: Default Kaiming for the convs, Normal(std=0.01) for
            ``conv_seg``.

    Shapes:
        ``(N, in_channels, D, H, W)`` -> logits ``(N, num_classes, D, H, W)``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 64,
                 channels: int = 16,
                 num_convs: int = 2,
                 kernel_size: int = 3,
                 dropout_ratio: float = 0.1,
                 in_index: int = 0,
                 ignore_index: int = 255,
                 align_corners: bool = False,
                 loss: Union[dict, Sequence[dict]] = (
                     dict(
                         type='cspr_det.VoxelCrossEntropyLoss',
                         loss_weight=1.0),
                     dict(
                         type='cspr_det.SoftDiceLoss',
                         include_background=False,
                         loss_weight=0.5)),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=[
            dict(type='Kaiming', layer='Conv3d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
            dict(type='Normal', std=0.01, override=dict(name='conv_seg'))
        ] if init_cfg is None else init_cfg)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError('FCNHead3D: num_classes must be a positive int, '
                             f'got {num_classes!r}')
        if num_convs < 0 or (num_convs > 0 and channels < 1):
            raise ValueError(f'FCNHead3D: num_convs={num_convs} and '
                             f'channels={channels} must be non-negative')
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError('FCNHead3D: dropout_ratio must be in [0, 1), '
                             f'got {dropout_ratio}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.channels = channels if num_convs > 0 else in_channels
        self.in_index = in_index
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        cfg = dict(
            conv_cfg=dict(type='Conv3d') if conv_cfg is None else conv_cfg,
            norm_cfg=dict(type='BN3d', requires_grad=True)
            if norm_cfg is None else norm_cfg,
            act_cfg=dict(type='ReLU') if act_cfg is None else act_cfg)
        convs = []
        for i in range(num_convs):
            convs.append(
                ConvModule(
                    in_channels if i == 0 else channels,
                    channels,
                    kernel_size,
                    padding=kernel_size // 2,
                    **cfg))
        self.convs = nn.Sequential(*convs)
        self.dropout = nn.Dropout3d(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()
        self.conv_seg = nn.Conv3d(self.channels, num_classes, kernel_size=1)
        loss_cfgs = [loss] if isinstance(loss, dict) else list(loss)
        if not loss_cfgs:
            raise ValueError('FCNHead3D: loss needs at least one config')
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in loss_cfgs)

    def forward(
            self, inputs: Union[torch.Tensor,
                                Sequence[torch.Tensor]]) -> torch.Tensor:
        """Class logits of the decoder map.

        Args:
            inputs: ``(N, in_channels, D, H, W)`` or a tuple of decoder maps
                (``inputs[in_index]`` is used).

        Returns:
            torch.Tensor: ``(N, num_classes, D, H, W)`` logits.
        """
        x = inputs if isinstance(inputs, torch.Tensor) \
            else inputs[self.in_index]
        if x.dim() != 5 or x.size(1) != self.in_channels:
            raise ValueError(
                f'FCNHead3D: expected (N, {self.in_channels}, D, H, W), got '
                f'{tuple(x.shape)}')
        return self.conv_seg(self.dropout(self.convs(x)))

    def loss(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
             data_samples: Sequence) -> Dict[str, torch.Tensor]:
        """Forward and losses against ``data_samples[i].gt_seg``.

        Args:
            inputs: Decoder map(s), see :meth:`forward`.
            data_samples: :class:`~cspr_det.structures.VolumeSegDataSample`
                list with ``gt_seg`` ``(D, H, W)`` each (padded alike).

        Returns:
            dict: the losses and ``acc_seg``.
        """
        return self.loss_by_feat(self.forward(inputs), data_samples)

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     data_samples: Sequence) -> Dict[str, torch.Tensor]:
        """Losses of ``(N, C, d, h, w)`` logits against the stacked
        ``gt_seg`` ``(N, D, H, W)`` (logits resized when smaller)."""
        missing = [i for i, s in enumerate(data_samples) if 'gt_seg' not in s]
        if missing:
            raise ValueError(
                f'FCNHead3D: data sample(s) {missing} have no gt_seg')
        shapes = {tuple(s.gt_seg.shape) for s in data_samples}
        if len(shapes) != 1:
            raise ValueError(
                f'FCNHead3D: gt_seg shapes differ within the batch {shapes}; '
                'the data preprocessor pads them to one shape')
        target = torch.stack([s.gt_seg for s in data_samples]).long()
        target = target.to(seg_logits.device)
        if seg_logits.shape[2:] != target.shape[1:]:
            seg_logits = F.interpolate(
                seg_logits,
                size=target.shape[1:],
                mode='trilinear',
                align_corners=self.align_corners)
        losses: Dict[str, torch.Tensor] = {}
        for loss_fn in self.losses:
            value = loss_fn(seg_logits, target)
            name = loss_fn.loss_name
            losses[name] = losses[name] + value if name in losses else value
        with torch.no_grad():
            valid = target != self.ignore_index
            correct = (seg_logits.argmax(1) == target) & valid
            losses['acc_seg'] = correct.sum().float() * 100.0 / \
                valid.sum().clamp(min=1).float()
        return losses
