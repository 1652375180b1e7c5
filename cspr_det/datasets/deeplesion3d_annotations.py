"""The DeepLesion 3D annotations (fully annotated sub-volumes) and 3D
predictions: reading, validation and writing, as pickle or JSON.

The released file (``DeepLesion_manual_1K_test_release.pkl``) is a dict
``{'val': {name: B}, 'test': {name: B}}``: ``name`` is a sub-volume
``{series}_{first}-{last}`` (``series`` = ``PPPPPP_SS_ss``; ``first`` and
``last`` the PNG slice numbers of the sub-volume, as written by the NIH
``DL_save_nifti.py``), ``B`` an ``(n, 6)`` float array of 3D boxes
``[x1, y1, z1, x2, y2, z2]`` in pixels with z in **whole-series slice
numbers** (``first <= z1 <= z2 <= last``); a sub-volume may hold no box.
Predictions have the same layout without the split level, ``(n, 7)`` rows
with the score last.

The JSON form holds the same content with arrays as lists of rows. Pickles
are read with :func:`cspr_det.utils.safe_pickle.safe_load` (no code runs).
Every problem raises :class:`AnnotationError` with one line naming the file
and the sub-volume (a pickle naming a global that is not plain data:
:class:`~cspr_det.utils.safe_pickle.UnsafePickleError`).
"""
import json
import os
import os.path as osp
import pickle
import re
import tempfile
from typing import Dict, Tuple, Union

import numpy as np

from cspr_det.utils.safe_pickle import (UnsafePickleError, safe_load,
                                        to_jsonable)

__all__ = [
    'AnnotationError', 'SUBVOLUME_NAME', 'parse_subvolume_name',
    'subvolume_name', 'load_3d_annotations', 'validate_3d_annotations',
    'load_3d_predictions', 'validate_3d_predictions', 'save_3d_boxes'
]

#: ``{series}_{first}-{last}``, series ``PPPPPP_SS_ss``.
SUBVOLUME_NAME = re.compile(r'^(\d{6}_\d{2}_\d{2})_(\d+)-(\d+)$')

Boxes = Dict[str, np.ndarray]


class AnnotationError(ValueError):
    """A malformed 3D annotation or prediction file."""


def parse_subvolume_name(name: str) -> Tuple[str, int, int]:
    """Series and slice range of a sub-volume name.

    Args:
        name: ``{series}_{first}-{last}``, e.g. ``001344_01_01_012-024``
            (a ``.nii`` / ``.nii.gz`` suffix is accepted).

    Returns:
        tuple: ``(series, first, last)``.

    Raises:
        AnnotationError: The name does not parse or ``first > last``.
    """
    base = osp.basename(str(name))
    for ext in ('.nii.gz', '.nii'):
        if base.endswith(ext):
            base = base[:-len(ext)]
    m = SUBVOLUME_NAME.match(base)
    if not m:
        raise AnnotationError(
            f'{name!r} is not a sub-volume name {{series}}_{{first}}-{{last}}'
            ' (e.g. 001344_01_01_012-024)')
    first, last = int(m.group(2)), int(m.group(3))
    if first < 1 or last < first:
        raise AnnotationError(f'{name!r}: slice range {first}-{last} is empty '
                              'or not 1-based')
    return m.group(1), first, last


def subvolume_name(series: str, first: int, last: int) -> str:
    """``{series}_{first:03d}-{last:03d}`` (the NIH script's spelling)."""
    return f'{series}_{first:03d}-{last:03d}'


def _read(path: str) -> object:
    """A ``.json`` file with ``json``, anything else as a safe pickle."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    if path.lower().endswith('.json'):
        with open(path, encoding='utf-8') as f:
            try:
                return json.load(f)
            except ValueError as exc:
                raise AnnotationError(f'{path}: not valid JSON ({exc})') \
                    from None
    try:
        return safe_load(path)
    except UnsafePickleError:
        raise
    except pickle.UnpicklingError as exc:
        raise AnnotationError(str(exc)) from None


def _box_array(value, cols: int, where: str) -> np.ndarray:
    """``value`` as an ``(n, cols)`` float64 array (empty: ``(0, cols)``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f'{where}: boxes must be an (n, {cols}) '
                              'numeric array') from None
    if arr.size == 0:
        return np.zeros((0, cols), dtype=np.float64)
    if arr.ndim == 1 and arr.size == cols:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != cols:
        raise AnnotationError(f'{where}: boxes have shape {arr.shape}; '
                              f'expected (n, {cols})')
    if not np.isfinite(arr).all():
        raise AnnotationError(f'{where}: boxes contain NaN or infinite values')
    return arr


def _check_boxes(boxes: np.ndarray, name: str, where: str) -> None:
    """Non-empty extents and z inside the sub-volume's slice range."""
    if not len(boxes):
        return
    _, first, last = parse_subvolume_name(name)
    inverted = (boxes[:, 3] < boxes[:, 0]) | (boxes[:, 4] < boxes[:, 1]) | \
        (boxes[:, 5] < boxes[:, 2])
    if inverted.any():
        i = int(np.argmax(inverted))
        raise AnnotationError(f'{where}: box {i} {boxes[i, :6].tolist()} is '
                              'empty (x2 < x1, y2 < y1 or z2 < z1)')
    outside = (boxes[:, 2] < first) | (boxes[:, 5] > last)
    if outside.any():
        i = int(np.argmax(outside))
        raise AnnotationError(
            f'{where}: box {i} spans slices {boxes[i, 2]:g}-{boxes[i, 5]:g}, '
            f'outside the sub-volume\'s slices {first}-{last}')


def _sub_volumes(data, cols: int, where: str, check_z: bool) -> Boxes:
    if not isinstance(data, dict):
        raise AnnotationError(f'{where}: expected a dict of sub-volume name '
                              f'-> boxes, got {type(data).__name__}')
    out = {}
    for name, value in data.items():
        if not isinstance(name, str):
            raise AnnotationError(f'{where}: key {name!r} is not a sub-volume '
                                  'name')
        here = f'{where}[{name!r}]'
        try:
            parse_subvolume_name(name)
        except AnnotationError as exc:
            raise AnnotationError(f'{where}: {exc}') from None
        boxes = _box_array(value, cols, here)
        if check_z:
            _check_boxes(boxes, name, here)
        out[name] = boxes
    return out


def validate_3d_annotations(data,
                            source: str = '<annotations>') -> Dict[str, Boxes]:
    """Check and normalise annotations ``{split: {name: (n, 6)}}``.

    Args:
        data: The unpickled (or JSON) content.
        source: File name for messages.

    Returns:
        dict: ``{split: {name: (n, 6) float64}}`` in the input's order.

    Raises:
        AnnotationError: Wrong structure, shape, a non-finite value, an
            empty box or a box outside its sub-volume's slices (one line
            naming the file, split and sub-volume).
    """
    if not isinstance(data, dict) or not data or \
            not all(isinstance(v, dict) for v in data.values()):
        raise AnnotationError(
            f'{source}: expected {{split: {{sub-volume name: (n, 6) boxes}}}}'
            " (e.g. keys 'val' and 'test')")
    return {
        str(split): _sub_volumes(subs, 6, f'{source}[{split!r}]', True)
        for split, subs in data.items()
    }


def load_3d_annotations(path: str,
                        split: str = None) -> Union[Dict[str, Boxes], Boxes]:
    """Read and validate a 3D annotation file (released pickle or JSON).

    Args:
        path: ``.pkl`` (read without running code) or ``.json``.
        split: Return only this split (``'val'`` / ``'test'``).

    Returns:
        dict: ``{split: {name: (n, 6)}}``, or ``{name: (n, 6)}`` of
        ``split``.
    """
    data = validate_3d_annotations(_read(path), path)
    if split is None:
        return data
    if split not in data:
        raise AnnotationError(f'{path}: no split {split!r} (has '
                              f'{sorted(data)})')
    return data[split]


def validate_3d_predictions(data, source: str = '<predictions>') -> Boxes:
    """Check predictions ``{name: (n, 7)}`` (x1, y1, z1, x2, y2, z2,
    score); a ``{split: {...}}`` wrapper of one split is unwrapped."""
    if isinstance(data, dict) and len(data) == 1 and \
            isinstance(next(iter(data.values())), dict):
        data = next(iter(data.values()))
    return _sub_volumes(data, 7, source, False)


def load_3d_predictions(path: str) -> Boxes:
    """Read and validate a 3D prediction file (pickle or JSON)."""
    return validate_3d_predictions(_read(path), path)


def save_3d_boxes(data: dict, path: str) -> None:
    """Write annotations or predictions as a pickle (numpy arrays, the
    released layout) or JSON (by the extension), atomically.

    Args:
        data: ``{split: {name: array}}`` or ``{name: array}``.
        path: ``.json`` for JSON, anything else for a pickle.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    as_json = path.lower().endswith('.json')
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.part')
    try:
        if as_json:
            with os.fdopen(fd, 'w', encoding='utf-8') as f:
                json.dump(to_jsonable(data), f)
        else:
            with os.fdopen(fd, 'wb') as f:
                pickle.dump(_as_arrays(data), f, protocol=3)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _as_arrays(data):
    if isinstance(data, dict):
        return {k: _as_arrays(v) for k, v in data.items()}
    return np.asarray(data, dtype=np.float64)
