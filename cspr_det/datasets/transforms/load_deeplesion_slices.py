"""Load a DeepLesion key slice with its neighbours as an (H, W, S*K) stack."""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from cspr_det.fileio.deeplesion_png import SliceReadError, decode_ct_png
from cspr_det.registry import TRANSFORMS
from ..deeplesion_csv import slice_file_name
from ..slice_stack import (build_slice_stack, check_stack_args,
                           interpolation_plan, stack_positions)


@TRANSFORMS.register_module()
class LoadDeepLesionSlices(BaseTransform):
    """Load the key slice and its z-neighbours of a DeepLesion sample.

    The S slices are centred on the key slice and spaced ``slice_interval``
    mm apart (ordered from -z to +z). A neighbour that does not fall on a
    real slice is linearly interpolated (in HU) between the two nearest real
    slices of the series; positions beyond the available slices (the
    ``slice_range`` of the sample, i.e. the contiguous run of slices shipped
    around the key slice) repeat the nearest existing slice. Each HU window
    ``(lo, hi)`` is mapped linearly to 0..255 and clipped; channels are
    window-major: ``[w0 s0 .. w0 s(S-1), w1 s0, ...]``.

    Broken or missing PNGs are replaced by the nearest readable slice of the
    run with a warning naming the file (``strict=True`` raises instead), so a
    damaged file never stops a training run. Every PNG is decoded at most
    once per call.

    Required keys: ``img_path`` (key slice PNG), ``key_slice``; optional:
    ``series_dir`` (default: folder of ``img_path``), ``slice_interval``
    (mm, native spacing between slices), ``slice_range`` ([first, last]).

    Added keys: ``img`` (H, W, S*K) float32, ``img_shape``, ``ori_shape``,
    ``num_slices`` (S), ``num_windows`` (K), ``num_decoded_slices`` (PNGs
    decoded for this sample), ``slice_positions`` (S floats, slice index of
    every stacked slice before fallback).

    Args:
        num_slices (int): Number of stacked slices S (odd). Defaults to 9.
        slice_interval (float, optional): Target spacing in mm between
            stacked slices. None stacks the native neighbours (key +- 1,
            +- 2, ...). Defaults to 2.5.
        windows (Sequence[Sequence[float]]): HU windows ``(lo, hi)``, each
            giving S channels. Defaults to ``((-1024, 1050),)``.
        strict (bool): Raise on a missing/broken slice instead of falling
            back. Defaults to False.
        skip_unreadable (bool): When no slice of the run can be read (e.g.
            the series folder is missing), warn and return None instead of
            raising, so mmengine's dataset draws another sample (training
            only; test-mode datasets reject None). Ignored if ``strict``.
            Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 num_slices: int = 9,
                 slice_interval: Optional[float] = 2.5,
                 windows: Sequence[Sequence[float]] = ((-1024, 1050), ),
                 strict: bool = False,
                 skip_unreadable: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        windows = check_stack_args(num_slices, slice_interval, windows)
        self.num_slices = num_slices
        self.slice_interval = slice_interval
        self.windows = windows
        self.strict = strict
        self.skip_unreadable = skip_unreadable
        self.backend_args = backend_args

    # ------------------------------------------------------------------ #
    def slice_positions(self, key: int,
                        native_interval: Optional[float]) -> List[float]:
        """Slice-index positions (floats) of the S stacked slices (see
        :func:`~cspr_det.datasets.slice_stack.stack_positions`)."""
        return stack_positions(key, self.num_slices, self.slice_interval,
                               native_interval)

    @staticmethod
    def interpolation_plan(position: float, first: int,
                           last: int) -> List[Tuple[int, float]]:
        """(slice index, weight) pairs giving the slice at ``position`` (see
        :func:`~cspr_det.datasets.slice_stack.interpolation_plan`)."""
        return interpolation_plan(position, first, last)

    def _read(self, index: int, series_dir: str, cache: Dict[int, object],
              counter: List[int]) -> Optional[np.ndarray]:
        """Decode one slice (cached); None (or raise if strict) if
        unreadable."""
        if index in cache:
            value = cache[index]
            return value if isinstance(value, np.ndarray) else None
        path = osp.join(series_dir, slice_file_name(index))
        try:
            content = fileio.get(path, backend_args=self.backend_args)
            counter[0] += 1
            value = decode_ct_png(content, path)
        except (OSError, ValueError) as e:  # FileNotFoundError included
            msg = e if isinstance(e, SliceReadError) else \
                f'cannot read CT slice {path}: {e}'
            if self.strict:
                raise SliceReadError(str(msg)) from e
            cache[index] = str(msg)
            return None
        cache[index] = value
        return value

    def _read_with_fallback(self, index: int, key: int, first: int, last: int,
                            series_dir: str, cache: dict, counter: List[int],
                            shape: Optional[tuple]) -> np.ndarray:
        img = self._read(index, series_dir, cache, counter)
        if img is not None and (shape is None or img.shape == shape):
            return img
        if img is not None:  # decodable but wrong size
            msg = (f'CT slice {osp.join(series_dir, slice_file_name(index))} '
                   f'has shape {img.shape}, expected {shape}')
            if self.strict:
                raise SliceReadError(msg)
            cache[index] = msg
        reason = cache[index]
        # nearest readable slice of the run; ties go towards the key slice
        candidates = sorted((i for i in range(first, last + 1) if i != index),
                            key=lambda i: (abs(i - index), abs(i - key)))
        for cand in candidates:
            alt = self._read(cand, series_dir, cache, counter)
            if alt is not None and (shape is None or alt.shape == shape):
                warnings.warn(f'{reason}; using slice {cand} instead')
                return alt
        raise SliceReadError(
            f'{reason}; no readable slice in {series_dir} between {first} '
            f'and {last} to fall back to')

    def transform(self, results: dict) -> Optional[dict]:
        """Load the slice stack.

        Args:
            results (dict): Sample dict (see class docstring).

        Returns:
            dict | None: ``results`` with ``img`` (H, W, S*K) float32 in
            0..255; None if nothing is readable and ``skip_unreadable``.
        """
        try:
            return self._load(results)
        except SliceReadError as e:
            if self.strict or not self.skip_unreadable:
                raise
            warnings.warn(f'{e}; skipping the sample')
            return None

    def _load(self, results: dict) -> dict:
        img_path = results['img_path']
        series_dir = results.get('series_dir') or osp.dirname(img_path)
        key = results.get('key_slice')
        if key is None:
            key = int(osp.splitext(osp.basename(img_path))[0])
        key = int(key)
        first, last = results.get('slice_range') or (key, key)
        first, last = int(min(first, key)), int(max(last, key))
        native = results.get('slice_interval')
        if self.slice_interval is not None and not native:
            warnings.warn(f'{img_path}: no slice_interval in the sample; '
                          'stacking native neighbours')

        cache: Dict[int, object] = {}
        counter = [0]

        def read(index: int, shape: Optional[tuple]) -> np.ndarray:
            return self._read_with_fallback(index, key, first, last,
                                            series_dir, cache, counter, shape)

        img, positions = build_slice_stack(read, key, first, last,
                                           self.num_slices,
                                           self.slice_interval, native,
                                           self.windows)

        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        results['num_slices'] = self.num_slices
        results['num_windows'] = len(self.windows)
        results['num_decoded_slices'] = counter[0]
        results['slice_positions'] = positions
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_slices={self.num_slices}, '
                f'slice_interval={self.slice_interval}, '
                f'windows={self.windows}, strict={self.strict}, '
                f'skip_unreadable={self.skip_unreadable}, '
                f'backend_args={self.backend_args})')
