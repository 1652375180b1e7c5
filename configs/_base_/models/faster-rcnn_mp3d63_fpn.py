# Faster R-CNN + FPN on an MP3D-63 backbone (GTM depth collapse) for lesions.
# Inputs follow the 2.5D contract: (N, S, H, W) slice stacks, windowed to
# 0-255, one mean/std for every slice (the VDT pre-training statistics).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[114.495],
        std=[57.63],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='cspr_det.MP3DResNet',
        depth=63,
        in_channels=1,
        num_slices=9,
        collapse='gtm',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    rpn_head=dict(
        # lesions are small: 16 px base anchors at stride 4
        anchor_generator=dict(scales=[4], ratios=[0.5, 1.0, 2.0])),
    roi_head=dict(bbox_head=dict(num_classes=1)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=256)),
        rcnn=dict(sampler=dict(num=512, pos_fraction=0.25))),
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100)))
