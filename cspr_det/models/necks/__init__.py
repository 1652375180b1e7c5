"""Necks for 5D feature maps and the 3DCE baseline."""
from .depth_collapse_neck import DepthCollapseNeck
from .fpn3d import FPN3D
from .three_dce_fusion import ThreeDCEFusion
from .unet3d_neck import UNet3DNeck

__all__ = ['DepthCollapseNeck', 'FPN3D', 'ThreeDCEFusion', 'UNet3DNeck']
