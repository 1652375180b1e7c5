# Synthetic DeepLesion (tools/misc/make_synthetic_deeplesion.py, 'demo' preset:
# 128 x 128 slices) in the official format, 9 slices at 2.5 mm. Same loader,
# split handling and FROC protocol as the real-data base; scales follow the
# image size.
_base_ = './deeplesion_9slice.py'

data_root = 'data/synthetic_deeplesion/'
slice_loader = {{_base_.slice_loader}}
meta_keys = {{_base_.meta_keys}}
train_pipeline = [
    slice_loader,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(112, 112), (128, 128), (144, 144)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='cspr_det.RandomZFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    slice_loader,
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
