# MP3D-18ba (BasicBlock 2-2-2-2): a light MP3D for fast experiments.
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]
model = dict(
    backbone=dict(depth='18ba'), neck=dict(in_channels=[64, 128, 256, 512]))
