"""Files of a whole-CT inference (:func:`write_ct_outputs`): JSON and CSV of
the 2D detections and 3D candidates, an overlay PNG of the best slice of
every candidate, a montage of the top candidates and, optionally, a NIfTI
label volume of the candidates' 3D boxes in the geometry of the input.

All files are written into a temporary folder next to the output folder and
moved into place at the end, so a failure leaves no partial output."""
import csv
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import List, Sequence

import cv2
import numpy as np
import SimpleITK as sitk

from cspr_det.fileio import volume_to_source, write_image
from cspr_det.visualization.ct_drawing import (SOFT_TISSUE_WINDOW, add_caption,
                                               crop_around, draw_boxes,
                                               hu_to_rgb, montage, upscale)
from .inference import CTResult

DETECTION_COLUMNS = ('slice', 'slice_name', 'x1', 'y1', 'x2', 'y2', 'score',
                     'class_name', 'candidate', 'center_x_mm', 'center_y_mm',
                     'center_z_mm', 'long_mm', 'short_mm')
CANDIDATE_COLUMNS = ('id', 'score', 'num_slices', 'z_first', 'z_last',
                     'best_slice', 'best_slice_name', 'x1', 'y1', 'x2', 'y2',
                     'long_mm', 'short_mm', 'z_extent_mm', 'center_x_mm',
                     'center_y_mm', 'center_z_mm', 'source_x', 'source_y',
                     'source_z')


def _fmt(value) -> str:
    return f'{value:.6g}' if isinstance(value, float) else str(value)


def _write_csv(path: str, columns: Sequence[str], rows: List[dict]) -> None:
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row[c]) for c in columns])


def _detection_rows(records: List[dict]) -> List[dict]:
    rows = []
    for rec in records:
        row = dict(rec)
        row.update(zip(('x1', 'y1', 'x2', 'y2'), rec['box']))
        row.update(
            zip(('center_x_mm', 'center_y_mm', 'center_z_mm'),
                rec['center_mm']))
        rows.append(row)
    return rows


def _candidate_rows(candidates: List[dict]) -> List[dict]:
    rows = []
    for cand in candidates:
        row = dict(cand)
        b = cand['bbox_3d']
        row.update(x1=b[0], y1=b[1], x2=b[3], y2=b[4])
        row.update(
            zip(('center_x_mm', 'center_y_mm', 'center_z_mm'),
                cand['center_mm']))
        row.update(
            zip(('source_x', 'source_y', 'source_z'),
                cand['center_source_index']))
        rows.append(row)
    return rows


def candidate_overlay(result: CTResult,
                      cand: dict,
                      window: Sequence[float] = SOFT_TISSUE_WINDOW,
                      min_size: int = 512) -> tuple:
    """The best slice of a candidate in ``window`` with its box, score and
    diameters (other candidates on the slice in yellow).

    Returns:
        tuple: The captioned RGB image, the uncaptioned one and the scale
        from slice pixels to image pixels.
    """
    row = cand['best_slice']
    img, factor = upscale(hu_to_rgb(result.volume.hu[row], window), min_size)
    det = result.detections
    others = [
        k for k in np.flatnonzero(det['rows'] == row)
        if det['candidate'][k] not in (0, cand['id'])
    ]
    if others:
        draw_boxes(img, det['boxes'][others], (255, 220, 0),
                   [f"#{det['candidate'][k]}" for k in others], factor, 1)
    draw_boxes(img, [cand['box_2d']], (255, 40, 40),
               [f"#{cand['id']} {cand['score']:.2f}"], factor, 2)
    name = f" ({cand['best_slice_name']})" if cand['best_slice_name'] else ''
    c = cand['center_mm']
    lines = [
        f"candidate #{cand['id']}  score {cand['score']:.3f}  slice {row}"
        f"{name}",
        f"{cand['long_mm']:.1f} x {cand['short_mm']:.1f} mm  slices "
        f"{cand['z_first']}-{cand['z_last']} ({cand['num_slices']}, "
        f"{cand['z_extent_mm']:.1f} mm)",
        f'centre ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm LPS',
    ]
    return add_caption(img, lines), img, factor


def candidate_labels(result: CTResult) -> sitk.Image:
    """A label image of the candidates' 3D boxes (voxel = candidate id, the
    best candidate on top) in the geometry of the stored input (see
    :func:`cspr_det.fileio.volume_to_source`)."""
    vol = result.volume
    size = vol.grid_geometry()['size_xyz']
    dtype = np.uint8 if len(result.candidates) < 256 else np.uint16
    labels = np.zeros((size[2], size[1], size[0]), dtype)
    for cand in reversed(result.candidates):
        x1, y1, z1, x2, y2, z2 = cand['bbox_3d']
        g1 = int(vol.grid_z[z1] - vol.grid_z[0])
        g2 = int(vol.grid_z[z2] - vol.grid_z[0])
        xa, xb = max(0, int(np.floor(x1))), min(size[0], int(np.ceil(x2)))
        ya, yb = max(0, int(np.floor(y1))), min(size[1], int(np.ceil(y2)))
        labels[g1:g2 + 1, ya:yb, xa:xb] = cand['id']
    return volume_to_source(labels, vol)


def _write_images(result: CTResult, tmp: str, window: Sequence[float],
                  max_overlays: int, montage_size: int) -> None:
    tiles = []
    if result.candidates and max_overlays > 0:
        os.makedirs(osp.join(tmp, 'overlays'))
    for k, cand in enumerate(result.candidates):
        if k >= max(max_overlays, montage_size):
            break
        full, plain, factor = candidate_overlay(result, cand, window)
        if k < max_overlays:
            name = f"candidate_{cand['id']:03d}_slice{cand['best_slice']}.png"
            cv2.imwrite(osp.join(tmp, 'overlays', name), full[..., ::-1])
        if k < montage_size:
            tile = crop_around(plain, cand['box_2d'], factor)
            tile = cv2.resize(tile, (256, 256), interpolation=cv2.INTER_AREA)
            tiles.append(
                add_caption(tile, [
                    f"#{cand['id']} {cand['score']:.2f} s{cand['best_slice']}",
                    f"{cand['long_mm']:.0f}x{cand['short_mm']:.0f} mm "
                    f"{cand['num_slices']} sl"
                ]))
    if tiles:
        cv2.imwrite(osp.join(tmp, 'montage.png'), montage(tiles)[..., ::-1])


def write_ct_outputs(
        result: CTResult,
        out_dir: str,
        save_nifti: bool = False,
        max_overlays: int = 20,
        montage_size: int = 12,
        window: Sequence[float] = SOFT_TISSUE_WINDOW) -> List[str]:
    """Write the results of :func:`~cspr_det.apis.inference_ct`.

    Files: ``results.json`` (input geometry, settings, timings, detections,
    candidates), ``detections_2d.csv``, ``candidates.csv``,
    ``overlays/candidate_<id>_slice<row>.png`` (the first ``max_overlays``
    candidates), ``montage.png`` (crops of the first ``montage_size``) and,
    with ``save_nifti``, ``candidates_labels.nii.gz``.

    Args:
        result: The inference result.
        out_dir: Output folder (created; existing files of the same names
            are replaced).
        save_nifti: Also write the label volume (see
            :func:`candidate_labels`).
        max_overlays: Overlay PNGs to write.
        montage_size: Candidates in the montage.
        window: Display window (min, max HU) of the images.

    Returns:
        list[str]: The written files.
    """
    out_dir = osp.abspath(out_dir)
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.infer_ct-', dir=parent)
    try:
        records = result.detection_records()
        payload = dict(
            volume=result.volume_info(),
            settings=result.settings,
            timings=result.timings,
            rows=result.rows,
            detections=records,
            candidates=result.candidates)
        with open(osp.join(tmp, 'results.json'), 'w', encoding='utf-8') as f:
            json.dump(payload, f, indent=1)
        _write_csv(
            osp.join(tmp, 'detections_2d.csv'), DETECTION_COLUMNS,
            _detection_rows(records))
        _write_csv(
            osp.join(tmp, 'candidates.csv'), CANDIDATE_COLUMNS,
            _candidate_rows(result.candidates))
        _write_images(result, tmp, window, max_overlays, montage_size)
        if save_nifti:
            write_image(
                candidate_labels(result),
                osp.join(tmp, 'candidates_labels.nii.gz'))
        stale = osp.join(out_dir, 'overlays')
        if osp.isdir(stale):  # overlays of an earlier run
            for name in os.listdir(stale):
                if name.startswith('candidate_') and name.endswith('.png'):
                    os.remove(osp.join(stale, name))
        written = []
        for root, _, files in os.walk(tmp):
            for name in files:
                rel = osp.relpath(osp.join(root, name), tmp)
                dst = osp.join(out_dir, rel)
                os.makedirs(osp.dirname(dst), exist_ok=True)
                os.replace(osp.join(root, name), dst)
                written.append(dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(written)
