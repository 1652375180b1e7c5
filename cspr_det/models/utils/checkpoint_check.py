"""Strict loading of a whole-model checkpoint: compare it with the model
(missing, unexpected and shape-mismatched keys, and the recorded backbone
architecture of converted checkpoints) before anything is loaded.

:class:`~cspr_det.engine.hooks.CheckpointCheckHook` applies
:func:`check_model_checkpoint` inside mmengine's ``load_from`` path
(``tools/test.py``, ``tools/train.py``); :func:`load_model_checkpoint` is the
Python entry (``init_detector``).
"""
import logging
from typing import Any, Dict, List, Mapping

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from .backbone_arch import (ArchitectureMismatchError, arch_error_message,
                            check_backbone_arch)
from .checkpoint_mismatch_error import CheckpointMismatchError
from .state_dict_io import (match_state_dict, read_checkpoint, read_state_dict,
                            report_is_clean, summarize_report)


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
        print_log(
            arch_error_message(source, report['arch']),
            logger='current',
            level=logging.WARNING)
    if not report_is_clean(report):
        msg = (f'{source} does not match {type(model).__name__}: ' +
               summarize_report(report))
        if strict:
            raise CheckpointMismatchError(msg + tail)
        print_log(
            msg + ' (loading the matching tensors only)',
            logger='current',
            level=logging.WARNING)
    return report


def load_model_checkpoint(model: nn.Module,
                          filename: str,
                          strict: bool = True,
                          check_arch: bool = True,
                          map_location: Any = 'cpu',
                          trust_checkpoint: bool = False) -> Dict[str, Any]:
    """Load a whole-model checkpoint (a trained or converted detector) for
    inference or evaluation, strictly by default.

    Args:
        model: Target model (a model wrapper is unwrapped).
        filename: Checkpoint path or URL.
        strict: See :func:`check_model_checkpoint`; when False only the
            tensors with matching key and shape are loaded.
        check_arch: See :func:`check_model_checkpoint`.
        map_location: ``torch.load`` map location.
        trust_checkpoint: Load the file without the allow-list of
            checkpoint globals (it can run code: only for trusted files; see
            :mod:`cspr_det.utils.checkpoint_loading`).

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointMismatchError: See :func:`check_model_checkpoint`.
        UnsafeCheckpointError: The file needs a global outside the
            allow-list and is not trusted.
    """
    checkpoint = read_checkpoint(filename, map_location, trust_checkpoint)
    report = check_model_checkpoint(model, checkpoint, filename, strict,
                                    check_arch)
    if is_model_wrapper(model):
        model = model.module
    state = read_state_dict(checkpoint)
    model.load_state_dict({k: state[k]
                           for k in report['loaded']},
                          strict=report_is_clean(report))
    print_log(
        f'loaded {len(report["loaded"])}/{len(model.state_dict())} '
        f'tensors into {type(model).__name__} from {filename}',
        logger='current')
    return checkpoint
