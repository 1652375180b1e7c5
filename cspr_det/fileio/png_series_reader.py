"""DeepLesion PNG series folders (:class:`DeepLesionPNGReader`):
``NNN.png`` slices, uint16 = HU + 32768 (:mod:`.deeplesion_png`).

The folder may hold several disjoint runs of slices (the official folders
hold only the slices around their key slices): the volume keeps the slices
that exist, ``grid_z`` records where they lie, and the slice stacks of
:func:`cspr_det.apis.inference_ct` stay inside the run of each slice, like
the training loader stays inside a sample's ``Slice_range``.

Geometry (the z convention of DeepLesion): **a higher slice number lies
further toward the feet.** Evidence: both NIH conversion scripts of the
dataset say so. The 2018 ``DL_save_nifti.py`` (shipped with DeepLesion,
also used for the "DeepLesion-1kTest3D" NIfTI release) stacks the slices in
PNG order as the third array axis and writes the nibabel (RAS) affine
``[[0, -sy, 0, 0], [-sx, 0, 0, 0], [0, 0, -sz, 0], [0, 0, 0, 1]]``: image
rows run anterior -> posterior, columns right -> left, and the slice axis
runs toward inferior. The 2020 version (LENS release) reverses the slice
order (``V[::-1]``) and writes an identity ITK direction (array row 0 is
the last PNG slice, +z superior): the same statement. So slice ``n`` lies
at world (LPS) ``z = -(n - 1) * dz`` mm, columns along +x (patient left),
rows along +y (posterior): the stored source has the ITK direction
``diag(1, 1, -1)`` (orientation ``'LPI'``) and origin ``(0, 0, -(first -
1) * dz)``; like every :class:`~cspr_det.fileio.CTVolume`, the volume is
kept in canonical LPS order, so its row 0 is the last (most inferior) PNG
slice. The spacing comes from the caller or from the ``Spacing_mm_px_`` of
the series in a ``DL_info.csv`` next to the folder or one or two levels up
(``<root>/Images_png/<series>/`` finds ``<root>/DL_info.csv``).
"""
import csv
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence, Tuple

import numpy as np

from cspr_det.registry import CT_READERS
from .base_ct_reader import BaseCTReader
from .ct_volume import CTVolume
from .deeplesion_png import PNG_SLICE_NAME, SliceReadError, decode_ct_png
from .volume_error import VolumeError

#: Decoder threads (OpenCV releases the GIL while decoding).
NUM_DECODE_THREADS = 4


def find_series_spacing(folder: str) -> Optional[Tuple[float, float, float]]:
    """(x, y, z) mm of the series ``basename(folder)`` from the first
    ``DL_info.csv`` found in the folder, its parent or grandparent; None when
    no CSV lists the series.

    Raises:
        VolumeError: A listed spacing that is not 3 positive numbers.
    """
    series = osp.basename(osp.normpath(folder))
    here = osp.abspath(folder)
    for _ in range(3):
        path = osp.join(here, 'DL_info.csv')
        if osp.isfile(path):
            with open(path, newline='', encoding='utf-8-sig') as f:
                reader = csv.reader(f)
                header = [h.strip() for h in next(reader, [])]
                if 'File_name' in header and 'Spacing_mm_px_' in header:
                    i_name = header.index('File_name')
                    i_sp = header.index('Spacing_mm_px_')
                    for row in reader:
                        if len(row) > max(i_name, i_sp) and \
                                row[i_name].startswith(series + '_'):
                            return _parse_spacing(row[i_sp], path)
        here = osp.dirname(here)
    return None


def _parse_spacing(text: str, where: str) -> Tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in str(text).split(','))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(v > 0 for v in values):
        raise VolumeError(f'{where}: spacing must be 3 positive numbers '
                          f'(x, y, z mm), got {text!r}')
    return values


def _decode(path: str) -> np.ndarray:
    try:
        with open(path, 'rb') as f:
            return decode_ct_png(f.read(), path)
    except SliceReadError as e:
        raise VolumeError(str(e)) from None
    except OSError as e:
        raise VolumeError(f'cannot read CT slice {path}: {e}') from None


def read_png_series(folder: str,
                    spacing: Optional[Sequence[float]] = None) -> CTVolume:
    """Read a DeepLesion PNG series folder into a :class:`CTVolume`.

    Every PNG is decoded once (:data:`NUM_DECODE_THREADS` threads).

    Args:
        folder: The series folder.
        spacing: (x, y, z) mm; None reads it from ``DL_info.csv`` (see the
            module docstring).

    Returns:
        CTVolume: ``source`` = ``dict(kind='png', path=folder,
        first_index=..., last_index=...)`` with the stored geometry (see the
        module docstring); rows in canonical order (row 0 = the last PNG
        slice), ``slice_names`` the PNG name of every row.

    Raises:
        VolumeError: No PNG slice, unknown spacing, a slice that cannot be
            decoded or is not 16-bit, or slices of different sizes.
    """
    indexed: List[Tuple[int, str]] = []
    for name in os.listdir(folder):
        match = PNG_SLICE_NAME.match(name)
        if match:
            indexed.append((int(match.group(1)), name))
    if not indexed:
        raise VolumeError(f'no DeepLesion PNG slices (NNN.png) in {folder}')
    indexed.sort()
    numbers = [i for i, _ in indexed]
    if len(set(numbers)) != len(numbers):
        dup = next(i for i in numbers if numbers.count(i) > 1)
        raise VolumeError(f'{folder} holds slice {dup} twice '
                          f'({[n for i, n in indexed if i == dup]})')
    if spacing is None:
        spacing = find_series_spacing(folder)
        if spacing is None:
            raise VolumeError(
                f'{folder}: slice spacing unknown; pass spacing (x, y, z mm; '
                '--spacing) or keep the DL_info.csv of the dataset next to '
                'the Images_png folder')
    spacing = _parse_spacing(','.join(str(v) for v in spacing), folder)
    paths = [osp.join(folder, n) for _, n in indexed]
    with ThreadPoolExecutor(min(NUM_DECODE_THREADS, len(paths))) as pool:
        slices = list(pool.map(_decode, paths))
    shape = slices[0].shape
    for path, img in zip(paths, slices):
        if img.shape != shape:
            raise VolumeError(f'CT slice {path} has shape {img.shape}, '
                              f'expected {shape} like {paths[0]}')
    first, last = numbers[0], numbers[-1]
    dz = spacing[2]
    # stored (PNG) order: slice number up = toward the feet = -z (LPS)
    stored = dict(
        size_xyz=[shape[1], shape[0], last - first + 1],
        spacing_xyz=list(spacing),
        origin=[0.0, 0.0, -(first - 1) * dz],
        direction=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0])
    # canonical (LPS) order: row 0 = the last, most inferior slice
    return CTVolume(
        hu=np.stack(slices[::-1]),
        spacing=tuple(spacing),
        origin=(0.0, 0.0, -(last - 1) * dz),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        grid_z=last - np.asarray(numbers[::-1]),
        source=dict(
            kind='png',
            path=folder,
            first_index=first,
            last_index=last,
            geometry=stored,
            orientation='LPI'),
        slice_names=[n for _, n in indexed][::-1])


def slice_numbers(volume: CTVolume) -> np.ndarray:
    """The DeepLesion slice number of every row of a volume read from a PNG
    folder ((D,) int64, decreasing: row 0 is the most inferior slice)."""
    if volume.source.get('kind') != 'png':
        raise ValueError(f'{volume.name} was not read from a DeepLesion PNG '
                         'folder')
    return int(volume.source['last_index']) - volume.grid_z


@CT_READERS.register_module()
class DeepLesionPNGReader(BaseCTReader):
    """A DeepLesion PNG series folder (``NNN.png``). Option ``spacing``:
    (x, y, z) mm, else read from ``DL_info.csv`` (see the module
    docstring)."""
    priority = 10
    options = ('spacing', )

    def can_read(self, path: str) -> bool:
        if not osp.isdir(path):
            return False
        try:
            return any(PNG_SLICE_NAME.match(n) for n in os.listdir(path))
        except OSError:
            return False

    def read(self,
             path: str,
             spacing: Optional[Sequence[float]] = None) -> CTVolume:
        return read_png_series(path, spacing)
