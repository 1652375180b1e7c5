# VDT pre-training of the P3D-63 baseline backbone (3 slices; depth
# max-pooling after stages 1-3, centre slice of layer4 is classified).
# GroupNorm(32) as in the DeepLesion detection configs.
_base_ = './vdt_resnet3d18_8xb32-cosine-100e_imagenet.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='cspr_det.P3DResNet',
        depth=63,
        in_channels=1,
        num_slices=3,
        out_indices=(3, ),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    head=dict(in_channels=2048))
