# LIDC nodule malignancy with the ResNet3D-18 encoder inflated from a 2D
# ImageNet ResNet-18:
#   python tools/model_converters/inflate_2d_resnet.py resnet18.pth \
#       checkpoints/resnet18_inflated_resnet3d18.pth --arch resnet3d --depth 18
# The converter records the default ResNet3D strides; this encoder uses other
# strides with the same weight shapes, hence check_arch=False.
_base_ = './resnet3d18_4xb32-100e_lidc-malignancy.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/resnet18_inflated_resnet3d18.pth',
            prefix='backbone.',
            check_arch=False)))
