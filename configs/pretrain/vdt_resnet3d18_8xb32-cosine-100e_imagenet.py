# The CSPR recipe: 3D ResNet-18 pre-trained with VDT on ImageNet-1k
# (8 GPUs x 32 images, 100 epochs, fp16). The released model reached about
# 73% top-1. Transfer the backbone with
#   init_cfg=dict(type='cspr_det.PretrainedBackbone', checkpoint=CKPT,
#                 prefix='backbone.')
_base_ = [
    '../_base_/models/vdt_resnet3d18.py', '../_base_/datasets/imagenet_vdt.py',
    '../_base_/schedules/sgd-cosine_100e_amp.py',
    '../_base_/runtimes/pretrain.py'
]
