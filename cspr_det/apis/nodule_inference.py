"""``inference_nodule``: a trained 3D nodule classifier (the LIDC malignancy
configs) on crops of a whole CT scan taken at given world coordinates.

The LIDC nodule crops the classifier learns from are cubes of about 1 mm
isotropic voxels centred on the nodule, HU stored as uint8 0-255 over a
fixed window (:data:`NODULE_HU_WINDOW`, the window of the synthetic crops
of ``tools/misc/make_synthetic_lidc.py``; a config may set its own
``nodule_hu_window``), axes along the scan's (z, y, x). The test pipeline
(``CentreCrop3D``) takes the central ``size``^3 voxels of such a crop. Here
the same ``size``^3 cube is resampled (linearly) from the scan around each
centre, on the canonical (LPS) axes of the scan, stored like the crops
(rounded to 0-255) and passed through the rest of the test pipeline and the
model's ``test_step``.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn as nn
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from cspr_det.fileio import CTVolume, as_ct_volume
from .init_model import model_task
from .slice_inference import _bare_type, config_test_pipeline
from .volume_inference import canonical_image

#: HU window stored as 0-255 in the nodule crops (min, max).
NODULE_HU_WINDOW = (-1024.0, 400.0)
#: Voxel size of the nodule crops in mm (isotropic).
NODULE_CROP_SPACING = 1.0
#: Crop edge when the test pipeline has no ``CentreCrop3D``.
DEFAULT_CROP_SIZE = 48


@dataclass
class NoduleResult:
    """What :func:`inference_nodule` found at the given centres.

    Attributes:
        volume: The scan (canonical grid).
        ids: One id per centre.
        centres_mm: (N, 3) world (LPS mm) centres.
        scores: (N, C) softmax scores of the classes.
        classes: Class names (the last one is the positive class).
        crops: (N, S, S, S) float32 crops (0-255) given to the model, when
            asked for.
        settings: Crop size, spacing and HU window.
        timings: Seconds: ``read_s``, ``crop_s``, ``model_s``, ``total_s``.
    """
    volume: CTVolume
    ids: List[str]
    centres_mm: np.ndarray
    scores: np.ndarray
    classes: Tuple[str, ...]
    crops: Optional[np.ndarray] = None
    settings: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def probabilities(self) -> np.ndarray:
        """(N,) score of the positive (last) class, e.g. malignant."""
        return self.scores[:, -1]

    def records(self) -> List[dict]:
        """One dict per centre: ``id``, ``x``, ``y``, ``z`` (mm),
        ``probability`` and ``score_<class>`` of every class."""
        out = []
        for k, nid in enumerate(self.ids):
            rec = dict(id=nid)
            rec.update(
                zip(('x', 'y', 'z'), (float(v) for v in self.centres_mm[k])))
            rec['probability'] = float(self.probabilities[k])
            for name, score in zip(self.classes, self.scores[k]):
                rec[f'score_{name}'] = float(score)
            out.append(rec)
        return out


def nodule_crop_settings(cfg,
                         crop_size: Optional[int] = None,
                         hu_window: Optional[Sequence[float]] = None) -> dict:
    """Crop edge (the test pipeline's ``CentreCrop3D`` size), voxel size
    and HU window of the nodule crops of a config."""
    if crop_size is None:
        sizes = [
            t.get('size', DEFAULT_CROP_SIZE) for t in config_test_pipeline(cfg)
            if _bare_type(t) == 'CentreCrop3D'
        ]
        crop_size = sizes[0] if sizes else DEFAULT_CROP_SIZE
    size = (crop_size, ) * 3 if isinstance(crop_size, int) else \
        tuple(crop_size)
    if len(size) != 3 or any(not isinstance(s, int) or s < 1 for s in size):
        raise ValueError(f'crop size must be a positive int or 3 of them, '
                         f'got {crop_size!r}')
    window = tuple(
        hu_window if hu_window is not None else cfg.
        get('nodule_hu_window', NODULE_HU_WINDOW))
    if len(window) != 2 or not window[0] < window[1]:
        raise ValueError(f'HU window must be (min, max) with min < max, got '
                         f'{window!r}')
    return dict(
        size_zyx=[int(s) for s in size],
        spacing_mm=NODULE_CROP_SPACING,
        hu_window=[float(v) for v in window])


def _centres(volume: CTVolume, centres_world_mm) -> np.ndarray:
    pts = np.asarray(centres_world_mm, dtype=np.float64)
    if pts.size == 0:
        raise ValueError('no nodule centre given')
    if pts.ndim == 1 and pts.size == 3:
        pts = pts[None]
    if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)):
        raise ValueError('centres_world_mm must be (N, 3) finite x, y, z in '
                         f'mm, got shape {pts.shape}')
    direction = np.asarray(volume.direction, np.float64).reshape(3, 3)
    index = ((pts - np.asarray(volume.origin)[None])
             @ np.linalg.inv(direction).T) / np.asarray(volume.spacing)[None]
    size = np.asarray(volume.hu.shape[::-1], np.float64)
    for k, (p, i) in enumerate(zip(pts, index)):
        if np.any(i < -0.5) or np.any(i > size - 0.5):
            raise ValueError(
                f'centre {k} ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm lies '
                f'outside the scan {volume.name}')
    return pts


def crop_at(image: sitk.Image, centre_mm: Sequence[float],
            settings: dict) -> np.ndarray:
    """The (D, H, W) crop of ``settings`` around a world point, on the axes
    of ``image``, stored like the nodule crops (0-255, rounded) as float32.

    Voxels outside the scan are air (the window's minimum)."""
    size_xyz = list(reversed(settings['size_zyx']))
    step = float(settings['spacing_mm'])
    direction = np.asarray(image.GetDirection(), np.float64).reshape(3, 3)
    half = (np.asarray(size_xyz, np.float64) - 1) / 2 * step
    origin = np.asarray(centre_mm, np.float64) - direction @ half
    ref = sitk.Image(size_xyz, sitk.sitkFloat32)
    ref.SetSpacing([step] * 3)
    ref.SetOrigin([float(v) for v in origin])
    ref.SetDirection([float(v) for v in direction.ravel()])
    lo, hi = settings['hu_window']
    hu = sitk.GetArrayFromImage(
        sitk.Resample(image, ref, sitk.Transform(), sitk.sitkLinear, lo,
                      sitk.sitkFloat32))
    return np.clip(np.rint((hu - lo) * (255.0 / (hi - lo))), 0,
                   255).astype(np.float32)


def inference_nodule(
        model: nn.Module,
        scan: Union[str, Path, CTVolume],
        centres_world_mm,
        ids: Optional[Sequence] = None,
        batch_size: int = 16,
        crop_size: Optional[int] = None,
        hu_window: Optional[Sequence[float]] = None,
        keep_crops: bool = False,
        series_uid: Optional[str] = None,
        spacing: Optional[Sequence[float]] = None) -> NoduleResult:
    """Score nodules at world coordinates of a CT scan.

    Args:
        model: From :func:`~cspr_det.apis.init_model` (a classifier of a
            nodule config, with ``cfg``).
        scan: A :class:`CTVolume` or a path for :func:`read_ct_volume`.
        centres_world_mm: (N, 3) nodule centres x, y, z in mm in the
            scan's physical (ITK / DICOM LPS) space.
        ids: One id per centre (default ``0 .. N-1``).
        batch_size: Crops per forward pass.
        crop_size: Crop edge; default the test pipeline's ``CentreCrop3D``.
        hu_window: HU range stored as 0-255; default the config's
            ``nodule_hu_window`` else :data:`NODULE_HU_WINDOW`.
        keep_crops: Return the crops too.
        series_uid, spacing: Passed to :func:`read_ct_volume`.

    Returns:
        NoduleResult: Scores per centre; ``probabilities`` is the score of
        the positive (last) class.

    Raises:
        VolumeError: Unreadable scan or missing slices.
        ValueError: Not a classifier, a centre outside the scan, bad ids.
    """
    start = time.perf_counter()
    if not hasattr(model, 'cfg'):
        raise ValueError('the model has no cfg; build it with init_model')
    if model_task(model) != 'classification':
        raise ValueError(f'{type(model).__name__} is not a classifier '
                         '(inference_nodule needs a classification config)')
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    volume = as_ct_volume(scan, series_uid, spacing)
    read_s = time.perf_counter() - start
    tic = time.perf_counter()
    init_default_scope(model.cfg.get('default_scope', 'mmdet'))
    settings = nodule_crop_settings(model.cfg, crop_size, hu_window)
    pts = _centres(volume, centres_world_mm)
    ids = [str(k) for k in range(len(pts))] if ids is None else \
        [str(v) for v in ids]
    if len(ids) != len(pts):
        raise ValueError(f'{len(ids)} ids for {len(pts)} centres')
    if len(set(ids)) != len(ids):
        raise ValueError('nodule ids must be unique')
    image = canonical_image(volume)
    crops = [crop_at(image, p, settings) for p in pts]
    pipeline = Compose([
        t for t in config_test_pipeline(model.cfg)
        if not _bare_type(t).startswith('Load')
    ])
    crop_s = time.perf_counter() - tic
    tic = time.perf_counter()
    scores = []
    for first in range(0, len(crops), batch_size):
        batch = []
        for k in range(first, min(first + batch_size, len(crops))):
            shape = tuple(crops[k].shape)
            batch.append(
                pipeline(
                    dict(
                        img=crops[k],
                        nodule_id=ids[k],
                        img_path=volume.name,
                        img_shape=shape,
                        ori_shape=shape,
                        spacing=(settings['spacing_mm'], ) * 3,
                        sample_idx=k)))
        with torch.no_grad():
            out = model.test_step(pseudo_collate(batch))
        scores.extend(s.pred_score.detach().cpu().float().numpy() for s in out)
    model_s = time.perf_counter() - tic
    classes = tuple(getattr(model, 'dataset_meta', {}).get('classes', ()))
    num = len(scores[0])
    if len(classes) != num:
        classes = tuple(f'class_{k}' for k in range(num))
    return NoduleResult(
        volume, ids, pts, np.stack(scores), classes,
        np.stack(crops) if keep_crops else None, settings,
        dict(
            read_s=read_s,
            crop_s=crop_s,
            model_s=model_s,
            total_s=time.perf_counter() - start))
