# DeepLesion, 3 slices per sample: the key slice and one neighbour on each side
# at 2.5 mm (2D baselines).
# Same data and evaluation as the 9-slice base; only the slice loader changes.
_base_ = './deeplesion_9slice.py'

num_slices = 3
slice_loader = dict(
    type='cspr_det.LoadDeepLesionSlices',
    num_slices=num_slices,
    slice_interval=2.5,
    windows=[(-1024, 1050)],
    backend_args=None)
meta_keys = {{_base_.meta_keys}}
train_pipeline = [
    slice_loader,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(448, 448), (512, 512), (576, 576)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='cspr_det.RandomZFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    slice_loader,
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
