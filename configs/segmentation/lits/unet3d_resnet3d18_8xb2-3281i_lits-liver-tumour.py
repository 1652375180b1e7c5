# StdUNet on LiTS with three classes (background, liver, tumour), encoder
# from scratch; add the VDT init_cfg of the liver config for the pre-trained
# variant.
_base_ = [
    '../../_base_/models/unet3d_resnet3d18.py',
    '../../_base_/datasets/lits_liver_tumour.py',
    '../../_base_/schedules/adam-poly_3281i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
model = dict(
    decode_head=dict(num_classes=3),
    # LiTS post-processing: the largest connected foreground (liver + tumour)
    # component
    test_cfg=dict(largest_component='foreground'))
