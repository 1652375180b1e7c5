from .load_deeplesion_slices import LoadDeepLesionSlices
from .random_z_flip import RandomZFlip
from .spacing_resize import SpacingResize

__all__ = ['LoadDeepLesionSlices', 'RandomZFlip', 'SpacingResize']
from .load_image_vdt import LoadImageVDT  # noqa: E402
from .pack_vdt_inputs import PackVDTInputs  # noqa: E402
from .random_resized_crop_vdt import RandomResizedCropVDT  # noqa: E402
from .random_slice_permute import RandomSlicePermute  # noqa: E402
from .resize_short_edge import ResizeShortEdge  # noqa: E402

__all__ += [
    'LoadImageVDT', 'PackVDTInputs', 'RandomResizedCropVDT',
    'RandomSlicePermute', 'ResizeShortEdge'
]
