# StdUNet for the 13 BTCV organs (14 classes), encoder from scratch.
# Multi-organ loss: soft Dice with the background + 0.3 cross-entropy.
# Reference schedule: SGD 0.02, momentum 0.9, wd 5e-4, poly, 39,000
# iterations at 8 GPUs x 1 crop of 32 x 256 x 256, fp16.
_base_ = [
    '../../_base_/models/unet3d_resnet3d18.py',
    '../../_base_/datasets/btcv_abdomen.py',
    '../../_base_/schedules/sgd-poly_39000i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
model = dict(
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
