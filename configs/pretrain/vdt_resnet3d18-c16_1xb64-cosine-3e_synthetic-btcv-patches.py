# VDT pre-training on a CT source task, the positive control of the transfer
# study (docs/studies.md): the Fashion-MNIST recipe (same 3D ResNet-18 with
# 16 base channels, same schedule) on 32 x 32 patches of a synthetic BTCV
# whose three RGB slices are neighbouring CT slices, labelled with the organ
# under the patch centre (14 classes, background included).
# Data: bash tools/misc/run_transfer_study.sh control-data
#   (tools/dataset_converters/ct_patches_to_folder.py)
_base_ = './vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py'

data_root = 'data/btcv_patches/'
model = dict(head=dict(num_classes=14))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
