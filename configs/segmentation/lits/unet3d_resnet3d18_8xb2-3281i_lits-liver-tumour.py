# StdUNet on LiTS with three classes (background, liver, tumour), encoder
# from scratch; add the VDT init_cfg of the liver config for the pre-trained
# variant.
_base_ = [
    '../../_base_/models/unet3d_resnet3d18.py',
    '../../_base_/datasets/lits_liver_tumour.py',
    '../../_base_/schedules/seg_adam-poly_3281i.py',
    '../_base_/default_runtime_seg.py'
]
model = dict(
    decode_head=dict(num_classes=3),
    # LiTS post-processing: the largest connected foreground (liver + tumour)
    # component
    test_cfg=dict(largest_component='foreground'))
