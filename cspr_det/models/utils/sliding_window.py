"""Sliding-window inference over 3D volumes with bounded accumulation."""
import math
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import torch

Device = Optional[Union[str, torch.device]]
WEIGHTINGS = ('uniform', 'gaussian')
OUTPUTS = ('logits', 'labels')


def window_starts(size: int, window: int, stride: int) -> List[int]:
    """Start offsets of the windows along one axis.

    Windows are placed every ``stride`` voxels from 0; the last one is
    clamped to end at the border (``start = size - window``), so every
    window lies inside the volume and every voxel is covered. A window
    longer than the axis is shrunk to it by the caller.

    Args:
        size: Axis length ``L``.
        window: Window length ``w <= L``.
        stride: Step ``1 <= s <= w``.

    Returns:
        list[int]: ``ceil((L - w) / s) + 1`` increasing starts, the last
        one ``L - w``.

    Examples:
        >>> window_starts(100, 32, 12)
        [0, 12, 24, 36, 48, 60, 68]
    """
    if window > size:
        raise ValueError(f'window {window} is longer than the axis {size}')
    num = int(math.ceil((size - window) / stride)) + 1
    return [min(i * stride, size - window) for i in range(num)]


def gaussian_weights(window: Sequence[int],
                     sigma_scale: float = 0.125) -> List[torch.Tensor]:
    """Separable Gaussian importance of a window.

    Axis ``a`` gets ``exp(-(i - (w_a - 1) / 2)**2 / (2 sigma_a**2))`` with
    ``sigma_a = sigma_scale * w_a`` (1 at the centre); the 3D importance is
    their outer product.

    Args:
        window: ``(w_d, w_h, w_w)``.
        sigma_scale: Standard deviation as a fraction of the window.

    Returns:
        list of three 1D float64 tensors.
    """
    if sigma_scale <= 0:
        raise ValueError(f'sigma_scale must be > 0, got {sigma_scale}')
    out = []
    for w in window:
        pos = torch.arange(w, dtype=torch.float64) - (w - 1) / 2.0
        sigma = sigma_scale * w
        out.append(torch.exp(-pos**2 / (2.0 * sigma**2)))
    return out


def _triple_ints(name: str, value: Sequence[int]) -> Tuple[int, int, int]:
    if isinstance(value, int):
        value = (value, ) * 3
    value = tuple(value)
    if len(value) != 3 or any(not isinstance(v, int) or v < 1 for v in value):
        raise ValueError(f'sliding window: {name} needs 3 positive ints, '
                         f'got {value!r}')
    return value


def _axis_sums(size: int, window: int, starts: Sequence[int],
               weight: Optional[torch.Tensor]) -> torch.Tensor:
    """Sum over windows of the 1D weight covering each position (float64)."""
    total = torch.zeros(size, dtype=torch.float64)
    w = torch.ones(window, dtype=torch.float64) if weight is None else weight
    for s in starts:
        total[s:s + window] += w
    return total


def _batches(zs: Sequence[int], ys: Sequence[int], xs: Sequence[int],
             batch_size: int) -> Iterator[List[Tuple[int, int, int]]]:
    """Windows in z-major order, ``batch_size`` at a time."""
    batch = []
    for z in zs:
        for y in ys:
            for x in xs:
                batch.append((z, y, x))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def sliding_window_inference(
        inputs: torch.Tensor,
        predictor: Callable[[torch.Tensor], torch.Tensor],
        window: Sequence[int],
        stride: Sequence[int],
        sw_batch_size: int = 1,
        weighting: str = 'uniform',
        sigma_scale: float = 0.125,
        output: str = 'logits',
        sw_device: Device = None,
        accum_device: Device = None,
        accum_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Predict a volume window by window and average overlapping logits.

    Windows of size ``window`` (each axis shrunk to the volume when longer)
    are placed every ``stride`` voxels and clamped at the borders
    (:func:`window_starts`); ``sw_batch_size`` windows at a time go through
    ``predictor``. Overlapping logits are averaged uniformly or weighted by a
    Gaussian importance centred on each window (:func:`gaussian_weights`).
    Because windows form a Cartesian grid and the weights are separable,
    the total weight at a voxel is the product of three 1D sums: no
    full-volume count map is stored.

    Memory: with ``output='logits'`` the accumulator is the ``(C, D, H, W)``
    result itself (on ``accum_device``). With ``output='labels'`` the
    windows are visited in z order and only a slab of depth ``w_d`` plus the
    z-span of one window batch is held: once no later window reaches a
    slice, its logits are normalised, reduced to the arg-max label and
    freed; the labels are stored as uint8 (int64 beyond 256 classes), so a
    512 x 512 x 200 label volume takes 50 MiB. The labels are identical to
    the arg-max of the ``'logits'`` result.

    Args:
        inputs: ``(N, C_in, D, H, W)`` volume(s); samples are processed one
            after another.
        predictor: Maps ``(B, C_in, w_d, w_h, w_w)`` windows to
            ``(B, C, w_d, w_h, w_w)`` logits.
        window: ``(w_d, w_h, w_w)``.
        stride: ``(s_d, s_h, s_w)``, each ``<=`` the window (no voxel may be
            left out).
        sw_batch_size: Windows per ``predictor`` call.
        weighting: ``'uniform'`` or ``'gaussian'``.
        sigma_scale: Gaussian sigma as a fraction of the window.
        output: ``'logits'`` or ``'labels'``.
        sw_device: Device the windows are sent to (default: the input's).
        accum_device: Device of the accumulator and the result (default: the
            input's), e.g. ``'cpu'`` for large volumes predicted on a GPU.
        accum_dtype: Accumulator dtype (float32).

    Returns:
        torch.Tensor: ``(N, C, D, H, W)`` averaged logits (``accum_dtype``)
        or ``(N, D, H, W)`` labels (uint8 for up to 256 classes, else
        int64), on ``accum_device``.
    """
    if inputs.dim() != 5:
        raise ValueError('sliding window: inputs must be (N, C, D, H, W), '
                         f'got {tuple(inputs.shape)}')
    if weighting not in WEIGHTINGS:
        raise ValueError(f'sliding window: weighting must be one of '
                         f'{WEIGHTINGS}, got {weighting!r}')
    if output not in OUTPUTS:
        raise ValueError(f'sliding window: output must be one of {OUTPUTS}, '
                         f'got {output!r}')
    if not isinstance(sw_batch_size, int) or sw_batch_size < 1:
        raise ValueError('sliding window: sw_batch_size must be a positive '
                         f'int, got {sw_batch_size!r}')
    window = _triple_ints('window', window)
    stride = _triple_ints('stride', stride)
    for axis, (w, s) in enumerate(zip(window, stride)):
        if s > w:
            raise ValueError(
                f'sliding window: stride {stride} exceeds the window '
                f'{window} on axis {axis}; voxels would get no prediction')
    size = tuple(inputs.shape[2:])
    window = tuple(min(w, n) for w, n in zip(window, size))
    stride = tuple(min(s, w) for s, w in zip(stride, window))
    sw_device = inputs.device if sw_device is None else torch.device(sw_device)
    accum_device = inputs.device if accum_device is None else torch.device(
        accum_device)
    starts = [window_starts(n, w, s) for n, w, s in zip(size, window, stride)]
    axis_w = gaussian_weights(window, sigma_scale) \
        if weighting == 'gaussian' else [None, None, None]
    importance = None
    if weighting == 'gaussian':
        importance = (axis_w[0][:, None, None] * axis_w[1][None, :, None] *
                      axis_w[2][None, None, :]).to(accum_device, accum_dtype)
    # 1 / (total weight) per axis, broadcast over the volume when used
    inv = [(1.0 / _axis_sums(n, w, st, aw)).to(accum_device, accum_dtype)
           for n, w, st, aw in zip(size, window, starts, axis_w)]
    results = []
    for n in range(inputs.size(0)):
        results.append(
            _infer_one(inputs[n:n + 1], predictor, window, starts,
                       sw_batch_size, importance, inv, output, sw_device,
                       accum_device, accum_dtype))
    return torch.stack(results)


def _infer_one(volume: torch.Tensor, predictor: Callable, window: tuple,
               starts: list, sw_batch_size: int,
               importance: Optional[torch.Tensor], inv: list, output: str,
               sw_device: torch.device, accum_device: torch.device,
               accum_dtype: torch.dtype) -> torch.Tensor:
    """Sliding-window prediction of one ``(1, C_in, D, H, W)`` volume."""
    depth, height, width = volume.shape[2:]
    wd, wh, ww = window
    batches = list(_batches(*starts, sw_batch_size))
    # Depth of the accumulator: the whole volume for logits; for labels the
    # window depth plus the largest z-span of one batch.
    slab = depth if output == 'logits' else min(
        depth, wd + max(b[-1][0] - b[0][0] for b in batches))
    acc = None
    labels = None
    base = 0  # first slice held by acc

    def finalize(lo: int, hi: int) -> None:
        """Normalise acc rows for slices ``lo .. hi-1`` (absolute) and, for
        labels, store their arg-max."""
        part = acc[:, lo - base:hi - base]
        part.mul_(inv[0][lo:hi].view(1, -1, 1, 1))
        part.mul_(inv[1].view(1, 1, -1, 1))
        part.mul_(inv[2].view(1, 1, 1, -1))
        if labels is not None:
            labels[lo:hi] = part.argmax(0)

    for batch in batches:
        crops = torch.cat([
            volume[:, :, z:z + wd, y:y + wh, x:x + ww] for z, y, x in batch
        ]).to(sw_device)
        logits = predictor(crops)
        if (logits.dim() != 5 or logits.size(0) != len(batch)
                or tuple(logits.shape[2:]) != window):
            raise ValueError(
                f'sliding window: predictor returned {tuple(logits.shape)} '
                f'for windows {tuple(crops.shape)}; expected (B, C) + '
                f'{window}')
        logits = logits.to(accum_device, accum_dtype)
        if importance is not None:
            logits = logits * importance
        if acc is None:
            num_classes = logits.size(1)
            acc = torch.zeros((num_classes, slab, height, width),
                              dtype=accum_dtype,
                              device=accum_device)
            if output == 'labels':
                labels = torch.empty(
                    (depth, height, width),
                    dtype=torch.uint8 if num_classes <= 256 else torch.long,
                    device=accum_device)
        if output == 'labels' and batch[0][0] > base:
            # Slices below this batch's first window are final: emit them
            # and move the slab up.
            new_base = batch[0][0]
            finalize(base, new_base)
            shift = new_base - base
            acc[:, :slab - shift] = acc[:, shift:].clone()
            acc[:, slab - shift:] = 0
            base = new_base
        for (z, y, x), win in zip(batch, logits):
            acc[:, z - base:z - base + wd, y:y + wh, x:x + ww] += win
    finalize(base, depth)
    return labels if labels is not None else acc
