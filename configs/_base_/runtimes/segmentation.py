# Runtime of the 3D segmentation configs. Same scope rule as detection:
# default scope 'mmdet', cspr_det components named with their 'cspr_det.'
# prefix. Iteration-based training: a checkpoint every 1,000 iterations (the
# last two kept) plus the one with the best validation mean foreground Dice
# (cspr_det.VolumeDiceMetric, 'seg/mDice'), whenever the schedule validates.
# (Sibling bases cannot both define default_hooks: schedules leave them
# here, leaves override single fields.) tools/test.py writes every prediction
# as NIfTI in the source geometry to <work_dir>/predictions
# (cspr_det.SegPredictionWriterHook; samples without source geometry are
# skipped).
default_scope = 'mmdet'
custom_imports = dict(imports=['cspr_det'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=1000,
        max_keep_ckpts=2,
        save_best='seg/mDice',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    dict(type='cspr_det.NonFiniteLossHook'),
    dict(type='cspr_det.SegPredictionWriterHook')
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
