"""Reading checkpoints and reporting how a state dict matched a model."""
from typing import Dict, List, Mapping, Union

import torch
from mmengine.logging import print_log

StateDict = Dict[str, torch.Tensor]

_WRAPPER_KEYS = ('state_dict', 'model', 'model_state', 'net')
_PREFIXES = ('module.', 'backbone.', 'model.', 'encoder.')


def read_state_dict(src: Union[str, Mapping]) -> StateDict:
    """Return the tensor dict of a checkpoint path or of a loaded checkpoint.

    Unwraps ``{'state_dict': ...}`` (mmengine/mmcls/mmdet), ``{'model':
    ...}`` (timm/DeiT style) and similar wrappers. Keys are not changed.

    Raises:
        FileNotFoundError: Path does not exist.
        ValueError: No tensor dict found.
    """
    if isinstance(src, str):
        from cspr_det.utils.checkpoint import load_local_checkpoint
        src = load_local_checkpoint(src, map_location='cpu')
    if not isinstance(src, Mapping):
        raise ValueError(f'checkpoint is a {type(src).__name__}, expected a '
                         'dict of tensors')
    for key in _WRAPPER_KEYS:
        if key in src and isinstance(src[key], Mapping):
            src = src[key]
            break
    out = {k: v for k, v in src.items() if isinstance(v, torch.Tensor)}
    if not out:
        raise ValueError('no tensors found in the checkpoint (keys: '
                         f'{list(src)[:10]})')
    return out


def strip_prefixes(state_dict: Mapping[str, torch.Tensor],
                   prefixes=_PREFIXES) -> StateDict:
    """Remove leading ``module.`` / ``backbone.`` / ``model.`` /
    ``encoder.`` (repeatedly) from every key."""
    return {strip_key(k, prefixes): v for k, v in state_dict.items()}


def strip_key(key: str, prefixes=_PREFIXES) -> str:
    """Remove the wrapper prefixes of :func:`strip_prefixes` from one key."""
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if key.startswith(p):
                key = key[len(p):]
                changed = True
    return key


def format_report(report: Mapping[str, List]) -> str:
    """Human-readable multi-line report (one line per key)."""
    lines = []
    for section, keys in report.items():
        lines.append(f'{section}: {len(keys)}')
        for k in keys:
            lines.append(f'    {k}')
    return '\n'.join(lines)


def log_report(report: Mapping[str, List], title: str) -> None:
    """Log a short summary (counts, and every key of non-empty problem
    sections) through mmengine's logger."""
    counts = ', '.join(f'{k}={len(v)}' for k, v in report.items())
    print_log(f'{title}: {counts}', logger='current')
    for section in ('unused', 'mismatched', 'missing', 'unexpected'):
        for k in report.get(section, []):
            print_log(f'{title}: {section} {k}', logger='current')
