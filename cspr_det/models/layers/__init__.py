"""Building blocks of the pseudo-3D and 3D backbones."""
from .basic_block_3d import BasicBlock3D
from .bottleneck_3d import Bottleneck3D
from .centred_depth_max_pool import CentredDepthMaxPool, centred_depth_out_size
from .depth_collapse import COLLAPSE_MODES, DepthCollapse
from .num_slices_per_level import num_slices_per_level
from .p3d_basic_block import P3DBasicBlock
from .p3d_bottleneck import P3DBottleneck
from .p3d_unit import P3D_TYPES, P3DUnit, p3d_type_of_block
from .residual_block_3d import ResidualBlock3D, default_conv_norm_cfg

__all__ = [
    'BasicBlock3D', 'Bottleneck3D', 'CentredDepthMaxPool',
    'centred_depth_out_size', 'COLLAPSE_MODES', 'DepthCollapse',
    'num_slices_per_level', 'P3DBasicBlock', 'P3DBottleneck', 'P3D_TYPES',
    'P3DUnit', 'p3d_type_of_block', 'ResidualBlock3D', 'default_conv_norm_cfg'
]
