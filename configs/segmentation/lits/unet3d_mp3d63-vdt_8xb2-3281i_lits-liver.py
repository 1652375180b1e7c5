# The StdUNet decoder on the MP3D-63 detection backbone as a 5D encoder
# (collapse='none'), initialised from VDT pre-training of MP3D-63
# (configs/pretrain/vdt_mp3d63-gtm_8xb32-cosine-100e_imagenet.py; the GTM
# weights have no place in a 5D encoder and are reported as unexpected).
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../../_base_/models/unet3d_mp3d63.py',
    '../../_base_/datasets/lits_liver.py',
    '../../_base_/schedules/adam-poly_3281i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='cspr_det.PretrainedBackbone',
            checkpoint='checkpoints/vdt_mp3d63-gtm_imagenet.pth',
            prefix='backbone.')),
    # LiTS post-processing: the largest connected foreground (liver + tumour)
    # component
    test_cfg=dict(largest_component='foreground'))
