# Small CPU VDT pre-training of an MP3D-18ba backbone (16 base channels,
# 3 slices, GTM depth collapse, GroupNorm with 8 groups) on Fashion-MNIST:
# the checkpoint initialises a DeepLesion detector with the same backbone
# width (GroupNorm tensors do not depend on the group count; exclude the
# slice-count dependent GTM weights, e.g. exclude=['collapse']).
_base_ = './vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='cspr_det.MP3DResNet',
        depth='18ba',
        in_channels=1,
        base_channels=16,
        num_slices=3,
        collapse='gtm',
        out_indices=(3, ),
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
    head=dict(in_channels=128))
