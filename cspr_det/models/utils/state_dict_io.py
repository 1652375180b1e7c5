"""Reading checkpoints, selecting key prefixes and reporting how a state dict
matches a model: the one place for these rules in cspr_det.

Unwrapping rules of :func:`read_state_dict` (the only state-dict reader):

1. A path or URL is read with mmengine's ``CheckpointLoader`` (local files
   through :func:`cspr_det.utils.checkpoint_loading.load_local_checkpoint`:
   ``weights_only`` with the allow-list of checkpoint globals, unless the
   file is trusted; ``torchvision://``, ``open-mmlab://`` and ``http(s)://``
   work as in mmengine).
2. The first of ``state_dict`` (mmengine, mmcls, mmdet), ``model`` (timm,
   DeiT), ``model_state`` and ``net`` that holds a mapping is taken;
   otherwise the checkpoint itself is the state dict.
3. Non-tensor entries are dropped; no tensor at all is an error.
4. A ``module.`` prefix carried by *every* key (a DDP-wrapped model) is
   removed. Other prefixes are kept: select them with :func:`split_prefix`.
"""
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

from cspr_det.utils.checkpoint_loading import trusted_checkpoints

StateDict = Dict[str, torch.Tensor]

_WRAPPER_KEYS = ('state_dict', 'model', 'model_state', 'net')
_DDP_PREFIX = 'module.'


def read_checkpoint(src: str,
                    map_location: Any = 'cpu',
                    trust_checkpoint: bool = False) -> Any:
    """Load a checkpoint file or URL as it was saved (state dict, meta, ...).

    Args:
        src: Path or URL.
        map_location: ``torch.load`` map location.
        trust_checkpoint: Load without the allow-list of checkpoint globals
            (the file can run code: only for trusted files).

    Raises:
        FileNotFoundError: A local path that does not exist.
        UnsafeCheckpointError: The file needs a global outside the
            allow-list and is not trusted.
    """
    with trusted_checkpoints(trust_checkpoint):
        return CheckpointLoader.load_checkpoint(src, map_location=map_location)


def read_state_dict(src: Union[str, Mapping],
                    map_location: Any = 'cpu',
                    trust_checkpoint: bool = False) -> StateDict:
    """The tensor dict of a checkpoint path/URL or of a loaded checkpoint,
    unwrapped by the rules in the module docstring.

    Args:
        src: Path or URL of a checkpoint, or an already loaded checkpoint
            (any mapping, e.g. ``torch.load(...)`` or a state dict).
        map_location: ``torch.load`` map location for paths.
        trust_checkpoint: See :func:`read_checkpoint`.

    Returns:
        dict: ``key -> tensor``.

    Raises:
        FileNotFoundError: Local path does not exist.
        ValueError: The checkpoint holds no tensor.
    """
    name = src if isinstance(src, str) else 'checkpoint'
    if isinstance(src, str):
        src = read_checkpoint(src, map_location, trust_checkpoint)
    if not isinstance(src, Mapping):
        raise ValueError(f'{name} is a {type(src).__name__}, expected a dict '
                         'of tensors')
    for key in _WRAPPER_KEYS:
        if isinstance(src.get(key), Mapping):
            src = src[key]
            break
    out = {k: v for k, v in src.items() if isinstance(v, torch.Tensor)}
    if not out:
        raise ValueError(f'{name} holds no tensors (keys: {list(src)[:10]})')
    if all(k.startswith(_DDP_PREFIX) for k in out):
        out = {k[len(_DDP_PREFIX):]: v for k, v in out.items()}
    return out


def split_prefix(state_dict: Mapping[str, torch.Tensor],
                 prefix: str) -> Tuple[StateDict, StateDict]:
    """Split a state dict at a key prefix: the one prefix helper.

    Args:
        state_dict: Any ``key -> tensor`` mapping.
        prefix: E.g. ``'backbone.'``; empty selects every key.

    Returns:
        ``(inside, outside)``: the keys starting with ``prefix`` with the
        prefix removed, and every other key unchanged.
    """
    inside, outside = {}, {}
    for k, v in state_dict.items():
        if k.startswith(prefix):
            inside[k[len(prefix):]] = v
        else:
            outside[k] = v
    return inside, outside


def shape_mismatch(key: str, source: torch.Tensor,
                   target: torch.Tensor) -> str:
    """``'key: checkpoint (a, b) vs model (c, d)'``."""
    return (f'{key}: checkpoint {tuple(source.shape)} vs model '
            f'{tuple(target.shape)}')


def match_state_dict(
    target: Mapping[str, torch.Tensor],
    source: Mapping[str, torch.Tensor],
    exclude: Sequence[str] = ()
) -> Dict[str, List[str]]:
    """Compare a checkpoint's tensors with a model's, key by key and shape
    by shape.

    Args:
        target: The model's state dict.
        source: The checkpoint's state dict (same key layout).
        exclude: Regular expressions (``re.search``) of target keys that are
            set aside (never compared, never loaded).

    Returns:
        dict of key lists: ``loaded`` (same key and shape), ``missing`` (in
        the model only), ``unexpected`` (in the checkpoint only, sorted),
        ``mismatched`` (:func:`shape_mismatch` strings) and ``excluded``.
    """
    patterns = [re.compile(p) for p in exclude]
    report = dict(
        loaded=[], missing=[], unexpected=[], mismatched=[], excluded=[])
    for key, value in target.items():
        if any(p.search(key) for p in patterns):
            report['excluded'].append(key)
        elif key not in source:
            report['missing'].append(key)
        elif tuple(source[key].shape) != tuple(value.shape):
            report['mismatched'].append(
                shape_mismatch(key, source[key], value))
        else:
            report['loaded'].append(key)
    report['unexpected'] = sorted(k for k in source if k not in target)
    return report


def report_is_clean(report: Mapping[str, List[str]]) -> bool:
    """True when a report has no missing, unexpected or mismatched key."""
    return not (report.get('missing') or report.get('unexpected')
                or report.get('mismatched'))


def summarize_report(report: Mapping[str, List[str]], limit: int = 3) -> str:
    """One line: counts of missing / unexpected / shape-mismatched keys and
    the first ``limit`` of each, e.g. ``'2 missing, 0 unexpected, 1
    shape-mismatched keys (missing: a, b; shape-mismatched: c: checkpoint
    (1,) vs model (2,))'``."""
    parts = []
    for name, label in (('missing', 'missing'), ('unexpected', 'unexpected'),
                        ('mismatched', 'shape-mismatched')):
        keys = list(report.get(name, []))
        if keys:
            more = f', ... ({len(keys) - limit} more)' \
                if len(keys) > limit else ''
            parts.append(f'{label}: ' + ', '.join(keys[:limit]) + more)
    counts = (f'{len(report.get("missing", []))} missing, '
              f'{len(report.get("unexpected", []))} unexpected, '
              f'{len(report.get("mismatched", []))} shape-mismatched keys')
    return counts + (f' ({"; ".join(parts)})' if parts else '')


def format_report(report: Mapping[str, List]) -> str:
    """Human-readable multi-line report (one line per key)."""
    lines = []
    for section, keys in report.items():
        lines.append(f'{section}: {len(keys)}')
        for k in keys:
            lines.append(f'    {k}')
    return '\n'.join(lines)


def log_report(report: Mapping[str, List],
               title: str,
               level: Optional[int] = None) -> None:
    """Log a short summary (counts, and every key of non-empty problem
    sections) through mmengine's logger."""
    counts = ', '.join(f'{k}={len(v)}' for k, v in report.items())
    print_log(f'{title}: {counts}', logger='current', level=level or 20)
    for section in ('unused', 'mismatched', 'missing', 'unexpected'):
        for k in report.get(section, []):
            print_log(
                f'{title}: {section} {k}', logger='current', level=level or 20)
