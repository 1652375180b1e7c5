# MP3D-63 with Group Transform Modules, 9 slices at 2.5 mm (the MP3D recipe).
# From VDT pre-trained weights (configs/pretrain/), logging the loaded tensor
# count; the GTM weights depend on the slice count, so they are excluded:
#   --cfg-options model.backbone.init_cfg.type=cspr_det.PretrainedBackbone \
#       model.backbone.init_cfg.checkpoint=PATH \
#       "model.backbone.init_cfg.exclude=['collapse']"
_base_ = [
    '../_base_/models/faster-rcnn_mp3d63_fpn.py',
    '../_base_/datasets/deeplesion_9slice.py',
    '../_base_/schedules/schedule_deeplesion_24e.py',
    '../_base_/default_runtime.py'
]
