"""Model utilities: the 2.5D lift, checkpoint reading, strict checkpoint
matching (keys, shapes, recorded architecture) and weight transfer
(pre-trained backbones, 2D-to-3D inflation, legacy checkpoint conversion,
architecture records of converted checkpoints) and sliding-window inference
over volumes."""
from .backbone_arch import (ArchitectureMismatchError, arch_differences,
                            check_backbone_arch, describe_backbone)
from .checkpoint_check import check_model_checkpoint, load_model_checkpoint
from .checkpoint_mismatch_error import CheckpointMismatchError
from .converted_config import config_path_for, write_converted_config
from .inflate import (inflate_2d_resnet, inflate_conv_weight,
                      init_p3d_depth_identity, normalize_2d_resnet_keys)
from .legacy import (RESNET3D_ARCH_KEYS, conversion_summary,
                     convert_cspr_resnet3d, convert_mp3d, default_base_config,
                     infer_cspr_resnet3d_config, infer_mp3d_config,
                     load_strict_with_report, save_converted, split_backbone)
from .lift import lift_to_5d
from .pretrained_backbone import (PretrainedBackbone, adapt_in_channels,
                                  load_pretrained_backbone)
from .sliding_window import sliding_window_inference
from .state_dict_io import (format_report, log_report, match_state_dict,
                            read_checkpoint, read_state_dict, report_is_clean,
                            split_prefix, summarize_report)

__all__ = [
    'lift_to_5d', 'read_checkpoint', 'read_state_dict', 'split_prefix',
    'match_state_dict', 'report_is_clean', 'summarize_report', 'format_report',
    'log_report', 'PretrainedBackbone', 'adapt_in_channels',
    'load_pretrained_backbone', 'describe_backbone', 'arch_differences',
    'check_backbone_arch', 'ArchitectureMismatchError', 'inflate_2d_resnet',
    'inflate_conv_weight', 'init_p3d_depth_identity',
    'normalize_2d_resnet_keys', 'convert_cspr_resnet3d', 'convert_mp3d',
    'split_backbone', 'infer_cspr_resnet3d_config', 'infer_mp3d_config',
    'load_strict_with_report', 'save_converted', 'conversion_summary',
    'default_base_config', 'RESNET3D_ARCH_KEYS', 'config_path_for',
    'write_converted_config', 'sliding_window_inference',
    'CheckpointMismatchError', 'check_model_checkpoint',
    'load_model_checkpoint'
]
