# 3DCE baseline (Yan et al., MICCAI 2018) in FPN form: 27 slices at 2.5 mm in
# 9 groups of 3 go through one shared 2D ResNet-50 (batched), the 9 group
# feature maps of every level are concatenated and fused by a 1x1 conv
# (cspr_det.ThreeDCEFusion) before an ordinary FPN and Faster R-CNN heads.
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_27slice.py',
    '../_base_/schedules/schedule_deeplesion_24e.py',
    '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='cspr_det.ThreeDCEBackbone',
        num_slices=27,
        group_size=3,
        backbone=dict(
            type='mmdet.ResNet',
            depth=50,
            in_channels=3,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            frozen_stages=-1,
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
            norm_eval=False,
            style='pytorch',
            init_cfg=None)),
    neck=[
        dict(
            type='cspr_det.ThreeDCEFusion',
            in_channels=[9 * 256, 9 * 512, 9 * 1024, 9 * 2048],
            out_channels=[256, 512, 1024, 2048]),
        dict(
            type='FPN',
            in_channels=[256, 512, 1024, 2048],
            out_channels=256,
            num_outs=5)
    ])
