"""CT input and output: one volume type, the readers of every supported
format, one dispatch function and the writers of results in the geometry of
their source.

- :class:`CTVolume`: a (D, H, W) float32 HU array in canonical LPS order
  with its ITK geometry (spacing, origin, direction), the regular z grid
  of its rows and the geometry of the stored source.
- :class:`BaseCTReader`: a format (``can_read(path)``, ``read(path,
  **options) -> CTVolume``), registered in
  :data:`cspr_det.registry.CT_READERS`. Readers: :class:`ImageFileReader`
  (NIfTI and any 3D file SimpleITK reads), :class:`DicomSeriesReader`
  (DICOM series folders: series choice, position order, rescale),
  :class:`DeepLesionPNGReader` (DeepLesion PNG folders; slice number up =
  toward the feet).
- :func:`read_ct_volume`: the first registered reader that accepts a path
  reads it; :func:`read_ct_image` gives the stored image (converters).
- :func:`write_volume_in_source` / :func:`write_prediction`: label or
  probability volumes in the source geometry.

Adding a format is one reader class and a test: subclass
:class:`BaseCTReader` in a file named after the class, decorate it with
``@CT_READERS.register_module()``, import it below, and test that it reads
a file someone else wrote into the expected HU and geometry (see
``docs/reference/fileio.md``).

Layering: this package imports only third-party packages and
``cspr_det.registry`` (never datasets, models, evaluation, apis, engine or
visualization), so every other layer may use it.
"""
from .base_ct_reader import BaseCTReader
from .ct_volume import CTVolume, volume_from_image
from .deeplesion_png import (HU_OFFSET, PNG_SLICE_NAME, SliceReadError,
                             decode_ct_png, encode_ct_png)
from .dicom_series_reader import (DicomSeriesReader, is_dicom_file,
                                  list_dicom_series, order_slices,
                                  read_dicom_image, read_dicom_series)
from .image_file_reader import ImageFileReader
from .image_io import (CANONICAL_ORIENTATION, check_nifti_file,
                       geometry_difference, geometry_of, image_from_array,
                       orientation_of, read_image, read_volume,
                       reference_image, reorient, write_image, write_volume)
from .png_series_reader import (DeepLesionPNGReader, find_series_spacing,
                                read_png_series, slice_numbers)
from .read_ct import (as_ct_volume, ct_readers, find_reader, read_ct_image,
                      read_ct_volume)
from .resampling import (label_values_of, parse_spacing, resample_intensity,
                         resample_labels, target_grid)
from .source_geometry_writer import (to_source_geometry, volume_to_source,
                                     write_prediction, write_volume_in_source)
from .volume_error import VolumeError

__all__ = [
    'CTVolume', 'volume_from_image', 'BaseCTReader', 'ImageFileReader',
    'DicomSeriesReader', 'DeepLesionPNGReader', 'read_ct_volume',
    'as_ct_volume', 'read_ct_image', 'ct_readers', 'find_reader',
    'read_dicom_series', 'read_dicom_image', 'list_dicom_series',
    'order_slices', 'is_dicom_file', 'read_png_series', 'find_series_spacing',
    'slice_numbers', 'HU_OFFSET', 'PNG_SLICE_NAME', 'SliceReadError',
    'decode_ct_png', 'encode_ct_png', 'CANONICAL_ORIENTATION',
    'check_nifti_file', 'read_image', 'read_volume', 'write_image',
    'write_volume', 'geometry_of', 'geometry_difference', 'image_from_array',
    'orientation_of', 'reference_image', 'reorient', 'parse_spacing',
    'target_grid', 'label_values_of', 'resample_intensity', 'resample_labels',
    'to_source_geometry', 'write_prediction', 'volume_to_source',
    'write_volume_in_source', 'VolumeError'
]
