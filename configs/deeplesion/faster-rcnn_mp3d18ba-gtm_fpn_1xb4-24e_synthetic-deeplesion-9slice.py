# The demo detector (`make demo`): a slim MP3D-18ba (base width 16, GTM) with
# Faster R-CNN + FPN on the synthetic DeepLesion, 9 slices at 5 mm in two HU
# windows (see the dataset base). Trains on 2 CPU cores in minutes. The same
# config with 1 or 3 slices is the 3D-context ablation
# (tools/analysis_tools/slice_ablation.py).
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/synthetic_deeplesion_9slice.py',
    '../_base_/runtimes/detection.py'
]
model = dict(
    backbone=dict(
        depth='18ba',
        in_channels=2,  # two HU windows
        base_channels=16,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=24,
        by_epoch=True,
        milestones=[18, 22],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(max_keep_ckpts=1))
randomness = dict(seed=0)
