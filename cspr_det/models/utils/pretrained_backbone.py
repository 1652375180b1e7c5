"""Initialise a module (usually a backbone) from a checkpoint: VDT
pre-training, a converted legacy checkpoint, an extracted backbone file or a
2D ImageNet checkpoint."""
import logging
import re
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from torch.nn.modules.batchnorm import _BatchNorm

from cspr_det.registry import WEIGHT_INITIALIZERS
from .backbone_arch import (ARCH_KEY_TENSORS, ArchitectureMismatchError,
                            arch_error_message, check_backbone_arch)
from .state_dict_io import (match_state_dict, read_checkpoint, read_state_dict,
                            split_prefix)

BN_STATS_CHOICES = ('keep', 'reset')


def _check_bn_stats(bn_stats: str) -> None:
    if bn_stats not in BN_STATS_CHOICES:
        raise ValueError(f'bn_stats must be one of {BN_STATS_CHOICES}, got '
                         f'{bn_stats!r}')


def adapt_in_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Tile a conv weight over a new number of input channels.

    Output channel ``o`` of the result sees input channel ``j`` through
    ``weight[o, j % C] * C / in_channels``, so an input whose ``in_channels``
    channels all repeat one of the ``C`` original channels (a grey image
    seen through several HU windows set equal) gives exactly the original
    response.

    Args:
        weight: ``(O, C, *k)`` conv weight of the checkpoint.
        in_channels: Input channels of the target conv.

    Returns:
        torch.Tensor: ``(O, in_channels, *k)`` weight.
    """
    c = weight.shape[1]
    idx = torch.arange(in_channels) % c
    return weight[:, idx] * (c / in_channels)


def _adaptable(src: torch.Tensor, dst: torch.Tensor) -> bool:
    return (src.dim() >= 3 and src.shape != dst.shape
            and src.shape[0] == dst.shape[0]
            and src.shape[2:] == dst.shape[2:])


def _waived_arch_keys(target_keys: Sequence[str],
                      set_aside: Sequence[str]) -> List[str]:
    """Architecture keys whose tensors are all excluded or adapted."""
    waived = []
    for key, pattern in ARCH_KEY_TENSORS.items():
        tied = [k for k in target_keys if re.search(pattern, k)]
        if tied and all(k in set_aside for k in tied):
            waived.append(key)
    return waived


def load_pretrained_backbone(module: nn.Module,
                             checkpoint: str,
                             prefix: Optional[str] = 'backbone.',
                             exclude: Sequence[str] = (),
                             strict_shapes: bool = True,
                             map_location: str = 'cpu',
                             adapt_in_channels_keys: Sequence[str] = (),
                             check_arch: bool = True,
                             trust_checkpoint: bool = False,
                             bn_stats: str = 'keep') -> Dict[str, list]:
    """Copy the tensors under ``prefix`` of ``checkpoint`` into ``module``.

    Args:
        module: Target module (e.g. a detector's backbone).
        checkpoint: Path or URL of a checkpoint (read by
            :func:`~cspr_det.models.utils.read_state_dict`).
        prefix: Key prefix of the sub-module in the checkpoint
            (``'backbone.'`` for VDT pre-training and converted
            checkpoints). When no key carries it (a file written by
            ``tools/misc/extract_backbone.py``, a torchvision checkpoint) or
            it is empty/None, every key is used as it is.
        exclude: Regular expressions (``re.search``) of target keys that are
            never loaded, e.g. ``('collapse',)`` for depth-collapsing modules
            whose weights depend on the number of slices.
        strict_shapes: Raise when a tensor has a different shape in the
            checkpoint; otherwise skip it with a warning.
        map_location: ``torch.load`` map location.
        adapt_in_channels_keys: Regular expressions of target conv weights
            (e.g. ``(r'^conv1\\.weight$',)`` for the stem) that may differ
            from the checkpoint only in the input-channel dimension; they
            are tiled by :func:`adapt_in_channels` (a 1-channel pre-trained
            stem feeding a detector that reads K HU windows).
        check_arch: Compare the checkpoint's recorded backbone architecture
            (``meta['backbone_arch']``, written by the converters) with
            ``module`` and raise on a difference. Differences that only
            concern excluded or adapted tensors (``num_slices`` and
            ``collapse`` with every ``collapse*`` tensor excluded,
            ``in_channels`` with the stem adapted) are allowed.
        trust_checkpoint: Read the file without the allow-list of
            checkpoint globals (it can run code: only for trusted files;
            see :mod:`cspr_det.utils.checkpoint_loading`).
        bn_stats: ``'keep'`` the loaded BatchNorm running statistics, or
            ``'reset'`` them (mean 0, variance 1, no batches tracked) in
            every BatchNorm layer whose statistics came from the checkpoint;
            the affine weights are kept either way. In training mode a
            BatchNorm layer normalises with the batch's own statistics, so
            the choice only changes what an evaluation sees before the
            running averages have followed the new data.

    Returns:
        dict: key lists ``loaded``, ``missing`` (in the module, not in the
        checkpoint), ``unexpected`` (in the checkpoint, not in the module),
        ``mismatched`` (different shapes, only when not strict),
        ``excluded``, ``adapted`` (loaded through
        :func:`adapt_in_channels`) and ``bn_reset`` (BatchNorm layers whose
        loaded statistics were reset).

    Raises:
        ArchitectureMismatchError: The recorded architecture differs.
        ValueError: A shape mismatch (strict) or no tensor matched at all.
        UnsafeCheckpointError: The file needs a global outside the
            allow-list and is not trusted.
    """
    _check_bn_stats(bn_stats)
    ckpt = read_checkpoint(checkpoint, map_location, trust_checkpoint)
    state = read_state_dict(ckpt)
    if prefix:
        inside, _ = split_prefix(state, prefix)
        state = inside or state
    target = module.state_dict()
    adapt = [re.compile(p) for p in adapt_in_channels_keys]
    adapted = {}
    for key, value in target.items():
        src = state.get(key)
        if src is not None and any(p.search(key) for p in adapt) and \
                _adaptable(src, value):
            adapted[key] = adapt_in_channels(src, value.shape[1])
    report = match_state_dict(target, dict(state, **adapted), exclude)
    loaded = set(report['loaded'])
    report['adapted'] = sorted(k for k in adapted if k in loaded)
    if check_arch and isinstance(ckpt, dict):
        waive = _waived_arch_keys(
            list(target), report['excluded'] + report['adapted'])
        diffs = check_backbone_arch(ckpt.get('meta'), module, waive)
        if diffs:
            raise ArchitectureMismatchError(
                arch_error_message(
                    checkpoint, diffs,
                    'or set check_arch=False to load into a different '
                    'architecture on purpose'))
    if report['mismatched'] and strict_shapes:
        raise ValueError(
            f'{checkpoint} (prefix {prefix!r}): {len(report["mismatched"])} '
            f'tensor(s) have a different shape in {type(module).__name__}: ' +
            '; '.join(report['mismatched'][:5]) +
            '. Use exclude=[...] for modules whose shape depends on the '
            'input (e.g. depth-collapsing layers) or strict_shapes=False.')
    if not report['loaded']:
        raise ValueError(
            f'{checkpoint} (prefix {prefix!r}): no tensor matches '
            f'{type(module).__name__}; checkpoint keys start with '
            f'{sorted(state)[:3]}, module keys with {sorted(target)[:3]}')
    to_load = {k: adapted.get(k, state.get(k)) for k in report['loaded']}
    module.load_state_dict(to_load, strict=False)
    report['bn_reset'] = []
    if bn_stats == 'reset':
        for name, sub in module.named_modules():
            key = f'{name}.running_mean' if name else 'running_mean'
            if isinstance(sub, _BatchNorm) and key in loaded:
                sub.reset_running_stats()
                report['bn_reset'].append(name)
    return report


@WEIGHT_INITIALIZERS.register_module()
class PretrainedBackbone:
    """Weight initializer (``init_cfg``) that loads a module from a
    checkpoint and logs how many tensors it loaded.

    The one loader for every pre-trained start: VDT pre-training checkpoints
    (``prefix='backbone.'``), files of ``tools/misc/extract_backbone.py``,
    converted legacy checkpoints (their recorded architecture is checked,
    see :mod:`~cspr_det.models.utils.backbone_arch`), inflated 2D ResNets
    and 2D ImageNet checkpoints (``checkpoint='torchvision://resnet50'`` or
    a local torchvision file, any prefix):

        backbone=dict(type='cspr_det.ResNet3D', ...,
                      init_cfg=dict(type='cspr_det.PretrainedBackbone',
                                    checkpoint='work_dirs/vdt/epoch_100.pth',
                                    prefix='backbone.'))

    It logs one line ``PretrainedBackbone: loaded 62/62 tensors into
    ResNet3D from ... (missing 0, unexpected 0, excluded 0, ...)``, then
    warns with the missing / unexpected keys, and raises on a shape mismatch
    (unless ``strict_shapes=False``) or an architecture difference (unless
    ``check_arch=False``).

    Ordering, and why it is handled here: mmengine's
    ``BaseModule.init_weights`` runs every ``init_cfg`` entry whose type is
    not exactly ``'Pretrained'`` (a string / class identity test) *before*
    the children's own ``init_weights``, so a registered initializer cannot
    ask the public flow to run after them, and the children's
    initialisation (e.g. the GTM's mean weights) would overwrite the loaded
    tensors. This initializer therefore first calls each child's public
    ``init_weights()`` (a ``BaseModule`` child then reports
    ``is_init=True`` and mmengine's loop skips it; a plain module with an
    ``init_weights`` method is marked the same way) and loads the checkpoint
    afterwards, so loaded tensors win and tensors absent from the checkpoint
    keep their regular initialisation. List it last (or alone) in
    ``init_cfg``.

    Args:
        checkpoint: Checkpoint path or URL.
        prefix: Key prefix of the backbone in the checkpoint; ignored when
            no key carries it (stripped files, torchvision checkpoints).
        exclude: Regexes of module keys that are not loaded.
        strict_shapes: Raise on shape mismatch.
        map_location: ``torch.load`` map location.
        adapt_in_channels: Regexes of conv weights (the stem) that are tiled
            over a different number of input channels instead of being
            rejected; see :func:`adapt_in_channels`.
        check_arch: Refuse a checkpoint whose recorded backbone architecture
            differs from the module (see :func:`load_pretrained_backbone`).
        trust_checkpoint: Load the file without the allow-list of
            checkpoint globals, for an old checkpoint you trust (it can run
            code); a run started with ``tools/train.py --trust-checkpoint``
            trusts it as well. See ``docs/security.md``.
        bn_stats: ``'keep'`` (default) or ``'reset'`` the BatchNorm running
            statistics read from the checkpoint (see
            :func:`load_pretrained_backbone`).
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = 'backbone.',
                 exclude: Sequence[str] = (),
                 strict_shapes: bool = True,
                 map_location: str = 'cpu',
                 adapt_in_channels: Sequence[str] = (),
                 check_arch: bool = True,
                 trust_checkpoint: bool = False,
                 bn_stats: str = 'keep') -> None:
        _check_bn_stats(bn_stats)  # at config time, not at the first load
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.exclude = tuple(exclude)
        self.adapt_in_channels = tuple(adapt_in_channels)
        self.strict_shapes = strict_shapes
        self.map_location = map_location
        self.check_arch = check_arch
        self.trust_checkpoint = trust_checkpoint
        self.bn_stats = bn_stats
        self.wholemodule = False

    @staticmethod
    def _init_children(module: nn.Module) -> None:
        """Run the children's public ``init_weights`` before loading (see
        the class docstring)."""
        for child in module.children():
            if not hasattr(child, 'init_weights') or getattr(
                    child, 'is_init', False):
                continue
            child.init_weights()
            if not getattr(child, 'is_init', False):
                child.is_init = True  # plain nn.Module with init_weights
            if hasattr(child, '_params_init_info'):
                update_init_info(
                    child,
                    init_info='Initialized by user-defined `init_weights` in '
                    f'{child.__class__.__name__} ')

    def __call__(self, module: nn.Module) -> Dict[str, Any]:
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
            adapt_in_channels_keys=self.adapt_in_channels,
            check_arch=self.check_arch,
            trust_checkpoint=self.trust_checkpoint,
            bn_stats=self.bn_stats)
        total = len(module.state_dict())
        print_log(
            f'PretrainedBackbone: loaded {len(report["loaded"])}/{total} '
            f'tensors into {type(module).__name__} from {self.checkpoint} '
            f'(prefix {self.prefix!r}; missing {len(report["missing"])}, '
            f'unexpected {len(report["unexpected"])}, excluded '
            f'{len(report["excluded"])}, shape-mismatched skipped '
            f'{len(report["mismatched"])}, input channels adapted '
            f'{len(report["adapted"])}' +
            (f', BatchNorm statistics reset {len(report["bn_reset"])}'
             if self.bn_stats == 'reset' else '') + ')',
            logger='current')
        for name in ('missing', 'unexpected', 'mismatched'):
            if report[name]:
                print_log(
                    f'PretrainedBackbone: {name} keys: {report[name][:20]}' +
                    (' ...' if len(report[name]) > 20 else ''),
                    logger='current',
                    level=logging.WARNING)
        if hasattr(module, '_params_init_info'):
            update_init_info(
                module,
                init_info=f'PretrainedBackbone: load from {self.checkpoint}')
        return report
