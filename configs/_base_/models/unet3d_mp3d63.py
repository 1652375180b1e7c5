# The StdUNet decoder on the MP3D-63 detection backbone used as a 5D
# segmentation encoder: collapse='none' keeps every stage (N, C, D, h, w);
# the stem (1x7x7, stride (1, 2, 2)) and its max-pool (3x3x3, stride
# (1, 2, 2)) reduce only the in-plane size, so the skips are the stem map at
# 1/2 and stages at 1/4 ... 1/32 in-plane with full depth. The decoder
# upsamples each level to its skip's size (x2 in-plane, x1 in depth here)
# and the segmentor resizes the head's 1/2-resolution logits to the input.
# GroupNorm(32) as in the MP3D-63 detection and VDT pre-training configs, so
# every encoder tensor transfers (the pre-training GTM weights are reported
# as unexpected keys: collapse='none' has none).
_base_ = './unet3d_resnet3d18.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='cspr_det.MP3DResNet',
        depth=63,
        in_channels=1,
        num_slices=None,
        collapse='none',
        stem_pool_kernel=(3, 3, 3),
        stem_skip=True,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        init_cfg=None),
    neck=dict(in_channels=(64, 256, 512, 1024, 2048)))
