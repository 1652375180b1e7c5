"""2D patches of labelled CT volumes for VDT pre-training on a CT source
task: each patch is three neighbouring axial slices (one per RGB channel,
the VDT's slices) around a voxel, labelled with the class of that voxel.

Reads a converted volume dataset (``index.json`` + ``images/*.npy`` +
``labels/*.npy``, as written by ``tools/dataset_converters/lits.py`` and
``btcv.py``); :func:`sample_slice_patches` draws the patches,
``tools/dataset_converters/ct_patches_to_folder.py`` writes them in the
class-folder layout of :class:`~cspr_det.datasets.ImageFolderDataset`.
"""
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from cspr_det.utils.user_input_error import UserInputError
from .transforms.hu_window_3d import window_hu
from .volume_converter import load_index


class PatchSourceError(UserInputError):
    """A converted volume dataset that cannot serve as a patch source."""


def read_volume_index(root: str) -> dict:
    """The ``index.json`` of a converted volume dataset (read and
    version-checked by :func:`~cspr_det.datasets.volume_converter.load_index`).

    Raises:
        FileNotFoundError: No index.
        ValueError: Not a converted index, or another format version.
        PatchSourceError: An index without cases.
    """
    path = osp.join(root, 'index.json')
    index = load_index(path)
    if not index['cases']:
        raise PatchSourceError(f'{path} lists no cases')
    return index


def window_to_uint8(hu: np.ndarray, window: Tuple[float, float]) -> np.ndarray:
    """Clip HU to ``window`` and scale to 0-255 (uint8, rounded), the
    scale of the volume pipelines' ``HUWindow3D``."""
    return np.round(window_hu(hu, window)).astype(np.uint8)


def sample_slice_patches(
        image: np.ndarray,
        label: np.ndarray,
        patch_size: int,
        per_class: int,
        window: Tuple[float, float],
        rng: np.random.Generator,
        classes: Optional[Sequence[int]] = None,
        pad_hu: float = -1024.0) -> Iterator[Tuple[int, np.ndarray]]:
    """Draw up to ``per_class`` patches per label value from one volume.

    Args:
        image: ``(D, H, W)`` HU volume.
        label: ``(D, H, W)`` integer label volume on the same grid.
        patch_size: In-plane side ``P`` of a patch (pixels).
        per_class: Patches per label value (fewer when the class has fewer
            voxels in slices ``1 ... D-2``).
        window: HU window mapped to 0-255.
        rng: Random generator (centre choice).
        classes: Label values to sample (default: every value present).
        pad_hu: HU outside the volume (air) where a patch crosses the
            in-plane border.

    Yields:
        tuple: ``(label_value, patch)``, ``patch`` a ``(P, P, 3)`` uint8
        array whose channels are slices ``z - 1, z, z + 1`` around the
        centre voxel ``(z, y, x)`` of that class.

    Raises:
        PatchSourceError: Image and label grids differ, or fewer than 3
            slices.
    """
    if image.shape != label.shape or image.ndim != 3:
        raise PatchSourceError(
            f'image {image.shape} and label {label.shape} must be one '
            '(D, H, W) grid')
    if image.shape[0] < 3:
        raise PatchSourceError(
            f'a volume of {image.shape[0]} slice(s) has no 3-slice context')
    half = patch_size // 2
    inner = label[1:-1]
    values = np.unique(inner) if classes is None else classes
    padded = None
    for value in values:
        zz, yy, xx = np.nonzero(inner == value)
        if zz.size == 0:
            continue
        take = rng.choice(zz.size, min(per_class, zz.size), replace=False)
        if padded is None:
            padded = np.pad(
                image, ((0, 0), (half, half), (half, half)),
                constant_values=pad_hu)
        for i in np.sort(take):
            z, y, x = zz[i] + 1, yy[i], xx[i]
            crop = padded[z - 1:z + 2, y:y + patch_size, x:x + patch_size]
            yield int(value), np.ascontiguousarray(
                window_to_uint8(crop, window).transpose(1, 2, 0))


def split_cases(index: dict, split: str) -> List[Dict]:
    """The cases of ``split`` (``'train'`` or ``'test'``) of an index."""
    cases = [c for c in index['cases'] if c.get('split') == split]
    if not cases:
        raise PatchSourceError(
            f'the index lists no {split!r} case (splits: '
            f'{sorted({c.get("split") for c in index["cases"]})})')
    return cases
