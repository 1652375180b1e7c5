# MP3D-63 (GTM) initialised from VDT supervised pre-training
# (configs/pretrain/vdt_mp3d63-gtm_8xb32-cosine-100e_imagenet.py). The loader
# logs how many backbone tensors it copied; the GTM weights depend on the slice
# count (3 in pre-training, 9 here), so they are excluded and start fresh.
# Point it at your checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]

model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_mp3d63-gtm_imagenet.pth',
            prefix='backbone.',
            exclude=['collapse'])))
