# Synthetic DeepLesion (tools/misc/make_synthetic_deeplesion.py, 'demo' preset:
# 128 x 128 slices of 2.4-3.2 mm) in the official format. Same loader, split
# handling and FROC protocol as the real-data base, with two differences that
# suit the small images: 9 slices at 5 mm (the demo lesions are 20-50 mm
# across, so +-20 mm of context shows where they end while the z-running
# distractor tubes go on) and two HU windows stacked window-major (the MP3D
# window [-1024, 1050] and a soft-tissue window [-175, 275]), which the
# backbone takes as in_channels=2. Scales follow the image size.
_base_ = './deeplesion_9slice.py'

data_root = 'data/synthetic_deeplesion/'
slice_loader = dict(
    type='cspr_det.LoadDeepLesionSlices',
    num_slices=9,
    slice_interval=5.0,
    windows=[(-1024, 1050), (-175, 275)],
    backend_args=None)
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
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
