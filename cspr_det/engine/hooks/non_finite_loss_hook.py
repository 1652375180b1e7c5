"""Stop training with a clear message as soon as the loss is NaN or Inf."""
import math
from typing import Any, Optional

import torch
from mmengine.hooks import Hook

from cspr_det.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """Raised when a training iteration produced a NaN or Inf loss."""


def _scalar(value) -> float:
    """A loss term (a one-element tensor or a number) as a Python float."""
    if isinstance(value, torch.Tensor):
        return float(value.detach())
    return float(value)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when the total loss is not finite.

    The message names the iteration (1-based, as in the log), the epoch and
    the individual loss terms, so a diverging run stops where it went wrong
    instead of writing NaN checkpoints for hours. With AMP's dynamic loss
    scaling the *loss* stays finite when only gradients overflow, so this
    hook does not stop runs that AMP recovers from.

    Args:
        interval: Check every ``interval`` iterations. Defaults to 1.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        if outputs is None or 'loss' not in outputs:
            return
        if not self.every_n_train_iters(runner, self.interval):
            return
        loss = outputs['loss']
        value = _scalar(loss)
        if math.isfinite(value):
            return
        terms = ', '.join(
            f'{k}={_scalar(v):.4g}' for k, v in outputs.items()
            if k != 'loss' and isinstance(v, (torch.Tensor, float, int)))
        raise NonFiniteLossError(
            f'non-finite loss ({value}) at iteration {runner.iter + 1} '
            f'(epoch {runner.epoch + 1}); loss terms: {terms or "n/a"}. '
            'Lower the learning rate, enable gradient clipping or check the '
            'input data of this iteration.')
