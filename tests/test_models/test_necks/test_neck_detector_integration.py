"""The 2D outputs of the pseudo-3D backbones/necks drive mmdet's Faster R-CNN
(RPN + RoI heads) unchanged: one loss/backward and one predict call."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

C = 16


def _faster_rcnn(backbone, neck):
    box_coder = dict(
        type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[1.] * 4)
    assigner = dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.5,
        neg_iou_thr=0.3,
        min_pos_iou=0.3,
        ignore_iof_thr=-1)
    return dict(
        type='FasterRCNN',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[128.],
            std=[50.],
            bgr_to_rgb=False,
            pad_size_divisor=32),
        backbone=backbone,
        neck=neck,
        rpn_head=dict(
            type='RPNHead',
            in_channels=C,
            feat_channels=C,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[4],
                ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64]),
            bbox_coder=box_coder,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True),
            loss_bbox=dict(type='L1Loss')),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=C,
                featmap_strides=[4, 8, 16, 32]),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=C,
                fc_out_channels=32,
                roi_feat_size=7,
                num_classes=1,
                bbox_coder=box_coder,
                loss_cls=dict(type='CrossEntropyLoss'),
                loss_bbox=dict(type='L1Loss'))),
        train_cfg=dict(
            rpn=dict(
                assigner=assigner,
                sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            rpn_proposal=dict(
                nms_pre=200,
                max_per_img=100,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                assigner=assigner,
                sampler=dict(
                    type='RandomSampler',
                    num=64,
                    pos_fraction=0.25,
                    add_gt_as_proposals=True),
                pos_weight=-1,
                debug=False)),
        test_cfg=dict(
            rpn=dict(
                nms_pre=200,
                max_per_img=100,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                score_thr=0.0,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=10)))


CASES = {
    'mp3d_gtm+fpn':
    (dict(
        type='cspr_det.MP3DResNet',
        depth='18ba',
        base_channels=8,
        num_slices=9),
     dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=C,
          num_outs=5), 9),
    'mp3d_none+fpn3d': (dict(
        type='cspr_det.MP3DResNet',
        depth='18ba',
        base_channels=8,
        num_slices=9,
        collapse='none'),
                        dict(
                            type='cspr_det.FPN3D',
                            in_channels=[8, 16, 32, 64],
                            out_channels=C,
                            num_outs=5,
                            num_slices=9), 9),
    # early fusion (3DCE proper is the cspr_det.ThreeDCE detector)
    'group_concat+fusion+fpn': (dict(
        type='cspr_det.ThreeDCEBackbone',
        num_slices=9,
        backbone=dict(type='ResNet', depth=18, base_channels=4)), [
            dict(
                type='cspr_det.ThreeDCEFusion',
                in_channels=[12, 24, 48, 96],
                out_channels=[8, 16, 32, 64]),
            dict(
                type='FPN',
                in_channels=[8, 16, 32, 64],
                out_channels=C,
                num_outs=5)
        ], 9),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_faster_rcnn_trains_and_predicts(case):
    import mmdet.models  # noqa: F401  (registers mmdet modules)
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    backbone, neck, s = CASES[case]
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(ConfigDict(_faster_rcnn(backbone, neck)))
    meta = dict(
        img_shape=(64, 64),
        pad_shape=(64, 64),
        ori_shape=(64, 64),
        batch_input_shape=(64, 64),
        scale_factor=(1., 1.))
    samples = []
    for _ in range(2):
        ds = DetDataSample(metainfo=meta)
        ds.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 30., 28.]]),
            labels=torch.tensor([0]))
        samples.append(ds)
    data = model.data_preprocessor(
        dict(
            inputs=[torch.rand(s, 64, 64) * 255 for _ in range(2)],
            data_samples=samples),
        training=True)
    assert data['inputs'].shape == (2, s, 64, 64)
    seen = {}
    model.rpn_head.register_forward_pre_hook(
        lambda _, args: seen.__setitem__('rpn', args[0]))
    model.roi_head.bbox_roi_extractor.register_forward_pre_hook(
        lambda _, args: seen.__setitem__('roi', args[0]))
    losses = model.loss(data['inputs'], data['data_samples'])
    # wiring: all 5 FPN levels (strides 4..64) reach the RPN and the first 4
    # the RoI extractor, each at its stride and of width C
    assert [tuple(f.shape) for f in seen['rpn']
            ] == [(2, C, 64 // st, 64 // st) for st in (4, 8, 16, 32, 64)]
    assert [tuple(f.shape) for f in seen['roi']] == [(2, C, 64 // st, 64 // st)
                                                     for st in (4, 8, 16, 32)]
    total = sum(
        v if isinstance(v, torch.Tensor) else sum(v)
        for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.parameters().__next__().grad is not None
    model.eval()
    with torch.no_grad():
        res = model.predict(data['inputs'], data['data_samples'])
    assert res[0].pred_instances.bboxes.shape[1] == 4
