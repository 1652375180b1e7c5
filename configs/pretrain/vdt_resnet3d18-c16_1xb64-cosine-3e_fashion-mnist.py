# Small CPU demonstration of VDT pre-training: a 3D ResNet-18 with 16 base
# channels on Fashion-MNIST (28x28 grayscale, 10 classes). Every image is
# replicated to 3 identical slices (LoadImageVDT's documented grayscale rule),
# so the slice permutation is a no-op here; the 3D network and the transfer
# path are exercised exactly as with ImageNet.
# Data: python tools/dataset_converters/fashion_mnist_to_folder.py \
#           --out-dir data/fashion_mnist [--limit-train 10000 --limit-val 2000]
_base_ = [
    '../_base_/models/vdt_resnet3d18.py', '../_base_/datasets/imagenet_vdt.py',
    '../_base_/runtimes/pretrain.py'
]

data_root = 'data/fashion_mnist/'
img_size = 32

model = dict(
    backbone=dict(base_channels=16),
    head=dict(num_classes=10, in_channels=128))

train_pipeline = [
    dict(type='cspr_det.LoadImageVDT'),
    dict(
        type='cspr_det.RandomResizedCropVDT',
        scale=img_size,
        crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='cspr_det.RandomSlicePermute', prob=1.0),
    dict(type='cspr_det.PackVDTInputs')
]
test_pipeline = [
    dict(type='cspr_det.LoadImageVDT'),
    dict(type='cspr_det.ResizeShortEdge', scale=img_size),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='cspr_det.PackVDTInputs')
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='cspr_det.TopKAccuracy', topk=(1, 5))
test_evaluator = val_evaluator

# Same optimiser family as the ImageNet recipe, fp32 (CPU), 3 epochs
# (about 6-7 minutes for 10k images on 2 shared CPU cores).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        T_max=3,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=3,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=64)

default_hooks = dict(logger=dict(interval=20))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
