"""Volumetric backbones: P3D, MP3D, the CSPR 3D ResNet and the 3DCE
slice-group wrapper."""
from .base_p3d_resnet import BaseP3DResNet
from .base_volume_resnet import BaseVolumeResNet
from .mp3d_resnet import MP3DResNet
from .p3d_resnet import P3DResNet
from .resnet3d import ResNet3D
from .three_dce_backbone import ThreeDCEBackbone

__all__ = [
    'BaseVolumeResNet', 'BaseP3DResNet', 'P3DResNet', 'MP3DResNet', 'ResNet3D',
    'ThreeDCEBackbone'
]
