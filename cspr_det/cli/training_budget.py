"""Training budgets of a data-efficiency study: equal epochs or equal
iterations for training sets of different sizes.

A run on a fraction of the training set either keeps the config's number of
epochs (``'epochs'``: the subset also gets a fraction of the iterations, so
data and compute shrink together) or trains for proportionally more epochs
(``'iters'``: about the same number of iterations as the full-data run, so
only the amount of annotated data changes).

When the number of epochs changes, every other quantity counted in epochs
is scaled by the same ratio ``new_epochs / old_epochs`` (rounded to whole
epochs): the ``by_epoch`` parameter schedulers' ``begin`` / ``end`` /
``milestones`` / ``step_size`` / ``T_max`` / ``periods``, the validation
``val_begin`` / ``val_interval`` / ``dynamic_intervals`` and the epoch-based
checkpoint ``interval`` / ``save_begin``. So learning-rate drops fall at the
same fraction of training (the same iteration count under the ``'iters'``
budget), and every run validates, and so offers best-checkpoint candidates,
the same number of times at the same points of its schedule; validating a
240-epoch 10 % run every epoch would give it ten times more chances to
pick a lucky checkpoint than the 24-epoch full run. Quantities counted in
iterations (``by_epoch=False`` warm-up, logging interval) are left alone:
they are the same in both budgets.
"""
import math
from typing import Any, Dict, List, Sequence

BUDGETS = ('epochs', 'iters')

# parameter-scheduler arguments counted in epochs when ``by_epoch=True``
_EPOCH_VALUED = ('begin', 'end', 'milestones', 'step_size', 'T_max', 'periods')


def budget_epochs(max_epochs: int, full_size: int, subset_size: int,
                  budget: str) -> int:
    """Number of epochs of a run on ``subset_size`` training samples.

    Args:
        max_epochs: Epochs of the config (the full-data schedule).
        full_size: Training samples of the full-data run (``len`` of the
            config's training dataset).
        subset_size: Training samples of this run.
        budget: ``'epochs'`` (keep ``max_epochs``) or ``'iters'``
            (``max(1, round(max_epochs * full_size / subset_size))``: the
            whole number of epochs whose iteration count is closest to the
            full-data run's).

    Returns:
        int: The run's number of epochs.

    Raises:
        ValueError: Unknown budget or non-positive sizes.
    """
    if budget not in BUDGETS:
        raise ValueError(f'budget must be one of {BUDGETS}, got {budget!r}')
    if max_epochs < 1 or full_size < 1 or subset_size < 1:
        raise ValueError('max_epochs, full_size and subset_size must be '
                         f'positive, got {max_epochs}, {full_size}, '
                         f'{subset_size}')
    if budget == 'epochs':
        return int(max_epochs)
    return max(1, int(round(max_epochs * full_size / subset_size)))


def is_epoch_based(cfg) -> bool:
    """Whether ``cfg.train_cfg`` is an epoch-based training loop."""
    train_cfg = cfg.get('train_cfg') or {}
    loop = str(train_cfg.get('type', ''))
    if loop:
        return loop.split('.')[-1] == 'EpochBasedTrainLoop'
    return bool(train_cfg.get('by_epoch', False))


def _scaled(value: Any, ratio: float, minimum: int = 0) -> Any:
    if isinstance(value, (list, tuple)):
        return [_scaled(v, ratio, minimum) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return max(minimum, int(round(value * ratio)))


def scale_epoch_schedule(cfg, max_epochs: int) -> Dict[str, Any]:
    """Set ``cfg.train_cfg.max_epochs`` and scale every epoch-valued
    schedule entry with it (in place; see the module docstring).

    Args:
        cfg (mmengine.Config): Config with an ``EpochBasedTrainLoop``.
        max_epochs: The new number of epochs.

    Returns:
        dict: ``old_epochs``, ``new_epochs`` and ``changed`` (list of
        ``'key: old -> new'`` strings, for the log).

    Raises:
        ValueError: The training loop is not epoch-based or ``max_epochs``
            is not positive.
    """
    if not is_epoch_based(cfg):
        raise ValueError(
            'an epoch budget needs train_cfg.type=EpochBasedTrainLoop; got '
            f'{(cfg.get("train_cfg") or {}).get("type")!r}')
    if int(max_epochs) < 1:
        raise ValueError(f'max_epochs must be positive, got {max_epochs}')
    train_cfg = cfg.train_cfg
    old = int(train_cfg.max_epochs)
    new = int(max_epochs)
    out = dict(old_epochs=old, new_epochs=new, changed=[])
    if new == old:
        return out
    ratio = new / old
    changed: List[str] = out['changed']

    def update(container, key, name, minimum):
        if key in container and container[key] is not None:
            before = container[key]
            container[key] = _scaled(before, ratio, minimum)
            if container[key] != before:
                changed.append(f'{name}: {before} -> {container[key]}')

    train_cfg.max_epochs = new
    changed.append(f'train_cfg.max_epochs: {old} -> {new}')
    update(train_cfg, 'val_interval', 'train_cfg.val_interval', 1)
    update(train_cfg, 'val_begin', 'train_cfg.val_begin', 1)
    if train_cfg.get('dynamic_intervals'):
        before = [list(p) for p in train_cfg.dynamic_intervals]
        train_cfg.dynamic_intervals = [(_scaled(m, ratio,
                                                1), _scaled(i, ratio, 1))
                                       for m, i in before]
        changed.append(f'train_cfg.dynamic_intervals: {before} -> '
                       f'{[list(p) for p in train_cfg.dynamic_intervals]}')
    ckpt = (cfg.get('default_hooks') or {}).get('checkpoint')
    if ckpt and ckpt.get('by_epoch', True):
        update(ckpt, 'interval', 'default_hooks.checkpoint.interval', 1)
        update(ckpt, 'save_begin', 'default_hooks.checkpoint.save_begin', 0)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for i, sched in enumerate(schedulers):
        if not sched.get('by_epoch', True):
            continue
        for key in _EPOCH_VALUED:
            minimum = 0 if key in ('begin', 'milestones') else 1
            update(sched, key, f'param_scheduler[{i}].{key}', minimum)
    return out


def iters_per_epoch(size: int, batch_size: int, world_size: int = 1) -> int:
    """Iterations of one epoch over ``size`` samples (last batch kept)."""
    return int(math.ceil(size / (batch_size * world_size)))


def iteration_warmups(cfg) -> Sequence[int]:
    """``end`` of every ``by_epoch=False`` parameter scheduler (warm-ups
    counted in iterations), to compare with a run's iteration count."""
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    return [
        int(s['end']) for s in schedulers
        if not s.get('by_epoch', True) and s.get('end') is not None
    ]
