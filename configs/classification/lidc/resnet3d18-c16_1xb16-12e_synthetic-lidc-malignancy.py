# The LIDC classification demo (`make demo-lidc`): a ResNet3D-18 with 16 base
# channels (the width of the Fashion-MNIST VDT pre-training in the README, so
# that checkpoint initialises the encoder) on the synthetic nodule crops
# (tools/misc/make_synthetic_lidc.py --preset demo), patient-disjoint split,
# fp32 on 2 CPU cores in minutes. VDT-initialised with
#   --cfg-options model.backbone.init_cfg._delete_=True \
#                 model.backbone.init_cfg.type=cspr_det.PretrainedBackbone \
#                 model.backbone.init_cfg.checkpoint=CKPT
# (tools/misc/run_demo_lidc.sh does this when PRETRAINED=CKPT is given).
_base_ = './resnet3d18_4xb32-100e_lidc-malignancy.py'

data_root = 'data/synthetic_lidc/'
model = dict(backbone=dict(base_channels=16), head=dict(in_channels=128))
train_dataloader = dict(
    batch_size=16, num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=32, num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = dict(
    batch_size=32, num_workers=1, dataset=dict(data_root=data_root))

max_epochs = 12
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=2, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(base_batch_size=16)
