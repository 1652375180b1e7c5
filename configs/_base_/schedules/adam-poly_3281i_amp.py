# LiTS reference schedule: Adam, lr 1e-4, weight decay 1e-4, poly decay
# (power 0.9) over 3,281 iterations at 8 GPUs x 2 crops, mixed precision with
# dynamic loss scale (GPU only: mmengine's AmpOptimWrapper needs CUDA; on a
# CPU use --cfg-options optim_wrapper.type=OptimWrapper). Validation (sliding
# window over whole volumes) four times and at the end.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=3281,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3281, val_interval=820)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# lr 1e-4 is for 8 GPUs x 2 crops; --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=16)
