# Synthetic LiTS (tools/misc/make_synthetic_seg.py --dataset lits, 'demo'
# preset: 96 x 96 slices of 3.4-4.2 mm, 2.5 or 5 mm slices, several
# orientations) converted with 4 mm slices
# (tools/dataset_converters/lits.py RAW OUT --spacing 4 none none
#  --split-file RAW/split.json), liver task. Same transforms as the real-data
# base at the scale of the small volumes: 16-slice windows (64 mm) that
# overlap the liver with probability 0.7, 96 x 96 in-plane crops.
_base_ = './lits_liver.py'

data_root = 'data/synthetic_lits/converted/'
target_spacing = (4.0, None, None)  # the conversion above
train_pipeline = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=True),
    dict(type='cspr_det.RandomZCrop3D', size=16, fg_prob=0.7),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', )),
    dict(type='cspr_det.RandomScale3D', scale_range=(0.8, 1.2)),
    dict(type='cspr_det.RandomCrop3D', crop_size=(96, 96)),
    dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('x', )),
    dict(type='cspr_det.HUWindow3D', window={{_base_.hu_window}}),
    dict(type='cspr_det.PackVolumeSegInputs')
]
train_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
