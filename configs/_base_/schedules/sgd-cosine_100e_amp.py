# The VDT recipe: SGD lr 0.1 (total batch 256), momentum 0.9, weight decay
# 1e-4, cosine annealing to 0 over 100 epochs (per iteration), fp16 with a
# dynamic loss scale (AmpOptimWrapper needs a GPU).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=100,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=100,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# lr 0.1 is for 8 GPUs x 32 images; `tools/train.py --auto-scale-lr` rescales.
auto_scale_lr = dict(enable=False, base_batch_size=256)
