"""3D image files (:class:`ImageFileReader`): NIfTI and any other 3D format
SimpleITK reads (NRRD, MetaImage, ...)."""
import os.path as osp
from typing import Optional

import SimpleITK as sitk

from cspr_det.registry import CT_READERS
from .base_ct_reader import BaseCTReader
from .ct_volume import CTVolume, volume_from_image
from .deeplesion_png import PNG_SLICE_NAME
from .image_io import read_image
from .volume_error import VolumeError


@CT_READERS.register_module()
class ImageFileReader(BaseCTReader):
    """One 3D image file read by SimpleITK (``.nii``/``.nii.gz`` are checked
    for truncation first); ``source['kind']`` is ``'nifti'`` or
    ``'image'``."""
    priority = 90  # any file: after the readers with a specific test

    def can_read(self, path: str) -> bool:
        return osp.isfile(path)

    def read_image(self,
                   path: str,
                   case_id: Optional[str] = None,
                   what: str = 'CT volume') -> sitk.Image:
        if PNG_SLICE_NAME.match(osp.basename(path)):
            raise VolumeError(f'{path} is one PNG slice; give its folder to '
                              'read the DeepLesion PNG series')
        return read_image(path, case_id, what)

    def read(self, path: str) -> CTVolume:
        image = self.read_image(path)
        kind = 'nifti' if path.lower().endswith(('.nii', '.nii.gz')) \
            else 'image'
        return volume_from_image(image, dict(kind=kind, path=path))
