# The segmentation demo with its encoder from the Fashion-MNIST VDT
# pre-training of the README (configs/pretrain/
# vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py, same ResNet3D-18 with
# 16 base channels; decoder and head random):
#   --cfg-options model.backbone.init_cfg.checkpoint=CKPT
_base_ = './unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='work_dirs/vdt_fm_c16/epoch_3.pth',
            prefix='backbone.')))
