# One-stage variant: RetinaNet + FPN on MP3D-63 (GTM). FPN starts at stride 4
# (start_level=0) so that small lesions have anchors of 16-32 px.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

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
    neck=dict(start_level=0, add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(
        num_classes=1,
        anchor_generator=dict(octave_base_scale=4, strides=[4, 8, 16, 32,
                                                            64])),
    test_cfg=dict(
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
