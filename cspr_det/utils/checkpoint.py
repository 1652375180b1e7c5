"""Checkpoint loading that works under torch >= 2.6.

torch 2.6 changed the default of ``torch.load`` to ``weights_only=True``.
mmengine 0.10.x calls ``torch.load(filename, map_location=...)`` without the
argument, so it can no longer read the checkpoints it writes itself (their
``meta`` holds a pickled ``mmengine.Config``, numpy scalars and message-hub
state): ``--resume`` and ``load_from`` fail with
"Unsupported global: mmengine.config.config.Config".

mmengine resolves every path through ``CheckpointLoader``'s scheme table, so we
register our own loader for local paths (prefix ``''``) that passes
``weights_only=False``: the behaviour mmengine was written for. Checkpoints are
pickles; as before torch 2.6, only load files you trust.
"""
import os.path as osp
from typing import Any, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint file written by mmengine or plain ``torch.save``.

    Args:
        filename: Path of the checkpoint (``~`` is expanded).
        map_location: Same as in :func:`torch.load`.

    Returns:
        The unpickled checkpoint (usually a dict with ``state_dict`` and ``meta``).

    Raises:
        FileNotFoundError: The file does not exist.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return torch.load(filename, map_location=map_location, weights_only=False)


def register_checkpoint_loader() -> None:
    """Make mmengine's ``load_checkpoint``, ``--resume`` and ``load_from`` use
    :func:`load_local_checkpoint` for local paths. Idempotent."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
