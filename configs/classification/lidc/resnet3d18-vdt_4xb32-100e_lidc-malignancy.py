# LIDC nodule malignancy with the ResNet3D-18 encoder initialised from VDT
# supervised pre-training (configs/pretrain/vdt_resnet3d18_8xb32-cosine-100e_
# imagenet.py); the head starts from scratch. The loader logs how many
# backbone tensors it copied (all 62 of ResNet3D-18: the strides differ from
# pre-training, the weight shapes do not). Point it at your checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './resnet3d18_4xb32-100e_lidc-malignancy.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_resnet3d18_imagenet.pth',
            prefix='backbone.')))
