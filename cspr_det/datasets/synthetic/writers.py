"""Writers of the synthetic DeepLesion: 16-bit PNG slices, ``DL_info.csv``
rows and the ground-truth JSON.

:func:`hu_to_png16` / :func:`write_png16` store any HU slice the way
DeepLesion does (uint16, pixel = HU + 32768); the ``DL_info.csv`` file itself
is written by :func:`cspr_det.datasets.deeplesion_csv.write_deeplesion_csv`
(re-exported here) from the records of :func:`series_records`.
"""
import json
import os
import os.path as osp
from typing import TYPE_CHECKING, List, Sequence

import cv2
import numpy as np

from cspr_det.fileio.deeplesion_png import encode_ct_png
from ..clip_box import clip_box_to_image
from ..deeplesion_csv import slice_file_name, write_deeplesion_csv
from .phantom import BODY_LENGTH_MM, mm_to_pixel
from .render import render_series_slice

if TYPE_CHECKING:  # pragma: no cover
    from .series_plan import SeriesPlan

__all__ = [
    'hu_to_png16', 'write_png16', 'write_series_pngs', 'series_records',
    'write_deeplesion_csv', 'write_truth_json'
]


def hu_to_png16(hu: np.ndarray) -> np.ndarray:
    """HU to DeepLesion's stored pixel values.

    Args:
        hu (np.ndarray): (H, W) HU (any float or int dtype).

    Returns:
        np.ndarray: (H, W) uint16 ``round(HU) + 32768``, clipped to the
        uint16 range.
    """
    return encode_ct_png(hu)


def write_png16(path: str, hu: np.ndarray, compression: int = 1) -> None:
    """Write an HU slice as a single-channel 16-bit PNG (DeepLesion format).

    Args:
        path (str): Output ``.png`` file (its folder must exist).
        hu (np.ndarray): (H, W) HU.
        compression (int): PNG compression level 0-9 (1: fast).

    Raises:
        OSError: If the file cannot be written.
    """
    if not cv2.imwrite(path, hu_to_png16(hu),
                       [cv2.IMWRITE_PNG_COMPRESSION, compression]):
        raise OSError(f'cannot write {path}')


def write_series_pngs(plan: 'SeriesPlan', images_dir: str, seed: int) -> int:
    """Render and write every stored slice of a series.

    Args:
        plan (SeriesPlan): The series.
        images_dir (str): The ``Images_png`` folder; the series folder is
            created in it.
        seed (int): Dataset seed (see :func:`render_series_slice`).

    Returns:
        int: Number of PNG files written.
    """
    folder = osp.join(images_dir, plan.series)
    os.makedirs(folder, exist_ok=True)
    n = 0
    for lo, hi in plan.runs:
        for k in range(lo, hi + 1):
            write_png16(
                osp.join(folder, slice_file_name(k)),
                render_series_slice(plan, k, seed))
            n += 1
    return n


def _recist(les: dict, size: int, spacing: float) -> List[float]:
    """RECIST marks (0-based px): long axis ends, then short axis ends."""
    cx = mm_to_pixel(les['cx'], size, spacing)
    cy = mm_to_pixel(les['cy'], size, spacing)
    ca, sa = np.cos(les['theta']), np.sin(les['theta'])
    la, lb = les['a'] / spacing, les['b'] / spacing
    recist = [
        cx - la * ca, cy - la * sa, cx + la * ca, cy + la * sa, cx + lb * sa,
        cy - lb * ca, cx - lb * sa, cy + lb * ca
    ]
    return [round(v, 3) for v in recist]


def series_records(plan: 'SeriesPlan') -> List[dict]:
    """The lesion records of a series, in key slice order.

    Records have the fields of
    :func:`~cspr_det.datasets.deeplesion_csv.parse_deeplesion_row` (0-based,
    ready for :func:`write_deeplesion_csv`) plus ``true_type`` (the type
    also on training rows, where ``lesion_type`` is -1). The box is the
    RECIST extent +- 5 px, clipped to the image like every box read.
    """
    recs = []
    size, sp = plan.size, plan.spacing
    for les in sorted(plan.lesions, key=lambda d: d['key']):
        recist = _recist(les, size, sp)
        xs, ys = recist[0::2], recist[1::2]
        box, _ = clip_box_to_image(
            [min(xs) - 5, min(ys) - 5,
             max(xs) + 5, max(ys) + 5], size, size)
        run = next(r for r in plan.runs if r[0] <= les['key'] <= r[1])
        cx = mm_to_pixel(les['cx'], size, sp)
        cy = mm_to_pixel(les['cy'], size, sp)
        la, lb = les['a'] / sp, les['b'] / sp
        recs.append(
            dict(
                series=plan.series,
                file_name=f'{plan.series}/{slice_file_name(les["key"])}',
                patient=plan.patient,
                study=plan.study,
                series_id=plan.series_id,
                key_slice=les['key'],
                recist=recist,
                bbox_xyxy=box,
                diameters=[round(2 * la, 4),
                           round(2 * lb, 4)],
                location=[
                    round(cx / size, 6),
                    round(cy / size, 6),
                    round(float(np.clip(les['cz'] / BODY_LENGTH_MM, 0, 1)), 6)
                ],
                lesion_type=-1 if plan.split == 1 else les['type'],
                true_type=les['type'],
                noisy=les['noisy'],
                slice_range=list(run),
                spacing=[sp, sp, plan.dz],
                height=size,
                width=size,
                dicom_window=list(plan.window),
                gender=plan.gender,
                age=plan.age,
                split=plan.split))
    return recs


def write_truth_json(path: str, seed: int, preset: str, cfg: dict,
                     plans: Sequence['SeriesPlan']) -> None:
    """Write ``synthetic_truth.json``: the seed, preset, settings and, per
    series, its geometry, stored runs, 3D lesions and tubes."""
    truth = [
        dict(
            series=plan.series,
            slice_interval=plan.dz,
            spacing=plan.spacing,
            z0=plan.z0,
            runs=plan.runs,
            lesions=plan.lesions,
            tubes=plan.tubes) for plan in plans
    ]
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(
            dict(seed=seed, preset=preset, config=cfg, series=truth),
            f,
            default=float)
