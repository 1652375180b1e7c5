# BTCV with the MP3D-63 5D encoder (collapse='none') from VDT pre-training.
_base_ = [
    '../../_base_/models/unet3d_mp3d63.py',
    '../../_base_/datasets/btcv_abdomen.py',
    '../../_base_/schedules/sgd-poly_39000i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_mp3d63-gtm_imagenet.pth',
            prefix='backbone.')),
    decode_head=dict(
        num_classes=14,
        loss=[
            dict(
                type='cspr_det.SoftDiceLoss',
                include_background=True,
                smooth=1e-3,
                loss_weight=1.0),
            dict(type='cspr_det.VoxelCrossEntropyLoss', loss_weight=0.3)
        ]),
    # every organ as its largest connected component
    test_cfg=dict(largest_component='per_class'))
