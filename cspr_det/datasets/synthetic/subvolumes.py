"""Synthetic DeepLesion 3D benchmark: sub-volume NIfTI files and fully
annotated 3D boxes in the released layout.

Each stored run of slices of a validation or test series becomes one
sub-volume, written from its PNG files the way the NIH ``DL_save_nifti.py``
(2018) writes them: HU (pixel - 32768) as int16, slices in PNG order, named
``{series}_{first:03d}-{last:03d}.nii.gz``, with the geometry of its nibabel
affine ``[[0, -sy, 0], [-sx, 0, 0], [0, 0, -sz]]`` (voxel axes: image row,
image column, slice; a higher slice number lies further toward the feet).

Every lesion drawn in a sub-volume gets its full 3D box, whether its key
slice (and so its ``DL_info.csv`` row) lies in that sub-volume or not:
``[x1, y1, z1, x2, y2, z2]`` in 0-based pixels and whole-series slice
numbers, the slices whose centre lies inside the ellipsoid, the in-plane
extent of its largest cross-section there. Tubes are not lesions.
"""
import os
import os.path as osp
from typing import TYPE_CHECKING, Dict, List, Sequence, Tuple

import cv2
import numpy as np
import SimpleITK as sitk

from cspr_det.fileio import HU_OFFSET
from ..deeplesion3d_annotations import save_3d_boxes, subvolume_name
from ..deeplesion_csv import slice_file_name
from .phantom import mm_to_pixel

if TYPE_CHECKING:  # pragma: no cover
    from .series_plan import SeriesPlan

__all__ = [
    'NIH_2018_DIRECTION', 'lesion_box_3d', 'write_nih_subvolume',
    'write_synthetic_subvolumes'
]

#: ITK (LPS) direction of the NIH 2018 NIfTI files: voxel axis 0 (image
#: row) -> posterior, axis 1 (image column) -> left, axis 2 (slice) ->
#: inferior; row-major, column k = axis k.
NIH_2018_DIRECTION = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)

_SPLIT_NAMES = {2: 'val', 3: 'test'}


def write_nih_subvolume(path: str, hu: np.ndarray,
                        spacing: Sequence[float]) -> None:
    """Write a (S, H, W) stack of slices in PNG order as the NIH 2018
    script does.

    Args:
        path: Output ``.nii.gz``.
        hu: (S, H, W) HU, slice 0 = the lowest PNG slice number.
        spacing: (sx, sy, sz) mm: column and row pixel sizes, slice
            interval.
    """
    # ITK index (i, j, k) = (image row, image column, slice): numpy (k, j, i)
    data = np.ascontiguousarray(
        np.asarray(hu).astype(np.int16).transpose(0, 2, 1))
    image = sitk.GetImageFromArray(data)
    # the affine's row axis has length sx, its column axis sy (NIH script)
    image.SetSpacing(tuple(float(v) for v in spacing))
    image.SetDirection(NIH_2018_DIRECTION)
    image.SetOrigin((0.0, 0.0, 0.0))
    sitk.WriteImage(image, path, True)


def lesion_box_3d(les: dict, key: int, dz: float, size: int, spacing: float,
                  first: int, last: int):
    """The 3D box of a lesion inside slices ``first..last``, or None.

    Args:
        les: A planned lesion (``cx``, ``cy`` mm, semi-axes ``a``, ``b``
            in-plane and ``c`` along z, ``theta``).
        key: Its key slice (its centre lies on it).
        dz: Slice interval (mm).
        size: Rows = columns.
        spacing: Pixel size (mm).
        first, last: Slice numbers of the sub-volume.

    Returns:
        np.ndarray | None: ``(6,)`` box, or None when no slice centre of
        the sub-volume lies inside the lesion.
    """
    ks = np.arange(first, last + 1)
    dzn = np.abs(ks - key) * dz / les['c']
    inside = dzn < 1.0
    if not inside.any():
        return None
    z1, z2 = int(ks[inside][0]), int(ks[inside][-1])
    shrink = float(np.sqrt(1.0 - dzn[inside].min()**2))
    c, s = np.cos(les['theta']), np.sin(les['theta'])
    hx = np.hypot(les['a'] * c, les['b'] * s) * shrink / spacing
    hy = np.hypot(les['a'] * s, les['b'] * c) * shrink / spacing
    cx = mm_to_pixel(les['cx'], size, spacing)
    cy = mm_to_pixel(les['cy'], size, spacing)
    x1, x2 = np.clip([cx - hx, cx + hx], 0, size - 1)
    y1, y2 = np.clip([cy - hy, cy + hy], 0, size - 1)
    return np.round([x1, y1, z1, x2, y2, z2], 2)


def _read_run(folder: str, first: int, last: int) -> np.ndarray:
    slices = []
    for k in range(first, last + 1):
        path = osp.join(folder, slice_file_name(k))
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise OSError(f'cannot read {path}')
        slices.append(img.astype(np.int32) - HU_OFFSET)
    return np.stack(slices)


def write_synthetic_subvolumes(
    plans: Sequence['SeriesPlan'],
    images_dir: str,
    out_dir: str,
    splits: Tuple[int, ...] = (2, 3)) -> dict:
    """Write the sub-volumes and 3D annotations of the val/test series.

    Output under ``out_dir``: ``subvolumes/{name}.nii.gz``,
    ``annotations.pkl`` and ``annotations.json`` (``{'val': {name: (n, 6)},
    'test': {...}}``, the released layout) and ``lesion_types.json``
    (``{split: {name: [type of every box]}}``, DeepLesion type codes).

    Args:
        plans: The series.
        images_dir: The ``Images_png`` folder already written.
        out_dir: Output folder.
        splits: Official split codes to write (2 val, 3 test).

    Returns:
        dict: ``{split name: dict(subvolumes, boxes, empty)}``.
    """
    sub_dir = osp.join(out_dir, 'subvolumes')
    os.makedirs(sub_dir, exist_ok=True)
    ann: Dict[str, Dict[str, np.ndarray]] = {
        _SPLIT_NAMES[s]: {}
        for s in splits
    }
    types: Dict[str, Dict[str, List[int]]] = {k: {} for k in ann}
    for plan in plans:
        if plan.split not in splits:
            continue
        split = _SPLIT_NAMES[plan.split]
        for first, last in plan.runs:
            name = subvolume_name(plan.series, first, last)
            hu = _read_run(osp.join(images_dir, plan.series), first, last)
            write_nih_subvolume(
                osp.join(sub_dir, name + '.nii.gz'), hu,
                (plan.spacing, plan.spacing, plan.dz))
            boxes, kinds = [], []
            for les in sorted(plan.lesions, key=lambda d: d['key']):
                box = lesion_box_3d(les, les['key'], plan.dz, plan.size,
                                    plan.spacing, first, last)
                if box is not None:
                    boxes.append(box)
                    kinds.append(int(les['type']))
            ann[split][name] = np.asarray(boxes, np.float64).reshape(-1, 6)
            types[split][name] = kinds
    save_3d_boxes(ann, osp.join(out_dir, 'annotations.pkl'))
    save_3d_boxes(ann, osp.join(out_dir, 'annotations.json'))
    save_3d_boxes(types, osp.join(out_dir, 'lesion_types.json'))
    return {
        split:
        dict(
            subvolumes=len(subs),
            boxes=int(sum(len(b) for b in subs.values())),
            empty=int(sum(1 for b in subs.values() if not len(b))))
        for split, subs in ann.items()
    }
