"""``init_detector`` and ``inference_ct``: a trained lesion detector on a
whole CT scan, in the spirit of mmdet's ``init_detector`` /
``inference_detector``."""
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cspr_det.fileio import CTVolume, as_ct_volume
from .init_model import init_model
from .lesion_linking import build_candidates, check_link_options
from .slice_inference import SliceStacker, config_test_pipeline, predict_rows


def init_detector(config: Union[str, Path, Config],
                  checkpoint: Optional[str] = None,
                  device: Union[str, torch.device] = 'cpu',
                  cfg_options: Optional[dict] = None,
                  strict: bool = True,
                  trust_checkpoint: bool = False) -> nn.Module:
    """Build a detector from its config and load a checkpoint strictly
    (:func:`~cspr_det.apis.init_model.init_model` under its mmdet name).

    Args:
        config: Config file or :class:`mmengine.Config`.
        checkpoint: Checkpoint file; None keeps the random initialisation.
        device: Torch device.
        cfg_options: Overrides merged into the config.
        strict: Refuse a checkpoint whose keys or shapes do not match the
            model (see :func:`cspr_det.models.utils.
            load_model_checkpoint`); False loads the matching tensors.
        trust_checkpoint: Load the checkpoint without the allow-list of
            checkpoint globals, for an old file you trust (unpickling it
            can run code; see ``docs/security.md``).

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` (the config) and
        ``dataset_meta`` (from the checkpoint, else ``classes=('lesion',)``).

    Raises:
        FileNotFoundError: Missing config or checkpoint.
        CheckpointMismatchError: The checkpoint does not fit the config.
        UnsafeCheckpointError: The checkpoint needs a global outside the
            allow-list and is not trusted.
    """
    return init_model(
        config,
        checkpoint,
        device,
        cfg_options,
        strict,
        trust_checkpoint=trust_checkpoint)


@dataclass
class CTResult:
    """What :func:`inference_ct` found in one CT volume.

    Attributes:
        volume: The volume (canonical grid).
        rows: The slices (array rows) the detector ran on.
        detections: 2D detections, numpy arrays: ``rows`` (N,), ``boxes``
            (N, 4) x1, y1, x2, y2 in pixels of the volume's slices,
            ``scores`` (N,), ``labels`` (N,), ``candidate`` (N,) the id of
            the 3D candidate holding each (0: none kept).
        candidates: 3D candidates, best first (see
            :func:`~cspr_det.apis.lesion_linking.build_candidates`).
        settings: The options of the run.
        timings: Seconds: ``read_s``, ``prepare_s`` (stacking, resizing,
            packing), ``model_s`` (forward passes), ``link_s``, ``total_s``,
            and ``non_model_share`` = 1 - model_s / total_s.
        classes: Class names of the labels.
    """
    volume: CTVolume
    rows: List[int]
    detections: dict
    candidates: List[dict]
    settings: dict
    timings: dict
    classes: Tuple[str, ...] = field(default=('lesion', ))

    def add_read_time(self, seconds: float) -> None:
        """Count the reading of a volume read before :func:`inference_ct`
        in ``read_s``, ``total_s`` and ``non_model_share``."""
        t = self.timings
        t['read_s'] += seconds
        t['total_s'] += seconds
        t['non_model_share'] = 1.0 - t['model_s'] / t['total_s'] \
            if t['total_s'] > 0 else 0.0

    def detection_records(self) -> List[dict]:
        """One dict per 2D detection (slice, box, score, class, candidate,
        world centre in mm, long/short box sides in mm)."""
        det, vol = self.detections, self.volume
        sx, sy = vol.spacing[:2]
        boxes = det['boxes'].astype(np.float64)
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2 - 0.5,
                            (boxes[:, 1] + boxes[:, 3]) / 2 - 0.5,
                            vol.grid_z[det['rows']].astype(np.float64)], 1)
        world = vol.index_to_world(centres) if len(boxes) else centres
        records = []
        for k in range(len(boxes)):
            row, label = int(det['rows'][k]), int(det['labels'][k])
            w, h = boxes[k, 2] - boxes[k, 0], boxes[k, 3] - boxes[k, 1]
            sides = sorted((float(w * sx), float(h * sy)), reverse=True)
            records.append(
                dict(
                    slice=row,
                    slice_name=vol.slice_names[row] if vol.slice_names else '',
                    box=[float(v) for v in boxes[k]],
                    score=float(det['scores'][k]),
                    label=label,
                    class_name=self.classes[label]
                    if 0 <= label < len(self.classes) else str(label),
                    candidate=int(det['candidate'][k]),
                    center_mm=[float(v) for v in world[k]],
                    long_mm=sides[0],
                    short_mm=sides[1]))
        return records

    def volume_info(self) -> dict:
        """The input and its canonical grid (JSON-serialisable)."""
        vol = self.volume
        src = {k: v for k, v in vol.source.items()}
        return dict(
            source=src,
            shape_zyx=[int(v) for v in vol.hu.shape],
            spacing_xyz=[float(v) for v in vol.spacing],
            origin=[float(v) for v in vol.origin],
            direction=[float(v) for v in vol.direction],
            runs=[list(r) for r in vol.runs()])


def select_rows(num_slices: int,
                rows: Optional[Sequence[int]] = None,
                z_range: Optional[Sequence[int]] = None,
                stride: int = 1) -> List[int]:
    """The slices to run: ``rows``, else every ``stride``-th slice of
    ``z_range`` (first, last; inclusive; default all)."""
    if stride < 1:
        raise ValueError(f'stride must be >= 1, got {stride}')
    if rows is not None:
        rows = sorted({int(r) for r in rows})
        bad = [r for r in rows if not 0 <= r < num_slices]
        if bad:
            raise ValueError(f'slices {bad[:5]} outside the volume '
                             f'(0..{num_slices - 1})')
        return rows
    first, last = (0, num_slices - 1) if z_range is None else \
        (int(z_range[0]), int(z_range[1]))
    if not 0 <= first <= last < num_slices:
        raise ValueError(f'z_range {first}..{last} is not inside the volume '
                         f'(0..{num_slices - 1})')
    return list(range(first, last + 1, stride))


def inference_ct(model: nn.Module,
                 volume_or_path: Union[str, Path, CTVolume],
                 rows: Optional[Sequence[int]] = None,
                 z_range: Optional[Sequence[int]] = None,
                 stride: int = 1,
                 batch_size: int = 4,
                 score_thr: float = 0.3,
                 link_iou: float = 0.3,
                 max_gap: int = 0,
                 top_k: Optional[int] = 50,
                 extend_thr: Optional[float] = None,
                 min_slices: int = 1,
                 candidate_score: str = 'max',
                 full_length: int = 3,
                 series_uid: Optional[str] = None,
                 spacing: Optional[Sequence[float]] = None,
                 progress: bool = False,
                 fast: bool = True) -> CTResult:
    """Detect lesions on the slices of a CT volume and link them in 3D.

    Every slice is the key slice of the model's S-slice stack, built from
    the in-memory volume with the training loader's interpolation rule and
    HU windows, resized by the model's test pipeline; boxes come back in
    pixels of the volume's (canonical) slices.

    Args:
        model: From :func:`init_detector` (needs ``model.cfg``).
        volume_or_path: A :class:`CTVolume` or a path for
            :func:`read_ct_volume` (NIfTI, DICOM series folder, DeepLesion
            PNG folder).
        rows: Slices (array rows) to run; default: see ``z_range``.
        z_range: ``(first, last)`` rows (inclusive); default all slices.
        stride: Run every ``stride``-th slice of ``z_range``.
        batch_size: Slices per forward pass.
        score_thr: Keep 2D detections scoring at least this (and link
            only those); with ``extend_thr``, a 3D candidate needs one.
        link_iou: IoU for linking detections on neighbouring slices.
        max_gap: Processed slices a candidate may skip without a detection.
        top_k: Keep the ``top_k`` best 3D candidates (None: all).
        extend_thr: Hysteresis: link detections down to this score
            (<= ``score_thr``), so that weak detections on a lesion's end
            slices extend a candidate holding one detection >=
            ``score_thr``; the detections kept are those >= ``score_thr``
            and the weaker ones inside a kept candidate. None: off.
        min_slices: A 3D candidate needs detections on at least this many
            slices.
        candidate_score: Score of a 3D candidate from its detections:
            ``'max'``, ``'mean'``, ``'sum'``, ``'max_len'`` or
            ``'mean_len'`` (see :mod:`cspr_det.apis.lesion_linking`).
        full_length: ``L`` of the length-weighted scores (slices).
        series_uid, spacing: Passed to :func:`read_ct_volume`.
        progress: Show a progress bar over the slices.
        fast: Reuse windowed/resized slices across stacks when that is
            bit-identical to the full test pipeline (checked per volume).

    Returns:
        CTResult: 2D detections, 3D candidates, settings and timings.
    """
    start = time.perf_counter()
    volume = as_ct_volume(volume_or_path, series_uid, spacing)
    read_s = time.perf_counter() - start
    if not hasattr(model, 'cfg'):
        raise ValueError('the model has no cfg; build it with init_detector')
    init_default_scope(model.cfg.get('default_scope', 'mmdet'))
    if extend_thr is not None and not extend_thr <= score_thr:
        raise ValueError(f'extend_thr ({extend_thr}) must be <= score_thr '
                         f'({score_thr})')
    max_step = stride * (max_gap + 1)
    check_link_options(link_iou, max_step, min_slices, candidate_score,
                       full_length)
    chosen = select_rows(volume.num_slices, rows, z_range, stride)
    stacker = SliceStacker(volume, config_test_pipeline(model.cfg), fast=fast)
    low_thr = score_thr if extend_thr is None else extend_thr
    dets, timing = predict_rows(model, stacker, chosen, batch_size, low_thr,
                                progress)
    tic = time.perf_counter()
    candidates, ids = build_candidates(
        volume, dets['rows'], dets['boxes'], dets['scores'], link_iou,
        max_step, top_k, None if extend_thr is None else score_thr, min_slices,
        candidate_score, full_length)
    dets['candidate'] = ids
    if extend_thr is not None:
        # the weak detections only as parts of a candidate
        keep = (dets['scores'] >= np.float32(score_thr)) | (ids > 0)
        dets = {k: v[keep] for k, v in dets.items()}
    link_s = time.perf_counter() - tic
    total = time.perf_counter() - start
    timings = dict(read_s=read_s, link_s=link_s, total_s=total, **timing)
    timings['non_model_share'] = 1.0 - timing['model_s'] / total \
        if total > 0 else 0.0
    settings = dict(
        num_slices=stacker.num_slices,
        slice_interval=stacker.slice_interval,
        windows=[list(w) for w in stacker.windows],
        fast_path=stacker.fast,
        stride=stride,
        batch_size=batch_size,
        score_thr=score_thr,
        link_iou=link_iou,
        max_gap=max_gap,
        top_k=top_k,
        extend_thr=extend_thr,
        min_slices=min_slices,
        candidate_score=candidate_score,
        full_length=full_length)
    classes = tuple(
        getattr(model, 'dataset_meta', {}).get('classes', ('lesion', )))
    return CTResult(volume, chosen, dets, candidates, settings, timings,
                    classes)
