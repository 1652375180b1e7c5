"""Collapse the depth axis of a 5D feature map to a 2D map."""
from typing import Optional

import torch
from mmcv.cnn import build_conv_layer
from mmengine.model import BaseModule

COLLAPSE_MODES = ('gtm', 'center', 'conv', 'mean', 'none')
COLLAPSE_INITS = ('mean', 'center')


class DepthCollapse(BaseModule):
    """Turn ``(N, C, D, H, W)`` into ``(N, C, H, W)``.

    Modes:

    - ``'gtm'``: Group Transform Module of MP3D. The map is reshaped to
      ``(N, C*D, H, W)`` (channel-major, so channel ``c`` owns inputs
      ``c*D .. c*D+D-1``) and a grouped 1x1 conv with ``groups=C`` gives a
      learned per-channel weighted sum over the ``D`` slices. Weight
      ``(C, D, 1, 1)``, no bias. Mathematically a depthwise ``(D, 1, 1)``
      Conv3d.
    - ``'conv'``: dense ``(D, 1, 1)`` Conv3d ``C -> C`` (weight
      ``(C, C, D, 1, 1)``, no bias).
    - ``'center'``: slice ``D // 2``.
    - ``'mean'``: average over depth.
    - ``'none'``: return the 5D map unchanged.

    ``'gtm'`` and ``'conv'`` have weights for a fixed ``num_slices``; any other
    depth raises ``ValueError``. Their weights start as the depth mean
    (``init='mean'``, every weight ``1/D``; ``'conv'``: ``1/D`` on its
    channel diagonal, 0 elsewhere) or as the centre slice
    (``init='center'``), so a freshly built collapse equals ``'mean'`` or
    ``'center'`` until it is trained. The weights are re-set by
    :meth:`init_weights` (after a parent's Kaiming init, before any
    ``Pretrained`` checkpoint is loaded).

    Args:
        channels: ``C``.
        num_slices: ``D``; required for ``'gtm'`` and ``'conv'``.
        mode: One of ``COLLAPSE_MODES``.
        init: ``'mean'`` or ``'center'``.
    """

    def __init__(self,
                 channels: int,
                 num_slices: Optional[int] = None,
                 mode: str = 'gtm',
                 init: str = 'mean',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in COLLAPSE_MODES:
            raise ValueError(
                f'collapse mode must be one of {COLLAPSE_MODES}, got {mode!r}')
        if init not in COLLAPSE_INITS:
            raise ValueError(
                f'collapse init must be one of {COLLAPSE_INITS}, got {init!r}')
        if mode in ('gtm', 'conv'):
            if num_slices is None or int(num_slices) < 1:
                raise ValueError(
                    f'collapse mode {mode!r} needs num_slices >= 1 (its '
                    f'weights are per slice), got num_slices={num_slices}')
        self.channels = channels
        self.num_slices = num_slices
        self.mode = mode
        self.init = init
        if mode == 'gtm':
            self.conv = build_conv_layer(
                dict(type='Conv2d'),
                channels * num_slices,
                channels,
                kernel_size=1,
                groups=channels,
                bias=False)
        elif mode == 'conv':
            self.conv = build_conv_layer(
                dict(type='Conv3d'),
                channels,
                channels,
                kernel_size=(num_slices, 1, 1),
                bias=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Set the learned weights to the mean or the centre slice."""
        if self.mode not in ('gtm', 'conv'):
            return
        d = self.num_slices
        taps = torch.zeros(d)
        if self.init == 'mean':
            taps.fill_(1.0 / d)
        else:
            taps[d // 2] = 1.0
        w = self.conv.weight
        if self.mode == 'gtm':  # (C, D, 1, 1)
            w.copy_(taps.view(1, d, 1, 1).expand_as(w))
        else:  # (C, C, D, 1, 1)
            w.zero_()
            idx = torch.arange(self.channels)
            w[idx, idx, :, 0, 0] = taps

    def init_weights(self) -> None:
        super().init_weights()
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Collapse ``(N, C, D, H, W)`` to ``(N, C, H, W)`` (or keep it 5D
        for ``'none'``)."""
        if x.dim() != 5:
            raise ValueError(
                f'DepthCollapse expects (N, C, D, H, W), got {tuple(x.shape)}')
        if self.mode == 'none':
            return x
        n, c, d, h, w = x.shape
        if self.mode == 'center':
            return x[:, :, d // 2]
        if self.mode == 'mean':
            return x.mean(dim=2)
        if d != self.num_slices:
            raise ValueError(
                f'DepthCollapse(mode={self.mode!r}) was built for '
                f'num_slices={self.num_slices} but got a feature map with '
                f'depth {d} (shape {tuple(x.shape)}); build the model with '
                f'num_slices={d} or feed {self.num_slices} slices')
        if self.mode == 'gtm':
            return self.conv(x.reshape(n, c * d, h, w))
        return self.conv(x).squeeze(2)

    def extra_repr(self) -> str:
        return f'mode={self.mode}, channels={self.channels}, ' \
               f'num_slices={self.num_slices}, init={self.init}'
