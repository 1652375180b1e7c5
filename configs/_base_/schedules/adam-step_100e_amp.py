# LIDC classification reference schedule: Adam lr 5e-4, weight decay 1e-4,
# 50-iteration linear warm-up, lr x0.1 at epochs 30, 60 and 90, 100 epochs,
# 4 GPUs x 32 crops, fp16 with a dynamic loss scale (AmpOptimWrapper needs a
# GPU; on a CPU use --cfg-options optim_wrapper.type=OptimWrapper).
# Validation every epoch; the checkpoint with the best validation AUC is kept.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='Adam', lr=5e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        milestones=[30, 60, 90],
        gamma=0.1,
        by_epoch=True,
        begin=0,
        end=100)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# lr 5e-4 is for 4 GPUs x 32 crops; `tools/train.py --auto-scale-lr` rescales.
auto_scale_lr = dict(enable=False, base_batch_size=128)
