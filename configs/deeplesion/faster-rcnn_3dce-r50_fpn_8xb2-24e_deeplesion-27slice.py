# 3DCE (Yan et al., MICCAI 2018) in FPN form, as the MP3D authors
# re-implemented it: 27 slices at 2.5 mm in 9 groups of 3 (one RGB-like image
# each) run through one shared ImageNet ResNet-50 (frozen BN statistics) and
# FPN; the RPN sees only the central group (the key slice and its neighbours),
# the R-CNN a 1x1 conv fusion of all 9 groups at each of its 4 levels
# (cspr_det.ThreeDCE).
# ImageNet weights: torchvision://resnet50 needs torchvision and a download (or
# its cache); to use a local copy,
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH/resnet50-0676ba61.pth
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_27slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]
model = dict(
    type='cspr_det.ThreeDCE',
    num_slices={{_base_.num_slices}},
    group_size=3,
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
            checkpoint='torchvision://resnet50')),
    # one 1x1 conv (+ReLU) shared by the 4 RoI levels: 9 groups x 256 -> 256
    fusion=dict(
        type='cspr_det.ThreeDCEFusion',
        in_channels=[9 * 256] * 4,
        out_channels=256,
        shared=True))
