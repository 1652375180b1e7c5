# DeepLesion, 9 slices per sample at 2.5 mm (the MP3D setting), official
# patient-level split.
# Prepare with tools/dataset_converters/deeplesion.py (see the README).
dataset_type = 'cspr_det.DeepLesionDataset'
data_root = 'data/deeplesion/'
backend_args = None

num_slices = 9
slice_loader = dict(
    type='cspr_det.LoadDeepLesionSlices',
    num_slices=num_slices,
    slice_interval=2.5,
    windows=[(-1024, 1050)],
    backend_args=backend_args)
# What the FROC metric reads from every test sample, besides mmdet's defaults.
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'flip', 'flip_direction', 'instances', 'slice_interval',
             'spacing')

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

train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/deeplesion_train.json',
        data_prefix=dict(img='Images_png/'),
        drop_noisy=True,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/deeplesion_val.json',
        data_prefix=dict(img='Images_png/'),
        drop_noisy=False,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
# the test split, loaded exactly like the validation split
test_dataloader = dict(
    val_dataloader,
    dataset=dict(
        val_dataloader['dataset'],
        ann_file='annotations/deeplesion_test.json'))

# Classic key-slice FROC (3DCE/MULAN): noisy lesions dropped, IoU >= 0.5.
val_evaluator = dict(
    type='cspr_det.DeepLesionFROCMetric',
    iou_thr=0.5,
    overlap='iou',
    noisy='drop')
test_evaluator = val_evaluator
