"""Write the ready config that goes with a converted checkpoint."""
import os
import os.path as osp
from typing import Any, Mapping, Optional, Sequence

# Keys that are dicts merged into a base's dict: replaced whole instead, so
# e.g. a base's GroupNorm ``num_groups`` cannot leak into a BN config.
_REPLACE_WHOLE = ('norm_cfg', 'conv_cfg')


def config_path_for(checkpoint: str) -> str:
    """``x/name.pth`` -> ``x/name.py``."""
    return osp.splitext(checkpoint)[0] + '.py'


def _configs_root() -> str:
    return osp.join(
        osp.dirname(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
        'configs')


def resolve_base_config(base_config: str) -> str:
    """Absolute path of ``base_config``: an existing path, or a name under
    the repository's ``configs/`` (e.g. ``'deeplesion/x.py'``).

    Raises:
        FileNotFoundError: Neither exists.
    """
    for path in (base_config, osp.join(_configs_root(), base_config)):
        if osp.isfile(path):
            return osp.abspath(path)
    raise FileNotFoundError(
        f'base config not found: {base_config} (give an existing config '
        'file, e.g. with --base-config)')


def _value(value: Any, indent: int, replace_whole: bool = False) -> str:
    if isinstance(value, Mapping):
        items = [f'{k}={_value(v, indent + 4)}' for k, v in value.items()]
        if replace_whole:
            items.insert(0, '_delete_=True')
        return 'dict(' + ', '.join(items) + ')'
    return repr(value)


def _relative_to(path: str, directory: str) -> str:
    """``path`` relative to ``directory`` when ``directory`` lies inside the
    repository (e.g. ``checkpoints/``, ``work_dirs/``), else absolute."""
    repo = osp.dirname(_configs_root())
    if osp.abspath(directory).startswith(repo + os.sep):
        return osp.relpath(path, directory)
    return path


def write_converted_config(path: str,
                           backbone_cfg: Mapping[str, Any],
                           checkpoint: str,
                           base_config: str,
                           out_channels: Optional[Sequence[int]] = None,
                           header: str = '') -> str:
    """Write a leaf config that inherits ``base_config``, builds exactly the
    backbone ``backbone_cfg`` and loads ``checkpoint``.

    Every key of ``backbone_cfg`` is written out (dict values such as
    ``norm_cfg`` replace the base's with ``_delete_=True``). When the base
    model has a neck whose ``in_channels`` list or a head whose
    ``in_channels`` int disagrees with ``out_channels`` (the backbone's
    output widths), it is set to them. ``load_from`` is ``checkpoint``;
    ``tools/test.py CONFIG CHECKPOINT`` overrides it.

    Args:
        path: Output ``.py`` file.
        backbone_cfg: Backbone config (``type`` with its scope).
        checkpoint: The converted checkpoint (written as given).
        base_config: See :func:`resolve_base_config`.
        out_channels: Output widths of the built backbone.
        header: First comment line(s).

    Returns:
        str: ``path``.
    """
    from mmengine.config import Config
    base = resolve_base_config(base_config)
    base_model = Config.fromfile(base).get('model', {})
    directory = osp.dirname(osp.abspath(path))
    lines = [f'# {line}' for line in header.splitlines()] + [
        f'# Backbone settings of {osp.basename(checkpoint)}: every key below '
        'is part of the', '# architecture its weights were made for '
        '(meta["backbone_arch"] of the checkpoint);',
        '# loading it into a backbone built otherwise fails.',
        '#   python tools/test.py THIS_FILE CHECKPOINT   (converted detector)',
        '#   python tools/train.py THIS_FILE             (fine-tune from it)',
        f'_base_ = {_relative_to(base, directory)!r}', '', 'model = dict(',
        '    backbone=dict('
    ]
    items = [
        f'        {k}={_value(v, 8, k in _REPLACE_WHOLE)}'
        for k, v in backbone_cfg.items()
    ]
    lines.append(',\n'.join(items) + ')')
    neck, head = base_model.get('neck'), base_model.get('head')
    neck_in = neck.get('in_channels') if isinstance(neck, Mapping) else None
    if out_channels is not None and isinstance(neck_in, (list, tuple)) \
            and list(neck_in) != list(out_channels):
        lines[-1] += ','
        lines.append(f'    neck=dict(in_channels={list(out_channels)!r})')
    if out_channels is not None and isinstance(head, Mapping) and isinstance(
            head.get('in_channels'), int) and \
            head['in_channels'] != out_channels[-1]:
        lines[-1] += ','
        lines.append(f'    head=dict(in_channels={int(out_channels[-1])})')
    lines[-1] += ')'
    lines += ['', f'load_from = {checkpoint!r}', '']
    os.makedirs(directory, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines))
    return path
