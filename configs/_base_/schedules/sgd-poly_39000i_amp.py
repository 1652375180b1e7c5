# BTCV reference schedule: SGD, lr 0.02, momentum 0.9, weight decay 5e-4,
# poly decay (power 0.9) over 39,000 iterations at 8 GPUs x 1 crop, mixed
# precision with dynamic loss scale (GPU only; on a CPU use
# --cfg-options optim_wrapper.type=OptimWrapper). No validation loop: BTCV's
# published split has no validation part, and choosing a checkpoint on the
# test cases would leak; test the last checkpoint.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=39000,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=39000)
val_cfg = None
test_cfg = dict(type='TestLoop')
# lr 0.02 is for 8 GPUs x 1 crop; --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=8)
