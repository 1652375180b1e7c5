"""Global-average-pooling + linear classification head for 2D or 3D maps."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement

from cspr_det.registry import MODELS


@MODELS.register_module()
class LinearClsHead3D(BaseModule):
    """Classification head: global average pooling over every non-channel
    axis, optional dropout, one linear layer, label-smoothing cross-entropy.

    Accepts 3D maps (N, C, D, H, W) as produced by a 3D ResNet and 2D maps
    (N, C, H, W) as produced by backbones that collapse depth (MP3D, P3D).
    With a tuple of maps, the last one is used.

    The head of both uses of the 3D classifier: VDT pre-training (1000
    classes, label smoothing 0.1) and LIDC nodule malignancy (2 classes,
    plain cross-entropy, optionally class-weighted).

    Args:
        num_classes: Number of classes.
        in_channels: Channels C of the input map.
        label_smoothing: Label smoothing of the cross-entropy (0.1 in the
            VDT recipe).
        dropout: Dropout probability before the linear layer (0 = none).
        loss_weight: Multiplier of the loss.
        class_weight: Optional per-class weights of the cross-entropy
            (length ``num_classes``), e.g. for unbalanced benign/malignant
            nodules. None: unweighted.
        init_cfg: mmengine init config; default Normal(std=0.01) on the
            linear layer, bias 0.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        label_smoothing: float = 0.1,
        dropout: float = 0.0,
        loss_weight: float = 1.0,
        class_weight: Optional[Sequence[float]] = None,
        init_cfg: Optional[Union[dict, List[dict]]] = dict(
            type='Normal', layer='Linear', std=0.01)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError('LinearClsHead3D: num_classes must be >= 1, got '
                             f'{num_classes}')
        if in_channels < 1:
            raise ValueError('LinearClsHead3D: in_channels must be >= 1, got '
                             f'{in_channels}')
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError('LinearClsHead3D: label_smoothing must be in '
                             f'[0, 1), got {label_smoothing}')
        if class_weight is not None and (len(class_weight) != num_classes
                                         or any(
                                             float(w) < 0
                                             for w in class_weight)):
            raise ValueError(
                'LinearClsHead3D: class_weight needs num_classes='
                f'{num_classes} non-negative values, got {class_weight!r}')
        self.num_classes = num_classes
        self.class_weight = None if class_weight is None else [
            float(w) for w in class_weight
        ]
        self.in_channels = in_channels
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)

    def pool(
            self, feats: Union[torch.Tensor,
                               Sequence[torch.Tensor]]) -> torch.Tensor:
        """Global average pooling.

        Args:
            feats: (N, C, ...) map or a tuple of maps (the last is used).

        Returns:
            torch.Tensor: (N, C) pooled features.
        """
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        if feats.dim() < 3:
            raise ValueError(
                'LinearClsHead3D: expected an (N, C, ...) map with spatial '
                f'axes, got shape {tuple(feats.shape)}')
        if feats.shape[1] != self.in_channels:
            raise ValueError(
                f'LinearClsHead3D: expected {self.in_channels} channels, got '
                f'input of shape {tuple(feats.shape)}')
        return feats.flatten(2).mean(dim=2)

    def forward(
            self, feats: Union[torch.Tensor,
                               Sequence[torch.Tensor]]) -> torch.Tensor:
        """Compute class logits.

        Args:
            feats: (N, C, D, H, W) or (N, C, H, W) map, or a tuple of maps.

        Returns:
            torch.Tensor: (N, num_classes) logits.
        """
        return self.fc(self.dropout(self.pool(feats)))

    @staticmethod
    def _labels(data_samples: Sequence[BaseDataElement],
                device: torch.device) -> torch.Tensor:
        if data_samples is None or not all('gt_label' in s
                                           for s in data_samples):
            raise ValueError('LinearClsHead3D.loss: every data sample needs '
                             'a gt_label')
        return torch.cat([s.gt_label.reshape(-1) for s in data_samples]).to(
            device=device, dtype=torch.long)

    def loss(self, feats: Union[torch.Tensor, Sequence[torch.Tensor]],
             data_samples: Sequence[BaseDataElement]) -> dict:
        """Label-smoothing cross-entropy and (logged only) batch top-1.

        Args:
            feats: Backbone output(s).
            data_samples: N samples with ``gt_label`` (shape (1,)).

        Returns:
            dict: ``loss_cls`` (scalar) and ``acc_top1`` (scalar, percent,
            no gradient; not summed into the total loss).
        """
        logits = self(feats)
        labels = self._labels(data_samples, logits.device)
        if labels.numel() != logits.shape[0]:
            raise ValueError(f'LinearClsHead3D.loss: {labels.numel()} labels '
                             f'for a batch of {logits.shape[0]}')
        weight = None if self.class_weight is None else \
            logits.new_tensor(self.class_weight, dtype=torch.float32)
        loss = F.cross_entropy(
            logits.float(),
            labels,
            weight=weight,
            label_smoothing=self.label_smoothing)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == labels).float().mean() * 100
        return dict(loss_cls=loss * self.loss_weight, acc_top1=acc)

    def predict(
        self,
        feats: Union[torch.Tensor, Sequence[torch.Tensor]],
        data_samples: Optional[Sequence[BaseDataElement]] = None
    ) -> List[BaseDataElement]:
        """Softmax scores and arg-max labels.

        Args:
            feats: Backbone output(s) for N images.
            data_samples: Optional N samples to write into (new ones are
                created when None).

        Returns:
            list[BaseDataElement]: N samples with ``pred_score``
            (num_classes,) float and ``pred_label`` (1,) long.
        """
        logits = self(feats)
        scores = F.softmax(logits.float(), dim=1).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(len(scores))]
        out = []
        for sample, score, label in zip(data_samples, scores, labels):
            sample.pred_score = score
            sample.pred_label = label
            out.append(sample)
        return out

    def extra_repr(self) -> str:
        return f'label_smoothing={self.label_smoothing}'
