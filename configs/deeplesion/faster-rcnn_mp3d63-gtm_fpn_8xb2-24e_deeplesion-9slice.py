# MP3D-63 with Group Transform Modules, 9 slices at 2.5 mm (the MP3D recipe).
# Trained from scratch; the VDT pre-trained variant is
# faster-rcnn_mp3d63-gtm-vdt_fpn_8xb2-24e_deeplesion-9slice.py.
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]
