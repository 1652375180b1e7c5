# ImageNet-1k for VDT pre-training: every RGB image becomes a 3-slice volume
# (R, G, B = slices 0, 1, 2), the slice order is shuffled per image in
# training, one mean/std (114.495 / 57.63) for all slices (set in the model's
# data preprocessor).
# Layout: data/imagenet/{train,val}/<wnid>/*.JPEG (val re-sorted into class
# folders), or list files via ann_file='meta/train.txt' ('path label' lines).
dataset_type = 'cspr_det.ImageFolderDataset'
data_root = 'data/imagenet/'

train_pipeline = [
    dict(type='cspr_det.LoadImageVDT'),
    dict(type='cspr_det.RandomResizedCropVDT', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='cspr_det.RandomSlicePermute', prob=1.0),
    dict(type='cspr_det.PackVDTInputs')
]
test_pipeline = [
    dict(type='cspr_det.LoadImageVDT'),
    dict(type='cspr_det.ResizeShortEdge', scale=256),
    dict(type='CenterCrop', crop_size=224),
    dict(type='cspr_det.PackVDTInputs')
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='cspr_det.TopKAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
