"""``inference_volume``: a trained 3D segmentor on a whole CT scan, in the
spirit of mmseg's ``inference_model``.

The scan goes the way of a converted test case of ``tools/test.py``: the
canonical (LPS) volume is resampled to the spacing the model was trained at
(``target_spacing`` of the config, the converter's ``--spacing``) exactly as
the LiTS / BTCV converters do, rounded to int16 HU, passed through the
config's test pipeline (its loading transform replaced by the in-memory
volume) and the model's own test-time path (sliding windows, largest
component, ...). The prediction is mapped back onto the scan's own grid
as :class:`~cspr_det.engine.hooks.SegPredictionWriterHook` maps test
predictions back to their source files, so both give the same labels.
"""
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn as nn
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from cspr_det.fileio import (CANONICAL_ORIENTATION, CTVolume, VolumeError,
                             as_ct_volume, geometry_of, image_from_array,
                             reference_image, reorient, resample_intensity,
                             target_grid, to_source_geometry)
from .init_model import model_task
from .slice_inference import _bare_type, config_test_pipeline

Spacing = Tuple[Optional[float], Optional[float], Optional[float]]


@dataclass
class VolumeSegResult:
    """What :func:`inference_volume` found in one CT volume.

    Attributes:
        volume: The volume (canonical grid, see :class:`CTVolume`).
        labels: (D, H, W) uint8 training ids on the volume's own grid (the
            shape of ``volume.hu``).
        label_image: The same labels in the geometry of the stored input
            (size, spacing, origin, direction of the file or series), ready
            to be written as NIfTI.
        classes: Class name of every id.
        probabilities: (C, D, H, W) float32 softmax probabilities on the
            volume's grid (linearly resampled from the model's grid), or
            None.
        model_spacing: (z, y, x) mm of the grid the model ran on.
        model_shape: (D, H, W) of that grid.
        timings: Seconds: ``read_s``, ``prepare_s``, ``model_s``,
            ``restore_s`` (back to the scan's grid), ``total_s``.
    """
    volume: CTVolume
    labels: np.ndarray
    label_image: sitk.Image
    classes: Tuple[str, ...]
    probabilities: Optional[np.ndarray] = None
    model_spacing: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    model_shape: Tuple[int, int, int] = (0, 0, 0)
    timings: dict = field(default_factory=dict)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel of the scan in mL."""
        return float(np.prod(self.volume.spacing)) / 1000.0

    def label_volumes(self) -> List[dict]:
        """One dict per class id: ``label``, ``class_name``, ``voxels`` (on
        the scan's own grid) and ``volume_ml``."""
        counts = np.bincount(self.labels.ravel(), minlength=len(self.classes))
        return [
            dict(
                label=k,
                class_name=self.classes[k]
                if k < len(self.classes) else str(k),
                voxels=int(n),
                volume_ml=float(n) * self.voxel_volume_ml)
            for k, n in enumerate(counts)
        ]


def check_contiguous(volume: CTVolume) -> None:
    """Raise :class:`VolumeError` when rows of the volume are missing
    (a DeepLesion folder with several runs of slices)."""
    runs = volume.runs()
    if len(runs) > 1:
        raise VolumeError(
            f'{volume.name}: slices are missing between rows '
            f'{", ".join(f"{a}-{b}" for a, b in runs)}; segmentation needs '
            'a complete volume')


def resolve_target_spacing(cfg,
                           target_spacing: Optional[Sequence] = None
                           ) -> Spacing:
    """The (z, y, x) spacing in mm the model works at (None keeps an axis):
    ``target_spacing`` when given, else the config's ``target_spacing``
    (the spacing its dataset was converted to), else the scan's own
    (with a warning)."""
    value = target_spacing
    if value is None:
        value = cfg.get('target_spacing')
    if value is None:
        print_log(
            'the config has no target_spacing (z, y, x mm of its '
            'converted data): the model runs on the scan grid',
            logger='current',
            level=logging.WARNING)
        return (None, None, None)
    value = tuple(value)
    if len(value) != 3 or any(
            v is not None and not (isinstance(v, (int, float)) and v > 0)
            for v in value):
        raise ValueError(f'target_spacing must be 3 positive numbers or None '
                         f'(z, y, x mm), got {value!r}')
    return tuple(None if v is None else float(v) for v in value)


def _canonical_geometry(volume: CTVolume, source: dict) -> tuple:
    """Spacing, origin and direction of the canonical grid as the
    converters compute them (the stored geometry reoriented; the volume's
    own spacing is rounded to 6 decimals)."""
    canon = reorient(
        reference_image(source, sitk.sitkUInt8), CANONICAL_ORIENTATION)
    if tuple(reversed(canon.GetSize())) != volume.hu.shape:
        return volume.spacing, volume.origin, volume.direction
    return canon.GetSpacing(), canon.GetOrigin(), canon.GetDirection()


def canonical_image(volume: CTVolume) -> sitk.Image:
    """The volume as a float32 SimpleITK image on its canonical grid (with
    the converters' geometry, see :func:`_canonical_geometry`)."""
    check_contiguous(volume)
    source = dict(volume.source.get('geometry') or volume.grid_geometry())
    return image_from_array(
        volume.hu.astype(np.float32, copy=False),
        *_canonical_geometry(volume, source))


def model_grid_case(volume: CTVolume, spacing_zyx: Spacing) -> dict:
    """The scan as a converted case: the canonical volume resampled to
    ``spacing_zyx`` (linear, as the converters do) and rounded to int16.

    Returns:
        dict: ``img`` (D', H', W') int16 HU and the case geometry
        ``spacing`` (z, y, x), ``origin``, ``direction``, ``source`` (the
        stored input's geometry).
    """
    image = canonical_image(volume)
    source = dict(volume.source.get('geometry') or volume.grid_geometry())
    grid = target_grid(image, spacing_zyx)
    if grid['size_xyz'] != list(image.GetSize()) or \
            grid['spacing_xyz'] != list(image.GetSpacing()):
        image = resample_intensity(image, grid)
    hu = sitk.GetArrayFromImage(image)
    if not np.issubdtype(hu.dtype, np.integer):
        hu = np.round(hu)
    hu = np.clip(hu, -32768, 32767).astype(np.int16)
    geo = geometry_of(image)
    return dict(
        img=hu,
        spacing=tuple(reversed(geo['spacing_xyz'])),
        origin=tuple(geo['origin']),
        direction=tuple(geo['direction']),
        source=source)


def _volume_pipeline(cfg) -> Compose:
    """The config's test pipeline without its loading transform(s)."""
    pipeline = [
        t for t in config_test_pipeline(cfg)
        if not _bare_type(t).startswith('Load')
    ]
    return Compose(pipeline)


def _probabilities_on_source(logits: torch.Tensor,
                             case: dict) -> List[sitk.Image]:
    """Softmax of (C, D', H', W') logits, linearly resampled onto the
    source geometry, one image per class."""
    probs = torch.softmax(logits.float(), dim=0).cpu().numpy()
    ref = reference_image(case['source'], sitk.sitkFloat32)
    out = []
    for prob in probs:
        img = image_from_array(
            prob.astype(np.float32), list(reversed(case['spacing'])),
            case['origin'], case['direction'])
        out.append(
            sitk.Resample(img, ref, sitk.Transform(), sitk.sitkLinear, 0.0,
                          sitk.sitkFloat32, True))
    return out


def _canonical(image: sitk.Image, volume: CTVolume) -> np.ndarray:
    """An image in the stored input's geometry as a (D, H, W) array on the
    volume's canonical grid."""
    arr = sitk.GetArrayFromImage(reorient(image, CANONICAL_ORIENTATION))
    if arr.shape != volume.hu.shape:
        raise VolumeError(f'{volume.name}: the prediction maps to shape '
                          f'{arr.shape}, not the volume shape '
                          f'{volume.hu.shape}')
    return arr


def inference_volume(
        model: nn.Module,
        scan: Union[str, Path, CTVolume],
        return_probabilities: bool = False,
        target_spacing: Optional[Sequence] = None,
        series_uid: Optional[str] = None,
        spacing: Optional[Sequence[float]] = None) -> VolumeSegResult:
    """Segment a whole CT scan with a 3D segmentor.

    Args:
        model: From :func:`~cspr_det.apis.init_model` (a
            :class:`VolumeSegmentor` with ``cfg``).
        scan: A :class:`CTVolume` or a path for :func:`read_ct_volume`
            (NIfTI or another 3D file, DICOM series folder or file,
            DeepLesion PNG folder).
        return_probabilities: Also return the softmax probabilities on the
            scan's grid (the model then keeps its logits; labels are their
            argmax as with ``test_cfg.return_logits``).
        target_spacing: (z, y, x) mm the model works at (None keeps an
            axis); default: the config's ``target_spacing``.
        series_uid, spacing: Passed to :func:`read_ct_volume`.

    Returns:
        VolumeSegResult: Labels on the scan's grid and in its stored
        geometry, per-label voxel counts and volumes (``label_volumes()``),
        optional probabilities, timings.

    Raises:
        VolumeError: Unreadable scan or missing slices.
        ValueError: The model is not a segmentor built with ``cfg``.
    """
    start = time.perf_counter()
    if not hasattr(model, 'cfg'):
        raise ValueError('the model has no cfg; build it with init_model')
    if model_task(model) != 'segmentation':
        raise ValueError(f'{type(model).__name__} is not a volume segmentor '
                         '(inference_volume needs a segmentation config)')
    volume = as_ct_volume(scan, series_uid, spacing)
    read_s = time.perf_counter() - start
    tic = time.perf_counter()
    init_default_scope(model.cfg.get('default_scope', 'mmdet'))
    case = model_grid_case(volume,
                           resolve_target_spacing(model.cfg, target_spacing))
    shape = tuple(int(v) for v in case['img'].shape)
    name = str(volume.source.get('path', 'scan'))
    results = dict(
        case,
        img_path=name,
        case_id=name,
        img_shape=shape,
        ori_shape=shape,
        sample_idx=0)
    packed = _volume_pipeline(model.cfg)(results)
    got = tuple(packed['inputs'].shape[1:])
    if got != shape:
        raise ValueError(
            f'the test pipeline of {model.cfg.filename or "the config"} '
            f'turns the {shape} volume into {got} (a crop?); '
            'inference_volume segments whole volumes (LiTS / BTCV configs)')
    data = pseudo_collate([packed])
    prepare_s = time.perf_counter() - tic
    tic = time.perf_counter()
    keep = model.test_cfg['return_logits']
    model.test_cfg['return_logits'] = keep or return_probabilities
    try:
        with torch.no_grad():
            sample = model.test_step(data)[0]
    finally:
        model.test_cfg['return_logits'] = keep
    model_s = time.perf_counter() - tic
    tic = time.perf_counter()
    pred = sample.pred_seg.detach().cpu().numpy()
    if pred.shape != shape:
        raise ValueError(f'the model predicted shape {pred.shape} for an '
                         f'input of shape {shape}')
    label_image = to_source_geometry(pred, case)
    labels = _canonical(label_image, volume).astype(np.uint8)
    probs = None
    if return_probabilities:
        probs = np.stack([
            _canonical(img, volume)
            for img in _probabilities_on_source(sample.seg_logits, case)
        ]).astype(np.float32)
    restore_s = time.perf_counter() - tic
    classes = tuple(getattr(model, 'dataset_meta', {}).get('classes', ()))
    if len(classes) < model.num_classes:
        classes = classes + tuple(
            f'class_{k}' for k in range(len(classes), model.num_classes))
    timings = dict(
        read_s=read_s,
        prepare_s=prepare_s,
        model_s=model_s,
        restore_s=restore_s,
        total_s=time.perf_counter() - start)
    return VolumeSegResult(volume, labels, label_image, classes, probs,
                           tuple(float(v) for v in case['spacing']), shape,
                           timings)
