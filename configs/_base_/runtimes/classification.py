# Runtime of the 3D classification configs. Same scope rule as detection:
# default scope 'mmdet', cspr_det components named with their 'cspr_det.'
# prefix. Epoch-based training; the checkpoint hook keeps the best validation
# AUC (cspr_det.BinaryAUCMetric, 'cls/auc').
default_scope = 'mmdet'
custom_imports = dict(imports=['cspr_det'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        interval=10,
        max_keep_ckpts=2,
        save_best='cls/auc',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='cspr_det.NonFiniteLossHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
