# P3D-63 baseline: depth max-pooling between stages (9 -> 5 -> 3 -> 1) and
# centre-slice outputs instead of MP3D's kept depth and GTM.
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='cspr_det.P3DResNet',
        depth=63,
        in_channels=1,
        num_slices=9,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        init_cfg=None))
