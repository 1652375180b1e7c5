# 2D baseline: ImageNet ResNet-50 (mmdet's usual set-up: frozen stem and first
# stage, frozen BN statistics) on the key slice and its two 2.5 mm neighbours
# as an RGB-like 3-channel image. torchvision://resnet50 needs torchvision and
# a download (or its cache); to use a local copy,
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH/resnet50-0676ba61.pth
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_3slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(
            type='cspr_det.PretrainedBackbone',
            checkpoint='torchvision://resnet50')))
