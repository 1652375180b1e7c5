"""Model utilities: the 2.5D lift, 2D-to-3D weight inflation and legacy
checkpoint conversion."""
from .inflate import (inflate_2d_resnet, inflate_conv_weight,
                      init_p3d_depth_identity, normalize_2d_resnet_keys)
from .legacy import (conversion_summary, convert_cspr_resnet3d, convert_mp3d,
                     infer_cspr_resnet3d_config, infer_mp3d_config,
                     load_strict_with_report, report_is_clean, save_converted)
from .lift import lift_to_5d
from .state_dict_io import (format_report, log_report, read_state_dict,
                            strip_prefixes)

__all__ = [
    'lift_to_5d', 'inflate_2d_resnet', 'inflate_conv_weight',
    'init_p3d_depth_identity', 'normalize_2d_resnet_keys',
    'convert_cspr_resnet3d', 'convert_mp3d', 'infer_cspr_resnet3d_config',
    'infer_mp3d_config', 'load_strict_with_report', 'report_is_clean',
    'save_converted', 'conversion_summary',
    'format_report', 'log_report', 'read_state_dict', 'strip_prefixes'
]
