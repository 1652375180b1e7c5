"""Data transforms: DeepLesion slice loading, VDT pre-training and 3D volume
pipelines (registered in ``cspr_det.registry.TRANSFORMS``)."""
from .centre_crop_3d import CentreCrop3D
from .hu_window_3d import HUWindow3D
from .load_deeplesion_slices import LoadDeepLesionSlices
from .load_image_vdt import LoadImageVDT
from .load_lidc_nodule import LoadLIDCNodule
from .load_volume_arrays import LoadVolumeArrays
from .pack_vdt_inputs import PackVDTInputs
from .pack_volume_cls_inputs import PackVolumeClsInputs
from .pack_volume_seg_inputs import PackVolumeSegInputs
from .random_90_rotation_3d import Random90Rotation3D
from .random_crop_3d import RandomCrop3D
from .random_flip_3d import RandomFlip3D
from .random_resized_crop_vdt import RandomResizedCropVDT
from .random_scale_3d import RandomScale3D
from .random_slice_permute import RandomSlicePermute
from .random_z_crop_3d import RandomZCrop3D
from .random_z_flip import RandomZFlip
from .resize_short_edge import ResizeShortEdge
from .spacing_resize import SpacingResize

__all__ = [
    # DeepLesion 2.5D detection
    'LoadDeepLesionSlices',
    'RandomZFlip',
    'SpacingResize',
    # VDT pre-training
    'LoadImageVDT',
    'PackVDTInputs',
    'RandomResizedCropVDT',
    'RandomSlicePermute',
    'ResizeShortEdge',
    # 3D volumes
    'HUWindow3D',
    'LoadVolumeArrays',
    'PackVolumeSegInputs',
    'RandomCrop3D',
    'RandomFlip3D',
    'RandomScale3D',
    'RandomZCrop3D',
    # LIDC nodule crops
    'CentreCrop3D',
    'LoadLIDCNodule',
    'PackVolumeClsInputs',
    'Random90Rotation3D'
]
