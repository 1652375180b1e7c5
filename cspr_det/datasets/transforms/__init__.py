from .load_deeplesion_slices import LoadDeepLesionSlices
from .random_z_flip import RandomZFlip
from .spacing_resize import SpacingResize

__all__ = ['LoadDeepLesionSlices', 'RandomZFlip', 'SpacingResize']
