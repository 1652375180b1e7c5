# The LiTS liver StdUNet with the encoder inflated from a 2D ImageNet
# ResNet-18 (spatial kernels copied, depth kernels identity, RGB stem summed
# to one channel):
#   python tools/model_converters/inflate_2d_resnet.py resnet18.pth \
#       checkpoints/resnet3d18_inflated_imagenet.pth --arch resnet3d --depth 18
_base_ = './unet3d_resnet3d18_8xb2-3281i_lits-liver.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/resnet3d18_inflated_imagenet.pth',
            prefix='backbone.')))
