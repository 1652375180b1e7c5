"""3D segmentors, their data preprocessor and post-processing."""
from .largest_component import LCC_MODES, keep_largest_component
from .volume_seg_data_preprocessor import VolumeSegDataPreprocessor
from .volume_segmentor import VolumeSegmentor

__all__ = [
    'VolumeSegmentor', 'VolumeSegDataPreprocessor', 'keep_largest_component',
    'LCC_MODES'
]
