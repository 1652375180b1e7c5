# MP3D-63 (GTM, GroupNorm, 9 slices at 2.5 mm) built exactly like the MP3D
# authors' reference network: stride in the bottleneck's first 1x1x1 conv
# (style='caffe') and a (3, 3, 3) stem max-pool. Their released weights,
# converted by tools/model_converters/convert_mp3d.py, load only into this
# backbone (the converter records the architecture and writes a config that
# inherits this one):
#   python tools/test.py THIS_CONFIG checkpoints/mp3d63_cspr_det.pth
#   python tools/train.py THIS_CONFIG --cfg-options \
#       load_from=checkpoints/mp3d63_cspr_det.pth
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/sgd-step_24e_amp.py',
    '../_base_/runtimes/detection.py'
]

model = dict(backbone=dict(style='caffe', stem_pool_kernel=(3, 3, 3)))
