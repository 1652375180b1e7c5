# LIDC nodule malignancy classifier: the general 3D classifier
# (cspr_det.VolumeClassifier, also used for VDT pre-training) with a
# ResNet3D-18 encoder (BN, 1 input channel) on 48^3 crops: isotropic strides,
# stem stride 2 and max-pool stride 2, stages (1, 2, 2, 2), so the maps are
# 24^3 (stem), 12^3 (layer1), 6^3, 3^3 and 2^3 (layer4, 512 channels); 3D
# global average pooling, one linear layer, plain cross-entropy (no label
# smoothing).
# Inputs: (N, 1, 48, 48, 48) crops in 0-255 units, normalised with the VDT
# pre-training mean/std by the volume data preprocessor (no padding needed).
# VDT-pre-trained encoder:
#   backbone=dict(init_cfg=dict(type='cspr_det.PretrainedBackbone',
#                               checkpoint=CKPT, prefix='backbone.'))
norm_cfg = dict(type='BN3d', requires_grad=True)
model = dict(
    type='cspr_det.VolumeClassifier',
    data_preprocessor=dict(
        type='cspr_det.VolumeSegDataPreprocessor',
        mean=114.495,
        std=57.63,
        pad_size_divisor=1),
    backbone=dict(
        type='cspr_det.ResNet3D',
        depth=18,
        in_channels=1,
        base_channels=64,
        stem_stride=(2, 2, 2),
        pool_stride=(2, 2, 2),
        spatial_strides=(1, 2, 2, 2),
        depth_strides=(1, 2, 2, 2),
        out_indices=(3, ),
        norm_cfg=norm_cfg,
        init_cfg=None),
    head=dict(
        type='cspr_det.LinearClsHead3D',
        num_classes=2,
        in_channels=512,
        label_smoothing=0.0))
