# One-stage variant: RetinaNet on MP3D-63 (GTM), 9 slices.
_base_ = [
    '../_base_/models/retinanet_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
