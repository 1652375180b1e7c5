# LIDC-IDRI nodule crops (data_root/nodule/lidcP_K.npz and the two CSVs of
# the community release; cspr_det/datasets/splits/lidc/ ships copies of the
# CSVs) for malignancy classification: mode 1-2 benign, 4-5 malignant, 3
# dropped. Default split: seeded and patient-disjoint (70/10/20 % of nodules,
# split_seed 0); split_protocol='reference' gives the published nodule-level
# split, which leaks patients.
# Train: 48^3 crop around the centre shifted by up to +-5 voxels, one of the 24
# cube rotations, random flips on each axis. Test: plain centre crop.
# The test loader scores val + test together: BinaryAUCMetric picks the
# operating threshold on val and reports every statistic on test.
dataset_type = 'cspr_det.LIDCNoduleDataset'
data_root = 'data/lidc/'
crop_size = 48
common = dict(
    type=dataset_type,
    data_root=data_root,
    task='classification',
    split_protocol='patient',
    split_seed=0,
    min_size=crop_size)
train_pipeline = [
    dict(type='cspr_det.LoadLIDCNodule'),
    dict(type='cspr_det.CentreCrop3D', size=crop_size, max_shift=5),
    dict(type='cspr_det.Random90Rotation3D', prob=1.0),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', 'y', 'x')),
    dict(type='cspr_det.PackVolumeClsInputs')
]
test_pipeline = [
    dict(type='cspr_det.LoadLIDCNodule'),
    dict(type='cspr_det.CentreCrop3D', size=crop_size),
    dict(type='cspr_det.PackVolumeClsInputs')
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**common, subset='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **common, subset='val', test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **common,
        subset=('val', 'test'),
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(
    type='cspr_det.BinaryAUCMetric', threshold='val', threshold_rule='youden')
test_evaluator = val_evaluator
