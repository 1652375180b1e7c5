# BTCV multi-organ segmentation (14 classes: background + 13 organs) on the
# arrays of tools/dataset_converters/btcv.py (canonical orientation,
# 2.0 x 1.5 x 1.5 mm). Training crops: 32 slices overlapping a random
# present organ's z-range with probability 0.5 (class-balanced, for the small
# organs), z-flip, in-plane scale 0.8-1.2, 256 x 256 crop, left-right flip
# that exchanges the right/left kidney and adrenal labels, HU window
# [-175, 250] -> 0-255. Test: the published 6 cases (35-40), whole volumes.
dataset_type = 'cspr_det.BTCVDataset'
data_root = 'data/btcv/converted/'
hu_window = (-175, 250)
# (z, y, x) mm of the converted arrays (the converter's --spacing): whole-scan
# inference (tools/infer.py) resamples a scan to it
target_spacing = (2.0, 1.5, 1.5)

train_pipeline = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=True),
    dict(
        type='cspr_det.RandomZCrop3D',
        size=32,
        fg_prob=0.5,
        class_balanced=True),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', )),
    dict(type='cspr_det.RandomScale3D', scale_range=(0.8, 1.2)),
    dict(type='cspr_det.RandomCrop3D', crop_size=(256, 256)),
    dict(
        type='cspr_det.RandomFlip3D',
        prob=0.5,
        axes=('x', ),
        swap_labels=((2, 3), (12, 13))),
    dict(type='cspr_det.HUWindow3D', window=hu_window),
    dict(type='cspr_det.PackVolumeSegInputs')
]
test_pipeline = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=False),
    dict(type='cspr_det.HUWindow3D', window=hu_window),
    dict(type='cspr_det.PackVolumeSegInputs')
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='index.json',
        split='train',
        pipeline=train_pipeline))
# The published split has no validation part: no validation loop (see the
# BTCV schedule); the test split is the 6 cases 35-40.
val_dataloader = None
val_evaluator = None
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
        test_mode=True,
        pipeline=test_pipeline))
test_evaluator = dict(type='cspr_det.VolumeDiceMetric')
