# BTCV StdUNet with the VDT-pre-trained ResNet3D-18 encoder.
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './unet3d_resnet3d18_8xb1-39000i_btcv.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_resnet3d18_imagenet.pth',
            prefix='backbone.')))
