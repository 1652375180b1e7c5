# One-stage variant: RetinaNet on MP3D-63 (GTM), 9 slices.
_base_ = [
    '../_base_/models/retinanet_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/schedule_deeplesion_24e.py',
    '../_base_/default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
