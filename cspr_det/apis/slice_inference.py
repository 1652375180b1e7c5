"""Slice-stack inference on a :class:`~cspr_det.apis.CTVolume`.

The model's own test pipeline says how a sample is made: its
``LoadDeepLesionSlices`` entry gives the stack (S slices at a target mm
interval, HU windows), built here from the in-memory volume by the shared
:func:`~cspr_det.datasets.slice_stack.build_slice_stack`; the transforms
after it (``Resize``, ``PackDetInputs``, ...) run unchanged. So a key slice
gives the model exactly the input ``tools/test.py`` gives it.

Stack order: the training loader stacks a key slice's neighbours in
DeepLesion slice-number order, i.e. from the head toward the feet (see
:mod:`cspr_det.fileio.png_series_reader`). A :class:`CTVolume` is stored in
canonical LPS order (row 0 = most inferior), so the stacks are built along
the volume's z axis taken toward the feet, whatever orientation the input
file had: the same scan as a NIfTI (either NIH conversion), a DICOM
series, a PNG folder or a volume flipped in z gives the same stacks.

Fast path: ``Resize`` and ``Pad`` treat channels independently, so every
interpolated slice is windowed and resized once and reused by all stacks
that contain it (a slice is part of S stacks). Whether this reproduces the
full pipeline bit for bit is checked on the first slice of every volume
(OpenCV resizes a one-channel image along another code path, so single
windows are resized as two equal channels); if not, every stack runs the
full pipeline.
"""
import logging
import sys
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS
from mmengine.utils import ProgressBar

from cspr_det.datasets.slice_stack import (build_slice_stack,
                                           interpolate_slice,
                                           interpolation_plan, stack_positions,
                                           window_stack)
from cspr_det.fileio import CTVolume

#: Transforms applied per interpolated slice on the fast path.
PER_SLICE_TRANSFORMS = ('Resize', 'Pad')


def _bare_type(cfg: dict) -> str:
    t = cfg.get('type', '') if isinstance(cfg, dict) else ''
    return t.split('.')[-1] if isinstance(t, str) else type(t).__name__


def config_test_pipeline(cfg) -> List[dict]:
    """The test pipeline of a config (``test_dataloader.dataset``, through
    dataset wrappers, else ``test_pipeline``)."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset', {})
    while isinstance(dataset, dict) and 'pipeline' not in dataset and \
            'dataset' in dataset:
        dataset = dataset['dataset']
    pipeline = dataset.get('pipeline') if isinstance(dataset, dict) else None
    pipeline = pipeline or cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('the config has no test pipeline '
                         '(test_dataloader.dataset.pipeline)')
    return [dict(t) for t in pipeline]


def split_pipeline(pipeline: Sequence[dict]) -> Tuple[dict, list, list]:
    """Split a test pipeline into its slice loader, the per-slice transforms
    that follow it and the rest (``LoadAnnotations`` dropped: no ground
    truth at inference)."""
    types = [_bare_type(t) for t in pipeline]
    if 'LoadDeepLesionSlices' not in types:
        raise ValueError(
            'the test pipeline has no LoadDeepLesionSlices; whole-CT '
            f'inference takes its slice stack from it (pipeline: {types})')
    at = types.index('LoadDeepLesionSlices')
    after = [
        t for t in pipeline[at + 1:] if _bare_type(t) != 'LoadAnnotations'
    ]
    n = 0
    while n < len(after) and _bare_type(after[n]) in PER_SLICE_TRANSFORMS:
        n += 1
    return dict(pipeline[at]), after[:n], after[n:]


def _same_sample(a: dict, b: dict) -> bool:
    """Bit-identical inputs and equal geometry meta of two packed
    samples."""
    meta_a, meta_b = a['data_samples'].metainfo, b['data_samples'].metainfo
    keys = ('img_shape', 'ori_shape', 'scale_factor', 'pad_shape')
    return torch.equal(a['inputs'], b['inputs']) and meta_a.keys() == \
        meta_b.keys() and all(
            str(meta_a.get(k)) == str(meta_b.get(k)) for k in keys)


class SliceStacker:
    """Builds the model inputs of the slices of one volume.

    Args:
        volume: The CT volume.
        pipeline: The model's test pipeline (see
            :func:`config_test_pipeline`).
        fast: Try the fast path (see the module docstring).
    """

    def __init__(self,
                 volume: CTVolume,
                 pipeline: Sequence[dict],
                 fast: bool = True) -> None:
        loader_cfg, per_slice, rest = split_pipeline(pipeline)
        loader = TRANSFORMS.build(loader_cfg)
        self.num_slices = loader.num_slices
        self.slice_interval = loader.slice_interval
        self.windows = loader.windows
        self.volume = volume
        self.per_slice = Compose(per_slice)
        self.rest = Compose(rest)
        self.fast = fast
        self._checked = False
        self._cache: Dict[tuple, Tuple[np.ndarray, dict]] = {}
        grid = volume.grid_z - volume.grid_z[0]
        # stack index: position on the z grid counted toward the feet
        # (the training order); LPS +z is superior
        z_axis = np.asarray(volume.direction, np.float64).reshape(3, 3)[:, 2]
        self.toward_feet = bool(z_axis[2] < 0)
        self._stack_index = grid if self.toward_feet else grid[-1] - grid
        self._row_of = np.full(int(grid[-1]) + 1, -1, np.int64)
        self._row_of[self._stack_index] = np.arange(volume.num_slices)
        self._runs = {}
        for first, last in volume.runs():
            ends = self._stack_index[[first, last]]
            for row in range(first, last + 1):
                self._runs[row] = (int(ends.min()), int(ends.max()))

    def _hu(self, index: int) -> np.ndarray:
        """The slice at stack index ``index``."""
        return self.volume.hu[self._row_of[index]]

    def _base(self, row: int, positions: List[float]) -> dict:
        vol = self.volume
        return dict(
            img_id=row,
            img_path=vol.slice_names[row]
            if vol.slice_names else f'{vol.name}#{row}',
            key_slice=row,
            num_slices=self.num_slices,
            num_windows=len(self.windows),
            slice_positions=positions,
            slice_interval=float(vol.spacing[2]),
            spacing=[float(v) for v in vol.spacing])

    def generic(self, row: int) -> dict:
        """The packed sample of ``row`` through the full test pipeline."""
        key = int(self._stack_index[row])
        first, last = self._runs[row]
        img, positions = build_slice_stack(lambda i, shape: self._hu(i), key,
                                           first, last, self.num_slices,
                                           self.slice_interval,
                                           self.volume.spacing[2],
                                           self.windows)
        results = self._base(row, positions)
        results.update(
            img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return self.rest(self.per_slice(results))

    def _slice(self, plan: tuple, position: float, first: int,
               last: int) -> Tuple[np.ndarray, dict]:
        """Windowed, per-slice-transformed slice at ``position`` (cached by
        its interpolation plan)."""
        if plan not in self._cache:
            hu = interpolate_slice(self._hu, position, first, last)
            win = window_stack(hu[..., None], self.windows)
            k = win.shape[2]
            if k == 1:
                win = np.concatenate([win, win], axis=2)
            out = self.per_slice(
                dict(img=win, img_shape=hu.shape, ori_shape=hu.shape))
            img = out.pop('img')
            self._cache[plan] = (np.ascontiguousarray(img[..., :k]), out)
        return self._cache[plan]

    def cached(self, row: int) -> dict:
        """The packed sample of ``row`` from cached per-slice results."""
        key = int(self._stack_index[row])
        first, last = self._runs[row]
        positions = stack_positions(key, self.num_slices, self.slice_interval,
                                    self.volume.spacing[2])
        plans = [tuple(interpolation_plan(p, first, last)) for p in positions]
        # rows come in increasing order: drop the slices left behind
        if self.toward_feet:
            lowest = min(i for plan in plans for i, _ in plan)
            old = [p for p in self._cache if max(i for i, _ in p) < lowest]
        else:
            highest = max(i for plan in plans for i, _ in plan)
            old = [p for p in self._cache if min(i for i, _ in p) > highest]
        for plan in old:
            del self._cache[plan]
        parts = [
            self._slice(plan, pos, first, last)
            for plan, pos in zip(plans, positions)
        ]
        first_img, meta = parts[0]
        s = self.num_slices
        img = np.empty(first_img.shape[:2] + (s * len(self.windows), ),
                       np.float32)
        for k, (part, _) in enumerate(parts):
            img[..., k::s] = part
        results = self._base(row, positions)
        results.update(meta)
        results['img'] = img
        return self.rest(results)

    def __call__(self, row: int) -> dict:
        """The packed sample (``inputs``, ``data_samples``) of ``row``."""
        if not self.fast:
            return self.generic(row)
        sample = self.cached(row)
        if not self._checked:
            self._checked = True
            ref = self.generic(row)
            if not _same_sample(sample, ref):
                print_log(
                    'per-slice resizing does not reproduce the test '
                    'pipeline for this model; stacking every slice '
                    'through the full pipeline',
                    logger='current',
                    level=logging.INFO)
                self.fast = False
                self._cache.clear()
                return ref
        return sample


def predict_rows(model: torch.nn.Module,
                 stacker: SliceStacker,
                 rows: Sequence[int],
                 batch_size: int = 4,
                 score_thr: float = 0.0,
                 progress: bool = False) -> Tuple[dict, dict]:
    """Run the detector on ``rows`` (in increasing order) in batches.

    Args:
        model: The detector (eval mode).
        stacker: Builds every row's input.
        rows: Array rows to run.
        batch_size: Slices per forward pass.
        score_thr: Drop detections scoring below.
        progress: Show a progress bar over the slices (stderr).

    Returns:
        tuple: ``dict(rows (N,), boxes (N, 4), scores (N,), labels (N,))``
        numpy arrays (boxes in pixels of the volume's slices) and the
        timings ``dict(prepare_s, model_s, num_slices)``.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    rows = sorted(int(r) for r in rows)
    out = dict(rows=[], boxes=[], scores=[], labels=[])
    bar = ProgressBar(len(rows), file=sys.stderr) if progress else None
    model_s, start = 0.0, time.perf_counter()
    for at in range(0, len(rows), batch_size):
        chunk = rows[at:at + batch_size]
        batch = pseudo_collate([stacker(r) for r in chunk])
        tic = time.perf_counter()
        with torch.no_grad():
            results = model.test_step(batch)
        model_s += time.perf_counter() - tic
        for row, res in zip(chunk, results):
            pred = res.pred_instances
            keep = pred.scores >= score_thr
            n = int(keep.sum())
            out['rows'].append(np.full(n, row, np.int64))
            out['boxes'].append(pred.bboxes[keep].cpu().numpy())
            out['scores'].append(pred.scores[keep].cpu().numpy())
            out['labels'].append(pred.labels[keep].cpu().numpy())
            if bar is not None:
                bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    total = time.perf_counter() - start
    arrays = dict(
        rows=np.concatenate(out['rows']) if rows else np.zeros(0, np.int64),
        boxes=np.concatenate(out['boxes']).reshape(-1, 4).astype(np.float32)
        if rows else np.zeros((0, 4), np.float32),
        scores=np.concatenate(out['scores']).astype(np.float32)
        if rows else np.zeros(0, np.float32),
        labels=np.concatenate(out['labels']).astype(np.int64)
        if rows else np.zeros(0, np.int64))
    return arrays, dict(
        prepare_s=total - model_s, model_s=model_s, num_slices=len(rows))
