# LiTS liver segmentation (2 classes: the tumour label merged into the liver)
# on the arrays of tools/dataset_converters/lits.py (canonical orientation,
# 1 mm slices, HU int16, memory-mapped). Training crops: 32 slices whose
# window overlaps the liver with probability 0.5 (the reference list holds
# every volume twice, full range and liver range), z-flip, in-plane scale
# 0.8-1.2, 256 x 256 crop, left-right flip, HU window [-200, 250] -> 0-255.
# Validation/test: whole volumes (sliding-window inference in the model).
dataset_type = 'cspr_det.LiTSDataset'
data_root = 'data/lits/converted/'
task = 'liver'
hu_window = (-200, 250)
# (z, y, x) mm of the converted arrays (the converter's --spacing; None keeps
# an axis): whole-scan inference (tools/infer.py) resamples a scan to it
target_spacing = (1.0, None, None)

train_pipeline = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=True),
    dict(type='cspr_det.RandomZCrop3D', size=32, fg_prob=0.5),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', )),
    dict(type='cspr_det.RandomScale3D', scale_range=(0.8, 1.2)),
    dict(type='cspr_det.RandomCrop3D', crop_size=(256, 256)),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('x', )),
    dict(type='cspr_det.HUWindow3D', window=hu_window),
    dict(type='cspr_det.PackVolumeSegInputs')
]
test_pipeline = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=False),
    dict(type='cspr_det.HUWindow3D', window=hu_window),
    dict(type='cspr_det.PackVolumeSegInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='index.json',
        split='train',
        task=task,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='index.json',
        split='val',
        task=task,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='index.json',
        split='test',
        task=task,
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='cspr_det.VolumeDiceMetric')
test_evaluator = val_evaluator
