# VDT classifier with the CSPR 3D ResNet-18: (N, 3, H, W) images lifted to
# (N, 1, 3, H, W); strides (1, 2, 2) so depth stays 3; 3D global average
# pooling of layer4 (N, 512, 3, 7, 7) and a linear layer; cross-entropy with
# label smoothing 0.1; one mean/std for all slices.
model = dict(
    type='cspr_det.VolumeClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[114.495],
        std=[57.63],
        bgr_to_rgb=False),
    backbone=dict(
        type='cspr_det.ResNet3D',
        depth=18,
        in_channels=1,
        base_channels=64,
        stem_stride=(1, 2, 2),
        out_indices=(3, ),
        norm_cfg=dict(type='BN3d', requires_grad=True)),
    head=dict(
        type='cspr_det.LinearClsHead3D',
        num_classes=1000,
        in_channels=512,
        label_smoothing=0.1))
