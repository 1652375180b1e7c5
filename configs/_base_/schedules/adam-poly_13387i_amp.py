# LIDC segmentation reference schedule: Adam lr 1e-3, weight decay 1e-4, poly
# decay (power 0.9) over 13,387 iterations at 4 GPUs x 8 crops, fp16 with a
# dynamic loss scale (AmpOptimWrapper needs a GPU; on a CPU use
# --cfg-options optim_wrapper.type=OptimWrapper). Validation five times (the
# leaf configs checkpoint at the same interval).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=13387,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=13387, val_interval=2677)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# lr 1e-3 is for 4 GPUs x 8 crops; `tools/train.py --auto-scale-lr` rescales.
auto_scale_lr = dict(enable=False, base_batch_size=32)
