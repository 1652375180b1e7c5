# The stronger natural-image prior of the transfer study (docs/studies.md):
# the Fashion-MNIST recipe (3D ResNet-18, 16 base channels, 32 x 32 VDT
# inputs) on the full 60,000 training images for 5 epochs, scored on the
# 10,000 official test images (about 4,700 iterations, ten times the
# iterations of the 3-epoch run on 10,000 images).
# Data: python tools/dataset_converters/fashion_mnist_to_folder.py \
#           --out-dir data/fashion_mnist_full
_base_ = './vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py'

data_root = 'data/fashion_mnist_full/'
max_epochs = 5
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
