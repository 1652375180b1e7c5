# The segmentation demo (`make demo-seg`): a slim StdUNet (ResNet3D-18 with
# 16 base channels, the width of the Fashion-MNIST VDT pre-training in the
# README, so that checkpoint initialises the encoder; decoder channels 8-128,
# head 8) for the liver on the synthetic LiTS, trained on 2 CPU cores in
# minutes. The VDT-initialised variant is
# unet3d_resnet3d18-c16-vdt_1xb2-demo_synthetic-lits-liver.py.
_base_ = [
    '../../_base_/models/unet3d_resnet3d18.py',
    '../../_base_/datasets/lits_synthetic_liver.py',
    '../../_base_/schedules/seg_adam-poly_3281i.py',
    '../_base_/default_runtime_seg.py'
]
model = dict(
    backbone=dict(base_channels=16),
    neck=dict(in_channels=(16, 16, 32, 64, 128), channels=(8, 16, 32, 64,
                                                          128)),
    decode_head=dict(in_channels=8, channels=8, num_classes=2),
    test_cfg=dict(window=(32, 96, 96), stride=(16, 96, 96), sw_batch_size=2))

max_iters = 400
# fp32 (CPU), a 10x higher Adam lr for the short schedule
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
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
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=100)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=100, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(enable=False, base_batch_size=2)
