# LIDC nodule segmentation with the ResNet3D-18 encoder initialised from VDT
# supervised pre-training (configs/pretrain/vdt_resnet3d18_8xb32-cosine-100e_
# imagenet.py); the fusion head starts from scratch. Point it at your
# checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './fcn-fusion_resnet3d18_4xb8-13387i_lidc-nodule.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_resnet3d18_imagenet.pth',
            prefix='backbone.')))
