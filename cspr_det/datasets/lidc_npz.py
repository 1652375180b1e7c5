"""Reading LIDC nodule crops (``nodule/lidcP_K.npz``) and their reader masks.

Each npz holds ``voxel`` (a (D, H, W) uint8 crop, about 1 mm isotropic,
centred on the nodule) and ``answer1`` ... ``answer4``: the masks of the
readers (same shape; a reader who did not mark the nodule has an empty mask
or no key). The segmentation target is one of :data:`SEG_LABELS`:

- ``'answer1'``: the first reader's mask (the published protocol);
- ``'any'``: the first non-empty mask in reader order;
- ``'union'``: voxels marked by any reader;
- ``'majority'``: voxels marked by more than half of the readers who drew
  a (non-empty) mask.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

from .data_check import NPZ_ERRORS, npz_headers

READER_KEYS = ('answer1', 'answer2', 'answer3', 'answer4')
SEG_LABELS = ('answer1', 'any', 'union', 'majority')


def npz_array_headers(path: str) -> Dict[str, Tuple[tuple, np.dtype]]:
    """Shapes and dtypes of the arrays of an ``.npz`` without reading them
    (:func:`~cspr_det.datasets.data_check.npz_headers`: only the ``.npy``
    headers are decompressed; a member whose stored size disagrees with its
    header is an error).

    Args:
        path: The ``.npz`` file.

    Returns:
        dict: array name -> ``(shape, dtype)``.

    Raises:
        OSError, zipfile.BadZipFile, ValueError, EOFError, zlib.error:
            unreadable file, directory or header.
    """
    return npz_headers(path)


def _file_problem(path: str) -> Tuple[Optional[str], Optional[Dict]]:
    """(problem, headers): the file-level problem of one nodule npz (see
    :func:`nodule_file_problem`) and its array headers when readable."""
    try:
        headers = npz_array_headers(path)
    except FileNotFoundError:
        return f'npz not found: {path}', None
    except NPZ_ERRORS as err:
        return f'unreadable npz {path}: {type(err).__name__}: {err}', None
    if 'voxel' not in headers:
        return (f'{path} has no "voxel" array (arrays: '
                f'{sorted(headers)})'), headers
    shape = headers['voxel'][0]
    if len(shape) != 3:
        return f'voxel of {path} is not 3D: shape {shape}', headers
    for key in READER_KEYS:
        if key in headers and headers[key][0] != shape:
            return (f'mask {key} {headers[key][0]} differs from the voxel '
                    f'shape {shape} in {path}'), headers
    return None, headers


def nodule_file_problem(path: str) -> Optional[str]:
    """What is wrong with the file of one nodule, or None: missing, not a
    readable npz (zip directory, member headers and sizes), no 3D
    ``voxel`` array, or a reader mask of another shape. Reads headers
    only."""
    return _file_problem(path)[0]


def check_nodule_npz(path: str,
                     min_size: int = 48,
                     need_masks: bool = False,
                     seg_label: str = 'answer1') -> Optional[str]:
    """What is wrong with one nodule file, or None.

    Checks: the file problems of :func:`nodule_file_problem`, then that
    ``voxel`` has at least ``min_size`` voxels per axis and, with
    ``need_masks``, the masks needed by ``seg_label`` exist.

    Returns:
        str | None: a one-line problem description (without the nodule
        name), None when the file is usable.
    """
    problem, headers = _file_problem(path)
    if problem is not None:
        return problem
    shape = headers['voxel'][0]
    if min(shape) < min_size:
        return (f'crop {shape} of {path} is smaller than {min_size}^3 in at '
                'least one axis')
    if need_masks:
        present = [k for k in READER_KEYS if k in headers]
        if seg_label == 'answer1' and 'answer1' not in present:
            return f'{path} has no answer1 mask'
        if not present:
            return f'{path} has no reader mask (answer1..answer4)'
    return None


def combine_reader_masks(masks: List[Optional[np.ndarray]],
                         rule: str = 'answer1') -> np.ndarray:
    """The segmentation target of one nodule from its reader masks.

    Args:
        masks: The masks of readers 1..4 in order, (D, H, W) each (None for
            a missing key); non-zero voxels are marked.
        rule: One of :data:`SEG_LABELS` (see the module docstring).

    Returns:
        np.ndarray: (D, H, W) uint8 mask with values 0/1.
    """
    if rule not in SEG_LABELS:
        raise ValueError(f'seg_label must be one of {SEG_LABELS}, got '
                         f'{rule!r}')
    present = [np.asarray(m) > 0 for m in masks if m is not None]
    if not present:
        raise ValueError('no reader mask to combine')
    if rule == 'answer1':
        if masks[0] is None:
            raise ValueError('answer1 is missing')
        return (np.asarray(masks[0]) > 0).astype(np.uint8)
    drawn = [m for m in present if m.any()]
    if not drawn:
        return np.zeros(present[0].shape, np.uint8)
    if rule == 'any':
        return drawn[0].astype(np.uint8)
    votes = np.sum(drawn, axis=0)
    if rule == 'union':
        return (votes > 0).astype(np.uint8)
    return (2 * votes > len(drawn)).astype(np.uint8)


def load_nodule_npz(
    path: str,
    seg_label: Optional[str] = None
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Read the crop (and the segmentation target) of one nodule.

    Args:
        path: The ``.npz`` file.
        seg_label: None (no mask) or one of :data:`SEG_LABELS`.

    Returns:
        tuple: ``voxel`` (D, H, W) as stored and the (D, H, W) uint8 mask
        (None without ``seg_label``).

    Raises:
        ValueError: missing arrays or shapes that differ (message without
        the nodule name; callers add it).
    """
    with np.load(path) as npz:
        if 'voxel' not in npz.files:
            raise ValueError(f'{path} has no "voxel" array')
        voxel = npz['voxel']
        if seg_label is None:
            return voxel, None
        masks = [npz[k] if k in npz.files else None for k in READER_KEYS]
    for key, m in zip(READER_KEYS, masks):
        if m is not None and m.shape != voxel.shape:
            raise ValueError(f'mask {key} {m.shape} differs from the voxel '
                             f'shape {voxel.shape} in {path}')
    return voxel, combine_reader_masks(masks, seg_label)


__all__ = [
    'READER_KEYS', 'SEG_LABELS', 'check_nodule_npz', 'combine_reader_masks',
    'load_nodule_npz', 'nodule_file_problem', 'npz_array_headers'
]
