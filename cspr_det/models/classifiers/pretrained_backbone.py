"""Initialise a module from the backbone of a pre-training checkpoint."""
import logging
import re
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.model.weight_init import update_init_info
from mmengine.runner.checkpoint import CheckpointLoader

from cspr_det.registry import WEIGHT_INITIALIZERS


def adapt_in_channels(weight: torch.Tensor,
                      in_channels: int) -> torch.Tensor:
    """Tile a conv weight over a new number of input channels.

    Output channel ``o`` of the result sees input channel ``j`` through
    ``weight[o, j % C] * C / in_channels``, so an input whose ``in_channels``
    channels all repeat one of the ``C`` original channels (a grey image
    seen through several HU windows set equal) gives exactly the original
    response.

    Args:
        weight: (O, C, *k) conv weight of the checkpoint.
        in_channels: Input channels of the target conv.

    Returns:
        torch.Tensor: (O, in_channels, *k) weight.
    """
    c = weight.shape[1]
    idx = torch.arange(in_channels) % c
    return weight[:, idx] * (c / in_channels)


def read_state_dict(checkpoint: str,
                    map_location: str = 'cpu') -> Dict[str, torch.Tensor]:
    """Read the state dict of a checkpoint (mmengine, plain ``torch.save`` of
    a state dict, or ``{'state_dict': ...}``); a DDP ``module.`` prefix on
    every key is removed."""
    ckpt = CheckpointLoader.load_checkpoint(
        checkpoint, map_location=map_location)
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict) or not all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ValueError(f'{checkpoint} does not hold a state dict of tensors')
    if ckpt and all(k.startswith('module.') for k in ckpt):
        ckpt = {k[len('module.'):]: v for k, v in ckpt.items()}
    return ckpt


def select_prefix(state_dict: Dict[str, torch.Tensor],
                  prefix: Optional[str]) -> Dict[str, torch.Tensor]:
    """Keep the keys starting with ``prefix`` and strip it. When no key has
    the prefix (a file written by ``tools/misc/extract_backbone.py`` with the
    prefix stripped) or ``prefix`` is empty, the state dict is returned
    unchanged."""
    if not prefix:
        return dict(state_dict)
    picked = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    return picked if picked else dict(state_dict)


def load_pretrained_backbone(module: nn.Module,
                             checkpoint: str,
                             prefix: Optional[str] = 'backbone.',
                             exclude: Sequence[str] = (),
                             strict_shapes: bool = True,
                             map_location: str = 'cpu',
                             adapt_in_channels_keys: Sequence[str] = ()
                             ) -> Dict[str, list]:
    """Copy the tensors under ``prefix`` of ``checkpoint`` into ``module``.

    Args:
        module: Target module (e.g. a detector's backbone).
        checkpoint: Path or URL of a checkpoint.
        prefix: Key prefix of the sub-module in the checkpoint
            (``'backbone.'`` for VDT pre-training checkpoints); see
            :func:`select_prefix`.
        exclude: Regular expressions (``re.search``) of target keys that are
            never loaded, e.g. ``('gtm',)`` for depth-collapsing modules
            whose weights depend on the number of slices.
        strict_shapes: Raise when a tensor has a different shape in the
            checkpoint; otherwise skip it with a warning.
        map_location: ``torch.load`` map location.
        adapt_in_channels_keys: Regular expressions of target conv weights
            (e.g. ``(r'^conv1\.weight$',)`` for the stem) that may differ
            from the checkpoint only in the input-channel dimension; they
            are tiled by :func:`adapt_in_channels` (a 1-channel pre-trained
            stem feeding a detector that reads K HU windows).

    Returns:
        dict: key lists ``loaded``, ``missing`` (in the module, not in the
        checkpoint), ``unexpected`` (in the checkpoint, not in the module),
        ``mismatched`` (different shapes, only when not strict),
        ``excluded`` and ``adapted`` (loaded through
        :func:`adapt_in_channels`).

    Raises:
        ValueError: A shape mismatch (strict) or no tensor matched at all.
    """
    source = select_prefix(read_state_dict(checkpoint, map_location), prefix)
    target = module.state_dict()
    patterns = [re.compile(p) for p in exclude]
    adapt = [re.compile(p) for p in adapt_in_channels_keys]
    report = dict(loaded=[], missing=[], unexpected=[], mismatched=[],
                  excluded=[], adapted=[])
    to_load = {}
    for key, value in target.items():
        src = source.get(key)
        if any(p.search(key) for p in patterns):
            report['excluded'].append(key)
        elif src is None:
            report['missing'].append(key)
        elif (src.shape != value.shape and any(p.search(key) for p in adapt)
              and src.dim() >= 3 and src.shape[0] == value.shape[0]
              and src.shape[2:] == value.shape[2:]):
            to_load[key] = adapt_in_channels(src, value.shape[1])
            report['adapted'].append(key)
        elif src.shape != value.shape:
            report['mismatched'].append(
                f'{key}: checkpoint {tuple(source[key].shape)} vs model '
                f'{tuple(value.shape)}')
        else:
            to_load[key] = source[key]
    report['unexpected'] = sorted(k for k in source if k not in target)
    if report['mismatched'] and strict_shapes:
        raise ValueError(
            f'{checkpoint} (prefix {prefix!r}): {len(report["mismatched"])} '
            f'tensor(s) have a different shape in {type(module).__name__}: '
            + '; '.join(report['mismatched'][:5]) +
            '. Use exclude=[...] for modules whose shape depends on the '
            'input (e.g. depth-collapsing layers) or strict_shapes=False.')
    if not to_load:
        raise ValueError(
            f'{checkpoint} (prefix {prefix!r}): no tensor matches '
            f'{type(module).__name__}; checkpoint keys start with '
            f'{sorted(source)[:3]}, module keys with {sorted(target)[:3]}')
    module.load_state_dict(to_load, strict=False)
    report['loaded'] = sorted(to_load)
    return report


@WEIGHT_INITIALIZERS.register_module()
class PretrainedBackbone:
    """``init_cfg`` that loads a backbone from a pre-training checkpoint and
    logs how many tensors were loaded.

    Use it as the backbone's ``init_cfg``::

        backbone=dict(type='cspr_det.ResNet3D', ...,
                      init_cfg=dict(type='cspr_det.PretrainedBackbone',
                                    checkpoint='work_dirs/vdt/epoch_100.pth',
                                    prefix='backbone.'))

    It logs one line ``PretrainedBackbone: loaded 62/62 tensors into
    ResNet3D from ... (missing 0, unexpected 0, excluded 0)``, then warns
    with the missing/unexpected keys, and raises on a shape mismatch
    (unless ``strict_shapes=False``).

    Ordering: mmengine applies a non-``Pretrained`` init_cfg *before* the
    children's own ``init_weights`` (which would overwrite the loaded
    tensors). This initializer therefore first runs the children's
    ``init_weights`` itself (marking them initialised, exactly what
    ``BaseModule.init_weights`` would do next) and then loads the
    checkpoint, so loaded tensors win and tensors absent from the checkpoint
    keep their regular initialisation. List it last (or alone) in
    ``init_cfg``.

    Args:
        checkpoint: Checkpoint path (a VDT pre-training checkpoint, or a
            file written by ``tools/misc/extract_backbone.py``).
        prefix: Key prefix of the backbone in the checkpoint; ignored when
            no key carries it (stripped files).
        exclude: Regexes of module keys that are not loaded.
        strict_shapes: Raise on shape mismatch.
        map_location: ``torch.load`` map location.
        adapt_in_channels: Regexes of conv weights (the stem) that are tiled
            over a different number of input channels instead of being
            rejected; see :func:`adapt_in_channels`.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = 'backbone.',
                 exclude: Sequence[str] = (),
                 strict_shapes: bool = True,
                 map_location: str = 'cpu',
                 adapt_in_channels: Sequence[str] = ()) -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.exclude = tuple(exclude)
        self.adapt_in_channels = tuple(adapt_in_channels)
        self.strict_shapes = strict_shapes
        self.map_location = map_location
        self.wholemodule = False

    @staticmethod
    def _init_children(module: nn.Module) -> None:
        for child in module.children():
            if is_model_wrapper(child) and not hasattr(child, 'init_weights'):
                child = child.module
            if hasattr(child, 'init_weights') and not getattr(
                    child, 'is_init', False):
                child.init_weights()
                child.is_init = True
                update_init_info(
                    child,
                    init_info='Initialized by user-defined `init_weights` in '
                    f'{child.__class__.__name__} ')

    def __call__(self, module: nn.Module) -> Dict[str, list]:
        """Initialise ``module``'s children, then load the checkpoint.

        Returns:
            dict: The report of :func:`load_pretrained_backbone`.
        """
        self._init_children(module)
        report = load_pretrained_backbone(
            module,
            self.checkpoint,
            prefix=self.prefix,
            exclude=self.exclude,
            strict_shapes=self.strict_shapes,
            map_location=self.map_location,
            adapt_in_channels_keys=self.adapt_in_channels)
        total = len(module.state_dict())
        print_log(
            f'PretrainedBackbone: loaded {len(report["loaded"])}/{total} '
            f'tensors into {type(module).__name__} from {self.checkpoint} '
            f'(prefix {self.prefix!r}; missing {len(report["missing"])}, '
            f'unexpected {len(report["unexpected"])}, excluded '
            f'{len(report["excluded"])}, shape-mismatched skipped '
            f'{len(report["mismatched"])}, input channels adapted '
            f'{len(report["adapted"])})',
            logger='current')
        for name in ('missing', 'unexpected', 'mismatched'):
            if report[name]:
                print_log(
                    f'PretrainedBackbone: {name} keys: {report[name][:20]}'
                    + (' ...' if len(report[name]) > 20 else ''),
                    logger='current',
                    level=logging.WARNING)
        if hasattr(module, '_params_init_info'):
            update_init_info(
                module,
                init_info=f'PretrainedBackbone: load from {self.checkpoint}')
        return report
