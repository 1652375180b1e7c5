# LIDC nodule segmentation: ResNet3D-18 without stem stride or max-pool and
# stage strides (1, 2, 1, 2) (isotropic), so on (N, 1, 48, 48, 48) crops the
# stem map is 48^3 (64 ch), layer2 24^3 (128 ch) and layer4 12^3 (512 ch);
# the fusion FCN head (cspr_det.LIDCFusionHead3D) concatenates layer2 with the
# upsampled layer4 (1x1x1 conv to 512), then the stem with the upsampled
# result (1x1x1 conv to 512), then 3x3x3 conv 512 -> 128 + BN + ReLU, dropout
# and a 1x1x1 conv to 2 classes. Loss: cross-entropy over the class axis
# (1.0) + soft Dice of the nodule class (0.5). Whole-crop inference.
# VDT-pre-trained encoder:
#   backbone=dict(init_cfg=dict(type='cspr_det.PretrainedBackbone',
#                               checkpoint=CKPT, prefix='backbone.'))
norm_cfg = dict(type='BN3d', requires_grad=True)
model = dict(
    type='cspr_det.VolumeSegmentor',
    data_preprocessor=dict(
        type='cspr_det.VolumeSegDataPreprocessor',
        mean=114.495,
        std=57.63,
        pad_size_divisor=4,
        pad_value=0,
        seg_pad_value=255),
    backbone=dict(
        type='cspr_det.ResNet3D',
        depth=18,
        in_channels=1,
        base_channels=64,
        stem_stride=(1, 1, 1),
        with_pool=False,
        spatial_strides=(1, 2, 1, 2),
        depth_strides=(1, 2, 1, 2),
        stem_skip=True,
        out_indices=(1, 3),
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(
        type='cspr_det.LIDCFusionHead3D',
        num_classes=2,
        in_channels=(64, 128, 512),
        in_indices=(0, 1, 2),
        fuse_channels=512,
        channels=128,
        dropout_ratio=0.1,
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
    test_cfg=dict(mode='whole', return_logits=False))
