"""The slice stack of a 2.5D lesion detector, shared by training and whole-CT
inference.

A sample is S slices centred on a key slice and spaced ``slice_interval`` mm
apart (ordered from -z to +z). A position that does not fall on a real slice
is linearly interpolated (in HU) between the two nearest slices; positions
beyond the available run of slices repeat its end slice. Every HU window
``(lo, hi)`` maps linearly to 0..255 and is clipped; channels are
window-major: ``[w0 s0 .. w0 s(S-1), w1 s0, ...]``.

:class:`~cspr_det.datasets.transforms.LoadDeepLesionSlices` (training and
evaluation on PNG series) and :func:`cspr_det.apis.inference_ct` (any CT
volume) both build their stacks with these functions, so the two cannot
drift apart. All arithmetic is float32 and element-wise, so windowing one
slice at a time gives exactly the values of windowing the whole stack.
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

#: ``read(index, shape)`` returns the (H, W) float32 HU slice ``index``;
#: ``shape`` is the expected (H, W) (None for the first, key slice).
SliceReader = Callable[[int, Optional[tuple]], np.ndarray]

Windows = Tuple[Tuple[float, float], ...]


def check_stack_args(num_slices: int, slice_interval: Optional[float],
                     windows: Sequence[Sequence[float]]) -> Windows:
    """Validate the stack settings; return the windows as float tuples.

    Args:
        num_slices: Number of stacked slices S (a positive odd int).
        slice_interval: Target spacing in mm, or None (native neighbours).
        windows: HU windows ``(lo, hi)`` with ``lo < hi``.

    Returns:
        tuple: ``((lo, hi), ...)`` as floats.

    Raises:
        ValueError: One line naming the bad setting.
    """
    if not isinstance(num_slices, int) or num_slices < 1 or \
            num_slices % 2 == 0:
        raise ValueError(
            f'num_slices must be a positive odd int, got {num_slices!r}')
    if slice_interval is not None and not slice_interval > 0:
        raise ValueError(
            f'slice_interval must be > 0 mm or None, got {slice_interval}')
    windows = tuple(tuple(float(v) for v in w) for w in windows)
    if not windows or any(len(w) != 2 or not w[0] < w[1] for w in windows):
        raise ValueError(
            f'windows must be a non-empty list of (lo, hi) HU pairs with '
            f'lo < hi, got {windows!r}')
    return windows


def stack_positions(key: float, num_slices: int,
                    slice_interval: Optional[float],
                    native_interval: Optional[float]) -> List[float]:
    """Slice-index positions (floats) of the S stacked slices.

    Args:
        key: Index of the key slice.
        num_slices: S (odd).
        slice_interval: Target spacing (mm); None stacks the native
            neighbours (key +- 1, +- 2, ...).
        native_interval: Spacing of the series (mm); None or 0 also stacks
            the native neighbours.

    Returns:
        list[float]: S positions, rounded to 1e-6 so that e.g. 2.5 mm on a
        2.5 mm series lands exactly on slices.
    """
    half = num_slices // 2
    if slice_interval is None or not native_interval:
        step = 1.0
    else:
        step = slice_interval / float(native_interval)
    return [round(key + k * step, 6) for k in range(-half, half + 1)]


def interpolation_plan(position: float, first: int,
                       last: int) -> List[Tuple[int, float]]:
    """(slice index, weight) pairs giving the slice at ``position``.

    Linear interpolation between the two nearest slices; positions outside
    ``[first, last]`` repeat the end slice.
    """
    pos = min(max(position, first), last)
    lo = int(math.floor(pos))
    w = pos - lo
    if w < 1e-6 or lo >= last:
        return [(lo, 1.0)]
    return [(lo, 1.0 - w), (lo + 1, w)]


def interpolate_slice(read: Callable[[int], np.ndarray], position: float,
                      first: int, last: int) -> np.ndarray:
    """The HU slice at ``position`` of the run ``[first, last]``.

    Args:
        read: ``read(index)`` returns the (H, W) float32 HU slice ``index``.
        position: Fractional slice index.
        first, last: The run of slices available (inclusive).

    Returns:
        np.ndarray: (H, W) float32 HU.
    """
    acc = None
    for index, weight in interpolation_plan(position, first, last):
        img = read(index)
        acc = img * weight if acc is None else acc + img * weight
    return acc


def window_stack(stack: np.ndarray, windows: Windows) -> np.ndarray:
    """Map an (H, W, S) HU stack through K windows to 0..255.

    Args:
        stack: (H, W, S) float32 HU.
        windows: K ``(lo, hi)`` pairs.

    Returns:
        np.ndarray: (H, W, S*K) float32, window-major channels.
    """
    channels = []
    for lo, hi in windows:
        channels.append(np.clip((stack - lo) * (255.0 / (hi - lo)), 0, 255))
    return np.concatenate(channels, axis=2).astype(np.float32)


def build_slice_stack(read: SliceReader, key: int, first: int, last: int,
                      num_slices: int, slice_interval: Optional[float],
                      native_interval: Optional[float],
                      windows: Windows) -> Tuple[np.ndarray, List[float]]:
    """The windowed S-slice stack around ``key``.

    The key slice is read first (its shape is the expected shape of every
    other slice), then the slices each position needs, in order.

    Args:
        read: See :data:`SliceReader`.
        key: Key slice index.
        first, last: The run of slices available around ``key``.
        num_slices: S.
        slice_interval: Target spacing (mm) or None.
        native_interval: Spacing of the series (mm) or None.
        windows: K HU windows (see :func:`check_stack_args`).

    Returns:
        tuple: (H, W, S*K) float32 image in 0..255 and the S positions.
    """
    key_img = read(key, None)
    shape = key_img.shape
    positions = stack_positions(key, num_slices, slice_interval,
                                native_interval)
    stack = np.empty((shape[0], shape[1], num_slices), np.float32)
    for s, pos in enumerate(positions):
        stack[..., s] = interpolate_slice(lambda i: read(i, shape), pos, first,
                                          last)
    return window_stack(stack, windows), positions
