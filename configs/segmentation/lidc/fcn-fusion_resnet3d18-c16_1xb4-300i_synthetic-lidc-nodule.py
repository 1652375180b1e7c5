# Small LIDC nodule segmentation run on the synthetic crops
# (tools/misc/make_synthetic_lidc.py --preset demo): the fusion FCN on a
# ResNet3D-18 with 16 base channels (the Fashion-MNIST VDT width; fusion 128,
# 3x3x3 conv 32), fp32, a few hundred iterations on a CPU.
_base_ = './fcn-fusion_resnet3d18_4xb8-13387i_lidc-nodule.py'

data_root = 'data/synthetic_lidc/'
model = dict(
    backbone=dict(base_channels=16),
    decode_head=dict(
        in_channels=(16, 32, 128), fuse_channels=128, channels=32))
train_dataloader = dict(
    batch_size=4, num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=8, num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = dict(
    batch_size=8, num_workers=1, dataset=dict(data_root=data_root))

max_iters = 300
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
train_cfg = dict(max_iters=max_iters, val_interval=100)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=100, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(base_batch_size=4)
