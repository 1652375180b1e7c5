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

Loading a model's checkpoint is strict here: :func:`check_model_checkpoint`
compares the checkpoint with the model (missing, unexpected and
shape-mismatched keys, and the recorded backbone architecture of converted
checkpoints) and :class:`CheckpointCheckHook` applies it inside mmengine's
``load_from`` path (``tools/test.py``, ``tools/train.py``).
"""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint file written by mmengine or plain
    ``torch.save``.

    Args:
        filename: Path of the checkpoint (``~`` is expanded).
        map_location: Same as in :func:`torch.load`.

    Returns:
        The unpickled checkpoint (usually a dict with ``state_dict`` and
        ``meta``).

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


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into (keys,
    shapes, or the recorded backbone architecture: its subclass
    :class:`~cspr_det.models.utils.ArchitectureMismatchError`)."""


def check_model_checkpoint(model: nn.Module,
                           checkpoint: Mapping,
                           source: str = 'checkpoint',
                           strict: bool = True,
                           check_arch: bool = True,
                           hint: str = '') -> Dict[str, List[str]]:
    """Compare a loaded checkpoint with ``model`` before it is loaded.

    The state dict is unwrapped by
    :func:`cspr_det.models.utils.read_state_dict` and compared key by key
    and shape by shape; when the checkpoint records the backbone
    architecture it was converted for (``meta['backbone_arch']``), it is
    compared with ``model.backbone`` (or ``model`` itself when it has no
    ``backbone``).

    Args:
        model: The model (a model wrapper is unwrapped).
        checkpoint: The loaded checkpoint.
        source: Checkpoint name for messages.
        strict: Raise on any missing / unexpected / shape-mismatched key;
            otherwise log the same one-line summary as a warning.
        check_arch: Raise on an architecture difference (a warning when
            False).
        hint: Appended to the error message (e.g. the CLI's override).

    Returns:
        dict: The :func:`~cspr_det.models.utils.match_state_dict` report
        plus ``arch`` (the architecture differences).

    Raises:
        CheckpointMismatchError: One line with the counts of missing /
            unexpected / shape-mismatched keys and the first few of each,
            or naming every architecture difference.
    """
    from cspr_det.models.utils import (check_backbone_arch, match_state_dict,
                                       read_state_dict, report_is_clean,
                                       summarize_report)
    from cspr_det.models.utils.backbone_arch import (
        ArchitectureMismatchError, arch_error_message)
    if is_model_wrapper(model):
        model = model.module
    tail = f'; {hint}' if hint else ''
    state = read_state_dict(checkpoint)
    report = match_state_dict(model.state_dict(), state)
    del report['excluded']
    meta = checkpoint.get('meta')
    report['arch'] = check_backbone_arch(
        meta if isinstance(meta, Mapping) else None,
        getattr(model, 'backbone', model))
    if report['arch']:
        if check_arch:
            raise ArchitectureMismatchError(
                arch_error_message(source, report['arch'], hint))
        print_log(arch_error_message(source, report['arch']),
                  logger='current', level=logging.WARNING)
    if not report_is_clean(report):
        msg = (f'{source} does not match {type(model).__name__}: '
               + summarize_report(report))
        if strict:
            raise CheckpointMismatchError(msg + tail)
        print_log(msg + ' (loading the matching tensors only)',
                  logger='current', level=logging.WARNING)
    return report


def load_model_checkpoint(model: nn.Module,
                          filename: str,
                          strict: bool = True,
                          check_arch: bool = True,
                          map_location: Any = 'cpu') -> Dict[str, Any]:
    """Load a whole-model checkpoint (a trained or converted detector) for
    inference or evaluation, strictly by default.

    Args:
        model: Target model (a model wrapper is unwrapped).
        filename: Checkpoint path or URL.
        strict: See :func:`check_model_checkpoint`; when False only the
            tensors with matching key and shape are loaded.
        check_arch: See :func:`check_model_checkpoint`.
        map_location: ``torch.load`` map location.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointMismatchError: See :func:`check_model_checkpoint`.
    """
    from cspr_det.models.utils import (read_checkpoint, read_state_dict,
                                       report_is_clean)
    checkpoint = read_checkpoint(filename, map_location)
    report = check_model_checkpoint(model, checkpoint, filename, strict,
                                    check_arch)
    if is_model_wrapper(model):
        model = model.module
    state = read_state_dict(checkpoint)
    model.load_state_dict({k: state[k] for k in report['loaded']},
                          strict=report_is_clean(report))
    print_log(f'loaded {len(report["loaded"])}/{len(model.state_dict())} '
              f'tensors into {type(model).__name__} from {filename}',
              logger='current')
    return checkpoint


class CheckpointCheckHook(Hook):
    """Check the checkpoint mmengine's Runner loads (``load_from``) with
    :func:`check_model_checkpoint` before it reaches the model.

    mmengine itself loads ``load_from`` non-strictly and only logs a
    warning, so a wrong checkpoint would be evaluated as a random network.
    This hook runs in ``after_load_checkpoint`` (priority ``VERY_HIGH``),
    which mmengine calls between reading the file and loading it; it raises
    :class:`CheckpointMismatchError` (strict), or warns, and it replaces
    ``checkpoint['state_dict']`` by the unwrapped state dict it checked, so
    that mmengine loads exactly that. Not registered: the cspr_det tools add
    it with ``runner.register_hook`` when a run loads (not resumes) a
    checkpoint.

    Args:
        source: Checkpoint name for messages.
        strict: Refuse missing / unexpected / shape-mismatched keys.
        check_arch: Refuse a recorded backbone architecture that differs.
        hint: Appended to the error message.
    """

    priority = 'VERY_HIGH'

    def __init__(self, source: str, strict: bool = True,
                 check_arch: bool = True, hint: str = '') -> None:
        self.source = source
        self.strict = strict
        self.check_arch = check_arch
        self.hint = hint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from cspr_det.models.utils import read_state_dict
        check_model_checkpoint(runner.model, checkpoint, self.source,
                               self.strict, self.check_arch, self.hint)
        raw = checkpoint.get('state_dict', checkpoint)
        state = OrderedDict(read_state_dict(checkpoint))
        if hasattr(raw, '_metadata'):  # module versions, as mmengine keeps
            state._metadata = raw._metadata
        checkpoint['state_dict'] = state
