# VDT pre-training of the MP3D-63 detection backbone itself (3 slices, Group
# Transform Modules collapse depth after layer4). GroupNorm(32) as in the
# DeepLesion detection configs so every norm tensor transfers. The GTM weights
# depend on the number of slices (3 here, 9 in detection): exclude them when
# transferring, e.g.
#   init_cfg=dict(type='cspr_det.PretrainedBackbone', checkpoint=CKPT,
#                 prefix='backbone.', exclude=['collapse'])
_base_ = './vdt_resnet3d18_8xb32-cosine-100e_imagenet.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='cspr_det.MP3DResNet',
        depth=63,
        in_channels=1,
        num_slices=3,
        collapse='gtm',
        out_indices=(3, ),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    head=dict(in_channels=2048))
