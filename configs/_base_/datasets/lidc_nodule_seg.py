# LIDC-IDRI nodule crops for nodule segmentation: every annotated nodule
# (malignancy mode 1-5), target = the first reader's mask (seg_label:
# 'answer1'; 'any', 'union' or 'majority' of the readers are options).
# Default split: seeded and patient-disjoint; split_protocol='reference' is the
# published nodule-level split (leaks patients). Same augmentation as the
# classifier (48^3 crop shifted by up to +-5 voxels, cube rotations, flips),
# applied to crop and mask alike. Dice per nodule and global on the 48^3 crop.
dataset_type = 'cspr_det.LIDCNoduleDataset'
data_root = 'data/lidc/'
crop_size = 48
common = dict(
    type=dataset_type,
    data_root=data_root,
    task='segmentation',
    seg_label='answer1',
    split_protocol='patient',
    split_seed=0,
    min_size=crop_size)
# no 'ori_shape': predictions and Dice stay on the 48^3 crop (VolumeSegmentor
# resizes predictions to a differing ori_shape)
meta_keys = ('case_id', 'nodule_id', 'patient_id', 'subset', 'img_path',
             'spacing', 'img_shape', 'crop_offset_3d', 'rot90_3d', 'flip_3d')
train_pipeline = [
    dict(type='cspr_det.LoadLIDCNodule', with_seg=True),
    dict(type='cspr_det.CentreCrop3D', size=crop_size, max_shift=5),
    dict(type='cspr_det.Random90Rotation3D', prob=1.0),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', 'y', 'x')),
    dict(type='cspr_det.PackVolumeSegInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='cspr_det.LoadLIDCNodule', with_seg=True),
    dict(type='cspr_det.CentreCrop3D', size=crop_size),
    dict(type='cspr_det.PackVolumeSegInputs', meta_keys=meta_keys)
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**common, subset='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **common, subset='val', test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **common, subset='test', test_mode=True, pipeline=test_pipeline))
val_evaluator = dict(type='cspr_det.VolumeDiceMetric', hd95=True)
test_evaluator = val_evaluator
