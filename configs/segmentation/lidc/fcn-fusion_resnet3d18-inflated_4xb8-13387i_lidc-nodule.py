# LIDC nodule segmentation with the ResNet3D-18 encoder inflated from a 2D
# ImageNet ResNet-18:
#   python tools/model_converters/inflate_2d_resnet.py resnet18.pth \
#       checkpoints/resnet18_inflated_resnet3d18.pth --arch resnet3d --depth 18
# The converter records the default ResNet3D strides and stem max-pool; this
# encoder has neither stem stride nor max-pool and other stage strides, with
# the same weight shapes, hence check_arch=False.
_base_ = './fcn-fusion_resnet3d18_4xb8-13387i_lidc-nodule.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/resnet18_inflated_resnet3d18.pth',
            prefix='backbone.',
            check_arch=False)))
