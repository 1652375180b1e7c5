# The LiTS liver StdUNet with the encoder initialised from VDT supervised
# 3D pre-training
# (configs/pretrain/vdt_resnet3d18_8xb32-cosine-100e_imagenet.py;
# decoder and head random). The log reports how many tensors were loaded.
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './unet3d_resnet3d18_8xb2-3281i_lits-liver.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_resnet3d18_imagenet.pth',
            prefix='backbone.')))
