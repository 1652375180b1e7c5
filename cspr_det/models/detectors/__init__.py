"""Detectors that a config cannot assemble from mmdet's: 3DCE."""
from .three_dce import ThreeDCE

__all__ = ['ThreeDCE']
