# BTCV StdUNet with the encoder inflated from a 2D ImageNet ResNet-18
# (tools/model_converters/inflate_2d_resnet.py --arch resnet3d --depth 18).
_base_ = './unet3d_resnet3d18_8xb1-39000i_btcv.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/resnet3d18_inflated_imagenet.pth',
            prefix='backbone.')))
