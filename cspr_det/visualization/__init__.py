"""Visualisation: the DeepLesion visualiser (HU window, ground truth and
predictions) and the CT drawing helpers of whole-CT inference."""
from .ct_drawing import (SOFT_TISSUE_WINDOW, add_caption, crop_around,
                         draw_boxes, hu_to_rgb, montage, upscale)
from .deeplesion_visualizer import DeepLesionVisualizer
from .visualization_hook_setup import (enable_test_visualization,
                                       use_deeplesion_visualizer)

__all__ = [
    'DeepLesionVisualizer', 'enable_test_visualization',
    'use_deeplesion_visualizer', 'SOFT_TISSUE_WINDOW', 'hu_to_rgb',
    'draw_boxes', 'add_caption', 'upscale', 'crop_around', 'montage'
]
