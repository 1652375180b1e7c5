"""Largest-connected-component post-processing of label volumes."""
from typing import Optional, Sequence

import numpy as np
import SimpleITK as sitk
import torch

LCC_MODES = ('foreground', 'per_class')


def _largest(mask: np.ndarray, fully_connected: bool) -> np.ndarray:
    """Boolean mask of the largest connected component of ``mask``."""
    if not mask.any():
        return mask
    cc = sitk.ConnectedComponent(
        sitk.GetImageFromArray(mask.astype(np.uint8)), fully_connected)
    cc = sitk.RelabelComponent(cc, sortByObjectSize=True)
    return sitk.GetArrayViewFromImage(cc) == 1


def keep_largest_component(labels: torch.Tensor,
                           mode: str = 'foreground',
                           classes: Optional[Sequence[int]] = None,
                           fully_connected: bool = False) -> torch.Tensor:
    """Remove everything but the largest connected component.

    - ``'foreground'``: the union of the foreground classes (``classes``,
      default every label > 0) keeps its largest component; voxels of those
      classes outside it become background (0). Inside it the labels are
      kept, e.g. a tumour inside the liver (LiTS).
    - ``'per_class'``: each class in ``classes`` (default every label > 0
      present) keeps its own largest component (multi-organ).

    Connectivity: 6-neighbourhood, or 26 with ``fully_connected=True``
    (SimpleITK ``ConnectedComponent``).

    Args:
        labels: ``(D, H, W)`` integer labels.
        mode: ``'foreground'`` or ``'per_class'``.
        classes: Classes the rule applies to; others stay untouched.
        fully_connected: 26- instead of 6-connectivity.

    Returns:
        torch.Tensor: ``(D, H, W)`` labels, same dtype and device.
    """
    if mode not in LCC_MODES:
        raise ValueError(f'largest component: mode must be one of '
                         f'{LCC_MODES}, got {mode!r}')
    if labels.dim() != 3:
        raise ValueError('largest component: labels must be (D, H, W), got '
                         f'{tuple(labels.shape)}')
    arr = labels.detach().cpu().numpy()
    if classes is None:
        classes = [int(c) for c in np.unique(arr) if c > 0]
    classes = [int(c) for c in classes]
    out = arr.copy()
    if mode == 'foreground':
        fg = np.isin(arr, classes)
        out[fg & ~_largest(fg, fully_connected)] = 0
    else:
        for c in classes:
            m = arr == c
            out[m & ~_largest(m, fully_connected)] = 0
    return torch.from_numpy(out).to(labels.device)
