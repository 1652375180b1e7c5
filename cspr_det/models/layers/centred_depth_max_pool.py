"""Depth max-pooling whose grid is anchored on the centre slice."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def centred_depth_out_size(depth: int) -> int:
    """Depth after :class:`CentredDepthMaxPool`: with ``c = D // 2`` the kept
    windows are centred on slices ``c % 2, c % 2 + 2, ...`` so the output has
    ``len(range(c % 2, D, 2))`` slices and its centre is the old centre.
    Examples: 9 -> 5 -> 3 -> 1, 27 -> 13 -> 7 -> 3, 3 -> 1, 1 -> 1."""
    return len(range((depth // 2) % 2, depth, 2))


class CentredDepthMaxPool(nn.Module):
    """Max-pooling over depth, kernel 3, stride 2, grid anchored on slice
    ``D // 2``.

    A plain ``MaxPool3d((3,1,1), (2,1,1), (1,0,0))`` maps 3 slices to 2 and
    loses the centre. Here windows are centred on every second slice counted
    from the centre, so the centre slice stays the centre of the output
    (rule: see :func:`centred_depth_out_size`). Windows at the edges are
    clipped (``-inf`` padding). Implemented as one stride-1 max-pool followed
    by a strided slice: no per-slice loop.

    Shapes:
        ``(N, C, D, H, W)`` -> ``(N, C, centred_depth_out_size(D), H, W)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.size(2)
        if d == 1:
            return x
        pooled = F.max_pool3d(
            x, kernel_size=(3, 1, 1), stride=1, padding=(1, 0, 0))
        return pooled[:, :, (d // 2) % 2::2]
