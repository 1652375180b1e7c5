"""3DCE: 3D context enhanced two-stage detection on slice groups."""
import copy
import logging
from typing import Optional, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm

from cspr_det.models.backbones.three_dce_backbone import (num_slice_groups,
                                                          split_slice_groups)
from cspr_det.registry import MODELS

Features = Tuple[torch.Tensor, ...]


@MODELS.register_module()
class ThreeDCE(TwoStageDetector):
    """3D context enhanced R-CNN (3DCE, Yan et al., MICCAI 2018) in FPN form.

    The ``(N, S, H, W)`` stack of the 2.5D contract (``S = num_slices``
    neighbouring slices as channels, key slice in the middle) is split into
    ``G = S / group_size`` groups of ``group_size`` consecutive slices. Every
    group is an ordinary 2D image (3 slices = the RGB of an ImageNet model)
    and runs through the *shared* 2D backbone and neck (one batched call on
    ``N*G`` images). Then, per feature level:

    - the RPN sees only the **central group** ``G // 2`` (the key slice and
      its direct neighbours), so proposals come from the key slice's maps;
    - the R-CNN (RoI head) sees the ``fusion`` of all groups: the ``G``
      maps of a level are concatenated group-major, ``(N, G*C, h, w)``,
      and reduced by a 1x1 conv (:class:`cspr_det.ThreeDCEFusion`).

    The fusion covers the first ``len(fusion.in_channels)`` neck levels,
    which must be the levels the RoI extractor reads (its
    ``featmap_strides``), so no fused map goes unused.

    With batch-statistics BN (``norm_eval=False``) the groups of a batch are
    normalised together and the RPN would depend on the other groups too;
    use frozen statistics (``norm_eval=True``, the ImageNet setting) or GN.
    A warning is logged otherwise.

    Args:
        backbone: 2D backbone with ``group_size`` input channels, e.g.
            mmdet's ``ResNet`` (``in_channels=3``).
        neck: 2D neck (e.g. mmdet's ``FPN``) applied to every group.
        rpn_head: RPN head config (required; fed the central group).
        roi_head: RoI head config (fed the fused maps).
        fusion: Config of the group fusion, e.g. ``dict(
            type='cspr_det.ThreeDCEFusion', in_channels=[G*256] * 4,
            out_channels=256)``.
        num_slices: ``S``, slices x HU windows of the input stack.
        group_size: Slices per group (3 for an RGB backbone).
        train_cfg: ``rpn``, ``rpn_proposal`` and ``rcnn`` training configs.
        test_cfg: ``rpn`` and ``rcnn`` test configs.
        data_preprocessor: mmdet ``DetDataPreprocessor`` config.
        init_cfg: mmengine init config.

    Shapes:
        inputs ``(N, S, H, W)``; :meth:`extract_feat` gives one
        ``(N, G, C, H_l, W_l)`` per neck level; the RPN gets
        ``(N, C, H_l, W_l)`` (central group) and the RoI head
        ``(N, C_fused, H_l, W_l)`` per fused level.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 fusion: ConfigType,
                 num_slices: int = 27,
                 group_size: int = 3,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if rpn_head is None or roi_head is None:
            raise ValueError('ThreeDCE needs an rpn_head (fed the central '
                             'slice group) and a roi_head (fed the fusion)')
        num_groups = num_slice_groups(num_slices, group_size, 'ThreeDCE')
        if num_groups % 2 == 0:
            raise ValueError(
                f'ThreeDCE: num_slices={num_slices} / group_size={group_size} '
                f'gives {num_groups} groups; an odd number is needed so that '
                'one group is centred on the key slice')
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.num_slices = num_slices
        self.group_size = group_size
        self.num_groups = num_groups
        self.center_group = num_groups // 2
        self.fusion = MODELS.build(fusion)
        self.num_fused_levels = self._check_fusion()
        self._warn_on_batch_statistics()

    def _check_fusion(self) -> int:
        """Check the fusion against the neck width and the RoI extractor;
        return the number of fused levels."""
        in_channels = list(getattr(self.fusion, 'in_channels', []))
        if not in_channels:
            raise ValueError('ThreeDCE: the fusion module must expose its '
                             'in_channels (one entry per fused level)')
        width = getattr(self.neck if self.with_neck else self.backbone,
                        'out_channels', None)
        if isinstance(width, int) and \
                in_channels != [self.num_groups * width] * len(in_channels):
            raise ValueError(
                f'ThreeDCE: fusion in_channels must be num_groups x neck '
                f'out_channels = {self.num_groups} x {width} per level, got '
                f'{in_channels}')
        extractor = getattr(self.roi_head, 'bbox_roi_extractor', None)
        num_inputs = getattr(extractor, 'num_inputs', None)
        if num_inputs is not None and num_inputs != len(in_channels):
            raise ValueError(
                f'ThreeDCE: the fusion has {len(in_channels)} levels but the '
                f'RoI extractor reads {num_inputs} (featmap_strides); give '
                'the fusion one in_channels entry per RoI level')
        return len(in_channels)

    def _warn_on_batch_statistics(self) -> None:
        modules = [] if getattr(self.backbone, 'norm_eval', False) \
            else list(self.backbone.modules())
        if self.with_neck:
            modules += list(self.neck.modules())
        if any(isinstance(m, _BatchNorm) for m in modules):
            print_log(
                'ThreeDCE: batch-statistics BN (norm_eval=False) normalises '
                'all slice groups together, so in training the RPN also '
                'depends on the non-central groups; use norm_eval=True or GN',
                logger='current',
                level=logging.WARNING)

    def extract_feat(self, batch_inputs: torch.Tensor) -> Features:
        """Run every slice group through the shared backbone and neck.

        Args:
            batch_inputs: ``(N, S, H, W)``.

        Returns:
            tuple[torch.Tensor]: one ``(N, G, C, H_l, W_l)`` per neck level
            (group ``g`` = slices ``g*group_size .. (g+1)*group_size-1``).
        """
        n = batch_inputs.size(0)
        groups = split_slice_groups(batch_inputs, self.num_slices,
                                    self.group_size, 'ThreeDCE')
        feats = super().extract_feat(groups)
        return tuple(
            f.reshape(n, self.num_groups, *f.shape[1:]) for f in feats)

    def split_features(self, feats: Features) -> Tuple[Features, Features]:
        """The RPN's and the R-CNN's inputs from the per-group maps.

        Args:
            feats: Output of :meth:`extract_feat`, ``(N, G, C, H_l, W_l)``
                per level.

        Returns:
            tuple: ``(rpn_feats, rcnn_feats)``: the central group's maps
            ``(N, C, H_l, W_l)`` at every level, and the fused maps
            ``(N, C_fused, H_l, W_l)`` of the first ``num_fused_levels``
            levels.
        """
        if len(feats) < self.num_fused_levels:
            raise ValueError(
                f'ThreeDCE: the fusion expects {self.num_fused_levels} '
                f'levels, the neck gave {len(feats)}')
        rpn_feats = tuple(f[:, self.center_group] for f in feats)
        rcnn_feats = self.fusion(
            tuple(f.flatten(1, 2) for f in feats[:self.num_fused_levels]))
        return rpn_feats, tuple(rcnn_feats)

    def _features(self,
                  batch_inputs: torch.Tensor) -> Tuple[Features, Features]:
        return self.split_features(self.extract_feat(batch_inputs))

    def loss(self, batch_inputs: torch.Tensor,
             batch_data_samples: SampleList) -> dict:
        """RPN losses on the central group, R-CNN losses on the fusion.

        Args:
            batch_inputs: ``(N, S, H, W)``.
            batch_data_samples: mmdet data samples with ``gt_instances``.

        Returns:
            dict: ``loss_rpn_*`` and the RoI head's losses.
        """
        rpn_feats, rcnn_feats = self._features(batch_inputs)
        # the RPN is class-agnostic: every ground-truth box is foreground 0
        rpn_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_samples:
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        rpn_losses, proposals = self.rpn_head.loss_and_predict(
            rpn_feats,
            rpn_samples,
            proposal_cfg=self.train_cfg.get('rpn_proposal', self.test_cfg.rpn))
        losses = {
            (f'rpn_{k}' if 'loss' in k and 'rpn' not in k else k): v
            for k, v in rpn_losses.items()
        }
        losses.update(
            self.roi_head.loss(rcnn_feats, proposals, batch_data_samples))
        return losses

    def predict(self,
                batch_inputs: torch.Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Proposals from the central group, boxes from the fusion.

        Args:
            batch_inputs: ``(N, S, H, W)``.
            batch_data_samples: mmdet data samples (image metas).
            rescale: Boxes in the original image's pixels.

        Returns:
            list[DetDataSample]: with ``pred_instances`` (``bboxes``
            ``(n, 4)``, ``scores``, ``labels``).
        """
        rpn_feats, rcnn_feats = self._features(batch_inputs)
        proposals = self.rpn_head.predict(
            rpn_feats, batch_data_samples, rescale=False)
        results = self.roi_head.predict(
            rcnn_feats, proposals, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self,
                 batch_inputs: torch.Tensor,
                 batch_data_samples: Optional[SampleList] = None) -> tuple:
        """Raw RoI-head outputs (``mode='tensor'``), proposals from the
        central group."""
        rpn_feats, rcnn_feats = self._features(batch_inputs)
        proposals = self.rpn_head.predict(
            rpn_feats, batch_data_samples, rescale=False)
        return (self.roi_head.forward(rcnn_feats, proposals,
                                      batch_data_samples), )
