# MP3D DeepLesion recipe: SGD 0.02 for batch 16, momentum 0.9, wd 1e-4,
# grad clip 35, 500 warm-up iterations, 24 epochs with steps at 16 and 22,
# mixed precision with dynamic loss scale.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=24,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1)
]

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))

# lr 0.02 is for 8 GPUs x 2 images; --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=16)
