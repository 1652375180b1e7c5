# The reference "StdUNet" of CSPR segmentation: a 3D ResNet-18 encoder
# (stride-1 7x7x7 stem, isotropic stride-2 max-pool, stages at 1/2 ... 1/16,
# the full-resolution stem map as the first skip), a U-Net decoder (per level:
# trilinear x2, 1x1x1 conv, concatenate the skip, two 3x3x3 convs; channels
# 64/64/128/256/512) and an FCN head (64 -> 16 -> 16 -> classes).
# Inputs: (N, 1, D, H, W) crops windowed to 0-255, normalised with the VDT
# pre-training statistics and padded to a multiple of 16.
# Loss: CE + 0.5 soft Dice over the foreground classes (LiTS recipe). The
# multi-organ recipe (BTCV) uses Dice with background + 0.3 CE:
#   loss=[dict(type='cspr_det.SoftDiceLoss', include_background=True,
#              loss_weight=1.0),
#         dict(type='cspr_det.VoxelCrossEntropyLoss', loss_weight=0.3)]
# VDT-pre-trained encoder (decoder and head stay randomly initialised):
#   backbone=dict(init_cfg=dict(type='cspr_det.PretrainedBackbone',
#                               checkpoint=CKPT, prefix='backbone.'))
norm_cfg = dict(type='BN3d', requires_grad=True)
model = dict(
    type='cspr_det.VolumeSegmentor',
    data_preprocessor=dict(
        type='cspr_det.VolumeSegDataPreprocessor',
        mean=114.495,
        std=57.63,
        pad_size_divisor=16,
        pad_value=0,
        seg_pad_value=255),
    backbone=dict(
        type='cspr_det.ResNet3D',
        depth=18,
        in_channels=1,
        base_channels=64,
        stem_stride=(1, 1, 1),
        pool_stride=(2, 2, 2),
        spatial_strides=(1, 2, 2, 2),
        depth_strides=(1, 2, 2, 2),
        stem_skip=True,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        init_cfg=None),
    neck=dict(
        type='cspr_det.UNet3DNeck',
        in_channels=(64, 64, 128, 256, 512),
        channels=(64, 64, 128, 256, 512),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='cspr_det.FCNHead3D',
        in_channels=64,
        channels=16,
        num_convs=2,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        ignore_index=255,
        loss=[
            dict(type='cspr_det.VoxelCrossEntropyLoss', loss_weight=1.0),
            dict(
                type='cspr_det.SoftDiceLoss',
                include_background=False,
                smooth=1e-3,
                loss_weight=0.5)
        ]),
    train_cfg=dict(),
    test_cfg=dict(
        mode='slide',
        window=(32, 256, 256),
        stride=(12, 128, 128),
        sw_batch_size=2,
        weighting='uniform',
        accum_device=None,
        return_logits=False,
        largest_component=None))
