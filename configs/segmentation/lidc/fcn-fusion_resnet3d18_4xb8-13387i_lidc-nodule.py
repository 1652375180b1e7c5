# LIDC nodule segmentation (first reader's mask) with the fusion FCN on a
# ResNet3D-18 trained from scratch, on the seeded patient-disjoint split.
# Dice per nodule and global on the 48^3 crops; the checkpoint with the best
# validation mean Dice is kept.
_base_ = [
    '../../_base_/models/lidc_fcn-fusion_resnet3d18_seg.py',
    '../../_base_/datasets/lidc_nodule_seg.py',
    '../../_base_/schedules/adam-poly_13387i_amp.py',
    '../../_base_/runtimes/segmentation.py'
]
default_hooks = dict(checkpoint=dict(interval=2677))
