# 2D baseline: ResNet-50 on the key slice and its two 2.5 mm neighbours as an
# RGB-like 3-channel image. ImageNet weights (torchvision layout) can be given
# with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_3slice.py',
    '../_base_/schedules/schedule_deeplesion_24e.py',
    '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        in_channels=3,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None))
