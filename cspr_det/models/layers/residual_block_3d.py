"""Shared parts of the residual blocks of the 3D and pseudo-3D backbones."""
from typing import Optional, Tuple

import torch
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule


def default_conv_norm_cfg(conv_cfg: Optional[dict],
                          norm_cfg: Optional[dict]) -> Tuple[dict, dict]:
    """``(conv_cfg, norm_cfg)`` with the 3D defaults (``Conv3d``, ``BN3d``)
    filled in for ``None``."""
    conv_cfg = dict(type='Conv3d') if conv_cfg is None else conv_cfg
    norm_cfg = dict(type='BN3d', requires_grad=True) \
        if norm_cfg is None else norm_cfg
    return conv_cfg, norm_cfg


class ResidualBlock3D(BaseModule):
    """Base of the residual blocks: subclasses build ``self.relu`` and
    implement ``_inner_forward`` (the residual sum before the last ReLU);
    this class adds gradient checkpointing (``self.with_cp``) and the final
    activation. It adds no parameters, so parameter names are the
    subclasses' own.

    Shapes:
        ``(N, C_in, D, H, W)`` -> ``(N, C_out, D', H', W')``.
    """

    with_cp: bool = False

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``(N, C, D, H, W)``."""
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        else:
            out = self._inner_forward(x)
        return self.relu(out)
