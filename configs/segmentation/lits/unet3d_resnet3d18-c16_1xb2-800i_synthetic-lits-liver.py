# The segmentation demo (`make demo-seg`): a slim StdUNet (ResNet3D-18 with
# 16 base channels, the width of the Fashion-MNIST VDT pre-training in the
# README, so that checkpoint initialises the encoder; decoder channels 8-128,
# head 8) for the liver on the synthetic LiTS: 800 iterations of 2 crops of
# 16 x 96 x 96, trained on 2 CPU cores in minutes. The VDT-initialised
# variant is unet3d_resnet3d18-c16-vdt_1xb2-800i_synthetic-lits-liver.py.
_base_ = [
    '../../_base_/models/unet3d_resnet3d18.py',
    '../../_base_/datasets/lits_synthetic_liver.py',
    '../../_base_/schedules/adam-poly_3281i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
model = dict(
    backbone=dict(base_channels=16),
    neck=dict(
        in_channels=(16, 16, 32, 64, 128), channels=(8, 16, 32, 64, 128)),
    decode_head=dict(
        in_channels=8,
        channels=8,
        num_classes=2,
        # the LiTS CE + 0.5 Dice, Dice over the batch (stable when a crop
        # misses the liver)
        loss=[
            dict(type='cspr_det.VoxelCrossEntropyLoss', loss_weight=1.0),
            dict(
                type='cspr_det.SoftDiceLoss',
                include_background=False,
                smooth=1e-3,
                batch_dice=True,
                loss_weight=0.5)
        ]),
    # sliding windows of 32 slices (the whole 96 x 96 slice), and the liver
    # as the largest connected foreground component (LiTS post-processing)
    test_cfg=dict(
        window=(32, 96, 96),
        stride=(16, 96, 96),
        sw_batch_size=2,
        largest_component='foreground'))

max_iters = 800
# fp32 (CPU); for the short schedule Adam at 3e-3 and 10x that for the
# classifier (an 8-channel 1x1x1 conv whose logits Adam grows by about lr per
# step and weight: at 3e-3 alone the probabilities leave 0.5 only after
# hundreds of iterations)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3e-3, weight_decay=1e-4),
    paramwise_cfg=dict(
        custom_keys={'decode_head.conv_seg': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=20,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=200)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=200, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(enable=False, base_batch_size=2)
