# StdUNet (ResNet3D-18 encoder with the stem skip, U-Net decoder, FCN head)
# for the LiTS liver, encoder from scratch: the "scratch" row of the
# pre-training comparison. Reference schedule: Adam 1e-4, poly, 3,281
# iterations at 8 GPUs x 2 crops of 32 x 256 x 256, fp16.
_base_ = [
    '../../_base_/models/unet3d_resnet3d18.py',
    '../../_base_/datasets/lits_liver.py',
    '../../_base_/schedules/adam-poly_3281i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
# LiTS post-processing: keep the largest connected foreground (liver +
# tumour) component of every prediction
model = dict(test_cfg=dict(largest_component='foreground'))
