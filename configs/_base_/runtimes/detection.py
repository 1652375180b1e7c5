# Runtime shared by all cspr_det detection configs: mmdet's runtime (default
# scope 'mmdet'), cspr_det imported, best checkpoint by mean FROC sensitivity.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['cspr_det'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='deeplesion/mean_sens',
        rule='greater'))
custom_hooks = [dict(type='cspr_det.NonFiniteLossHook')]
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
# Draws the key slice of the 16-bit PNG in a HU window (mmdet's default
# visualiser would show its 8-bit decode) when the visualisation hook is on.
visualizer = dict(
    type='cspr_det.DeepLesionVisualizer',
    vis_backends=[dict(type='LocalVisBackend')],
    name='visualizer')
