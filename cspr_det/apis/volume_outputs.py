"""Files of a whole-scan segmentation (:func:`write_volume_outputs`): the
label volume as NIfTI in the geometry of the input, a CSV of per-label voxel
counts and volumes, an overlay PNG and a JSON summary (and, optionally, one
probability volume per class)."""
import csv
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np
import SimpleITK as sitk

from cspr_det.fileio import (image_from_array, orientation_of, reorient,
                             write_image)
from cspr_det.visualization.ct_drawing import (SOFT_TISSUE_WINDOW, add_caption,
                                               hu_to_rgb, montage)
from .output_dir import staged_output
from .volume_inference import VolumeSegResult

VOLUME_COLUMNS = ('label', 'class_name', 'voxels', 'volume_ml')
#: Colours (RGB) of the labels 1, 2, ... when the model has no palette.
DEFAULT_COLOURS = ((220, 20, 60), (255, 215, 0), (0, 160, 255), (60, 200, 60),
                   (200, 80, 255), (255, 128, 0), (0, 220, 200), (255, 105,
                                                                  180))


def label_colours(num_classes: int,
                  palette: Optional[Sequence] = None) -> List[tuple]:
    """RGB colour of every label (background first): the ``palette`` where
    it has one, else :data:`DEFAULT_COLOURS`."""
    palette = list(palette or [])
    colours = []
    for k in range(num_classes):
        if k < len(palette):
            colours.append(tuple(int(c) for c in palette[k]))
        else:
            colours.append((
                0, 0, 0) if k == 0 else DEFAULT_COLOURS[(k - 1) %
                                                        len(DEFAULT_COLOURS)])
    return colours


def _overlay_slice(hu: np.ndarray, labels: np.ndarray, colours,
                   window: Sequence[float], aspect: float) -> np.ndarray:
    """One axial slice in ``window`` with the labels filled (40 %) and
    outlined; resized to square pixels (``aspect`` = y / x spacing)."""
    img = hu_to_rgb(hu, window).astype(np.float32)
    for value in np.unique(labels):
        if value == 0 or value >= len(colours):
            continue
        mask = (labels == value).astype(np.uint8)
        img[mask > 0] = 0.6 * img[mask > 0] + 0.4 * np.asarray(
            colours[value], np.float32)
    img = img.astype(np.uint8)
    for value in np.unique(labels):
        if value == 0 or value >= len(colours):
            continue
        contours, _ = cv2.findContours((labels == value).astype(np.uint8),
                                       cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(img, contours, -1, colours[value], 1)
    h, w = img.shape[:2]
    if abs(aspect - 1.0) > 1e-3:
        img = cv2.resize(
            img, (w, max(1, int(round(h * aspect)))),
            interpolation=cv2.INTER_NEAREST)
    return img


def overlay_rows(labels: np.ndarray, num: int = 3) -> List[int]:
    """Axial rows to show: the row with the most foreground and the rows at
    1/4 and 3/4 of the foreground's extent (the middle rows without any)."""
    area = (labels > 0).reshape(labels.shape[0], -1).sum(1)
    depth = labels.shape[0]
    if not area.any():
        return sorted({
            int(round(f * (depth - 1)))
            for f in np.linspace(0.25, 0.75, num)
        })
    zs = np.flatnonzero(area)
    rows = {int(area.argmax())}
    for f in np.linspace(0.0, 1.0, num + 2)[1:-1]:
        if len(rows) >= num:
            break
        rows.add(int(zs[0] + round(f * (zs[-1] - zs[0]))))
    return sorted(rows)


def segmentation_overlay(result: VolumeSegResult,
                         window: Sequence[float] = SOFT_TISSUE_WINDOW,
                         palette: Optional[Sequence] = None) -> np.ndarray:
    """Axial slices of the scan (radiological view) with the labels, and a
    caption with the volume of every label; (H, W, 3) uint8 RGB."""
    vol = result.volume
    colours = label_colours(len(result.classes), palette)
    sx, sy = vol.spacing[:2]
    tiles = []
    for row in overlay_rows(result.labels):
        tile = _overlay_slice(vol.hu[row], result.labels[row], colours, window,
                              sy / sx)
        scale = 256.0 / max(tile.shape[:2])
        if scale > 1:
            tile = cv2.resize(
                tile,
                None,
                fx=scale,
                fy=scale,
                interpolation=cv2.INTER_NEAREST)
        name = vol.slice_names[row] if vol.slice_names else ''
        tiles.append(add_caption(tile, [f'slice {row} {name}'.strip()]))
    grid = montage(tiles, columns=len(tiles), tile_size=256)
    name = osp.basename(vol.name.rstrip(os.sep))
    lines = [
        f'{name}: {vol.hu.shape[0]} x {vol.hu.shape[1]} x '
        f'{vol.hu.shape[2]} voxels of ' +
        ' x '.join(f'{v:.3g}' for v in vol.spacing) + ' mm'
    ]
    lines += [
        f"{r['class_name']}: {r['volume_ml']:.1f} mL "
        f"({r['voxels']} voxels)" for r in result.label_volumes()[1:]
    ]
    return add_caption(grid, lines)


def volume_summary(result: VolumeSegResult) -> dict:
    """JSON-serialisable summary of a segmentation."""
    vol = result.volume
    return dict(
        source={
            k: v
            for k, v in vol.source.items()
        },
        shape_zyx=[int(v) for v in vol.hu.shape],
        spacing_xyz=[float(v) for v in vol.spacing],
        classes=list(result.classes),
        model_spacing_zyx=list(result.model_spacing),
        model_shape_zyx=list(result.model_shape),
        volumes=result.label_volumes(),
        timings=result.timings)


def write_volume_outputs(result: VolumeSegResult,
                         out_dir: str,
                         window: Sequence[float] = SOFT_TISSUE_WINDOW,
                         palette: Optional[Sequence] = None,
                         save_probabilities: bool = False) -> List[str]:
    """Write the results of :func:`~cspr_det.apis.inference_volume`.

    Files: ``labels.nii.gz`` (uint8 training ids in the geometry of the
    input: same size, spacing, origin and direction), ``volumes.csv``
    (``label, class_name, voxels, volume_ml`` per class), ``overlay.png``,
    ``results.json`` and, with ``save_probabilities`` (needs a result with
    probabilities), ``probability_<class>.nii.gz`` for every class but the
    background (float32, in the input's geometry). All or nothing: a
    failure leaves ``out_dir`` as it was.

    Returns:
        list[str]: The written files.
    """
    if save_probabilities and result.probabilities is None:
        raise ValueError('save_probabilities needs inference_volume(..., '
                         'return_probabilities=True)')
    with staged_output(out_dir, '.infer_seg-') as stage:
        write_image(result.label_image, stage.path('labels.nii.gz'))
        with open(
                stage.path('volumes.csv'), 'w', newline='',
                encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(VOLUME_COLUMNS)
            for rec in result.label_volumes():
                writer.writerow([
                    rec['label'], rec['class_name'], rec['voxels'],
                    f"{rec['volume_ml']:.6g}"
                ])
        img = segmentation_overlay(result, window, palette)
        if not cv2.imwrite(stage.path('overlay.png'), img[..., ::-1]):
            raise OSError('cannot write overlay.png')
        with open(stage.path('results.json'), 'w', encoding='utf-8') as f:
            json.dump(volume_summary(result), f, indent=1)
        if save_probabilities:
            vol = result.volume
            ref = result.label_image
            for k, name in enumerate(result.classes):
                if k == 0:
                    continue
                # canonical grid -> the input's stored grid (as the labels)
                img = image_from_array(result.probabilities[k], vol.spacing,
                                       vol.origin, vol.direction)
                stored = _to_stored(img, ref)
                write_image(stored,
                            stage.path(f'probability_{_safe(name)}.nii.gz'))
    return stage.written


def _safe(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_' else '_' for c in name)


def _to_stored(image: sitk.Image, ref: sitk.Image) -> sitk.Image:
    """``image`` (canonical grid) in the geometry of ``ref`` (the stored
    input): a pure axis permutation/flip."""
    out = reorient(image, orientation_of(ref))
    out.CopyInformation(ref)
    return out
