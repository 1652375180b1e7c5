"""The one place where cspr_det unpickles a checkpoint file, and what it
accepts.

A ``.pth`` file is a pickle, and unpickling a pickle can call any function
it names: a downloaded checkpoint could run code on load. torch >= 2.6
therefore loads with ``weights_only=True`` by default, which only rebuilds
tensors and plain containers. mmengine's own checkpoints need a few more
objects (the message hub's ``HistoryBuffer`` with numpy arrays, numpy
scalars and dtypes; config objects that some runs keep), so mmengine 0.10.x
cannot read them under that default.

:func:`load_local_checkpoint` loads with ``weights_only=True`` plus
:func:`checkpoint_safe_globals` (the allow-list, below), added with
``torch.serialization.safe_globals`` for the duration of that one call only
(never process-wide). A file that needs anything else is refused with
:class:`UnsafeCheckpointError`: one line naming the refused global(s) and the
file, and saying how to load it if the file is trusted. Trust is explicit
and scoped: ``with trusted_checkpoints():`` (what ``--trust-checkpoint`` on
the tools and ``trust_checkpoint=True`` on the APIs open) loads the files
read inside it with ``weights_only=False``. There is no environment variable
or global switch.

:func:`register_checkpoint_loader` (called when ``cspr_det`` is imported)
makes mmengine's ``CheckpointLoader`` use this loader for local paths and
for the downloaded files of ``http(s)://``, ``torchvision://``,
``open-mmlab://`` and ``mmcls://`` names, so ``load_from``, ``--resume``,
``init_cfg`` (``Pretrained`` and ``cspr_det.PretrainedBackbone``), the tools
and the converters all load through it. (mmengine's other schemes,
``pavi://``, ``s3://`` and ``petrel://``, call ``torch.load`` with torch's
``weights_only`` default.)

The allow-list (see ``docs/security.md``):

- ``mmengine.config.config.Config``, ``mmengine.config.config.ConfigDict``
  (config objects that hooks, datasets or scripts keep in ``meta`` or in the
  message hub's runtime info);
- ``mmengine.logging.history_buffer.HistoryBuffer`` (the message hub's
  logged scalars) and, under the name ``builtins.getattr``,
  :func:`history_buffer_getattr`, which only returns its four statistics
  methods (``min``, ``max``, ``current``, ``mean``) that its state holds;
- numpy arrays, scalars and dtypes: ``numpy.core.multiarray._reconstruct``,
  ``numpy.ndarray``, ``numpy.core.multiarray.scalar``, ``numpy.dtype`` and
  the dtype classes of ``numpy.dtypes`` (the ``numpy._core`` names of
  numpy 2 are accepted as well);
- ``collections.OrderedDict``, ``set`` and the rest of torch's own
  ``weights_only`` defaults (tensors, storages, plain containers).

None of them runs code of the file's choosing when it is rebuilt: they are
data containers whose reconstruction only sets attributes or copies bytes;
every object inside them goes through the same allow-list.
"""
import collections
import contextlib
import contextvars
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import (CheckpointLoader, _get_mmengine_home,
                                        _process_mmcls_checkpoint,
                                        get_deprecated_model_names,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)
from torch.hub import download_url_to_file, get_dir

from .user_input_error import UserInputError

SafeGlobal = Union[Callable, Tuple[Callable, str]]

# What a refusal says about trusted files (the tools and APIs that load
# checkpoints all take one of these).
TRUST_HINT = ('if you trust this file, load it with --trust-checkpoint (the '
              'tools) or trust_checkpoint=True (the Python APIs); see '
              'docs/security.md')

_TRUSTED = contextvars.ContextVar(
    'cspr_det_trusted_checkpoints', default=False)


class UnsafeCheckpointError(UserInputError, pickle.UnpicklingError):
    """A checkpoint needs a global that is not on the allow-list.

    Attributes:
        filename: The checkpoint file.
        refused: The refused globals (``module.name``).
    """

    def __init__(self, filename: str, refused: List[str]) -> None:
        self.filename = filename
        self.refused = list(refused)
        names = ', '.join(
            self.refused[:5]) + (f' (and {len(self.refused) - 5} more)'
                                 if len(self.refused) > 5 else '')
        super().__init__(
            f'refused to load checkpoint {filename}: it needs {names}, '
            'which is not on the allow-list of checkpoint globals '
            '(unpickling it could run code); ' + TRUST_HINT)


def _numpy_core() -> Any:
    """numpy's ``core.multiarray`` module (``_core`` in numpy 2)."""
    core = getattr(np, '_core', None)
    if core is None or not hasattr(core, 'multiarray'):
        core = np.core
    return core.multiarray


# The statistics methods that mmengine's HistoryBuffer pickles (its state
# holds them; pickle writes each as ``getattr(HistoryBuffer, name)``).
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """The ``builtins.getattr`` of the allow-list: only the statistics
    methods of mmengine's ``HistoryBuffer``. A general ``getattr`` would let
    a pickle reach any attribute of an allowed class (and call it).

    Raises:
        pickle.UnpicklingError: Any other object or attribute.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    owner = getattr(obj, '__qualname__', type(obj).__name__)
    module = getattr(obj, '__module__', None) or type(obj).__module__
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL {module}.{owner}.{name} (through '
        'builtins.getattr)')


def checkpoint_safe_globals() -> List[SafeGlobal]:
    """The allow-list: the globals mmengine and cspr_det checkpoints need
    beyond torch's own ``weights_only`` defaults (see the module docstring).

    Returns:
        list: Classes and functions, and ``(object, 'module.name')`` pairs
        for the names another numpy version writes, in the form
        ``torch.serialization.safe_globals`` takes.
    """
    multiarray = _numpy_core()
    allowed: List[SafeGlobal] = [
        Config, ConfigDict, HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'), collections.OrderedDict,
        set, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar
    ]
    for other in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        for func in (multiarray._reconstruct, multiarray.scalar):
            if func.__module__ != other:
                allowed.append((func, f'{other}.{func.__name__}'))
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:  # numpy >= 1.25: one class per dtype
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes) if
            name.endswith('DType') and isinstance(getattr(dtypes, name), type)
        ]
    return allowed


def checkpoint_safe_global_names() -> List[str]:
    """The allow-list as the ``module.name`` strings a pickle refers to
    (sorted)."""
    names = set()
    for item in checkpoint_safe_globals():
        if isinstance(item, tuple):
            names.add(item[1])
        else:
            names.add(f'{item.__module__}.{item.__qualname__}')
    return sorted(names)


def checkpoint_trusted() -> bool:
    """Whether the caller is inside :func:`trusted_checkpoints`."""
    return _TRUSTED.get()


@contextlib.contextmanager
def trusted_checkpoints(trust: bool = True) -> Iterator[None]:
    """Load the checkpoint files read inside this block without the
    allow-list (``weights_only=False``): only for files you trust.

    The trust is scoped to the block (and to this thread / context); with
    ``trust=False`` the block changes nothing, so an inner API call with its
    default ``trust_checkpoint=False`` keeps an outer block's trust.

    Args:
        trust: Open the trusted scope (False: no-op).
    """
    token = _TRUSTED.set(_TRUSTED.get() or bool(trust))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def _refused_globals(filename: str, error: Exception) -> List[str]:
    """The globals of ``filename`` outside the allow-list (a static scan of
    the pickle; else the one named by torch's error)."""
    refused: List[str] = []
    try:
        refused = sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # noqa: BLE001  legacy (non-zip) format: no scan
        refused = []
    if not refused:
        match = re.search(r'GLOBAL (\S+)', str(error)) or re.search(
            r'unrecognized function (.+?)(?: which belongs|$)', str(error),
            re.M)
        refused = [
            match.group(1) if match else str(error).strip().splitlines()[0]
        ]
    return refused


def _new_safe_globals() -> List[SafeGlobal]:
    """The allow-list minus what is already registered process-wide, so
    that leaving the scope never removes someone else's registration."""
    present = set(torch.serialization.get_safe_globals())
    return [g for g in checkpoint_safe_globals() if g not in present]


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None,
                          trust: Optional[bool] = None) -> Any:
    """Load a local checkpoint file written by mmengine or ``torch.save``.

    Args:
        filename: Path of the checkpoint (``~`` is expanded).
        map_location: Same as in :func:`torch.load`.
        trust: Load with ``weights_only=False`` (the file can run code: only
            for trusted files). None: as :func:`trusted_checkpoints` says.

    Returns:
        The unpickled checkpoint (usually a dict with ``state_dict`` and
        ``meta``).

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file needs a global outside the
            allow-list (and is not trusted).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if checkpoint_trusted() if trust is None else trust:
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    with torch.serialization.safe_globals(_new_safe_globals()):
        try:
            return torch.load(
                filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            refused = _refused_globals(filename, exc)
    raise UnsafeCheckpointError(filename, refused)


def load_url_checkpoint(filename: str,
                        map_location: Optional[Any] = None,
                        model_dir: Optional[str] = None,
                        progress: bool = False) -> Any:
    """Download an ``http(s)://`` checkpoint into torch's hub cache (once)
    and load the cached file with :func:`load_local_checkpoint`.

    In a distributed run, local rank 0 downloads first and the others wait.
    """
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(filename).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        os.makedirs(model_dir, exist_ok=True)
        download_url_to_file(filename, cached, progress=progress)
    if world_size > 1:
        barrier()
    return load_local_checkpoint(cached, map_location)


def load_torchvision_checkpoint(filename: str,
                                map_location: Optional[Any] = None) -> Any:
    """``torchvision://NAME`` (or ``modelzoo://NAME``): torchvision's
    ImageNet weights, through :func:`load_url_checkpoint`."""
    name = filename.split('://', 1)[1]
    urls = get_torchvision_models()
    if name not in urls:
        raise FileNotFoundError(f'{filename}: torchvision has no model '
                                f'{name!r}')
    return load_url_checkpoint(urls[name], map_location)


def load_model_zoo_checkpoint(filename: str,
                              map_location: Optional[Any] = None) -> Any:
    """``open-mmlab://NAME`` and ``mmcls://NAME``: mmengine's model-zoo
    names, resolved with mmengine's tables and loaded through
    :func:`load_url_checkpoint` / :func:`load_local_checkpoint`."""
    scheme, name = filename.split('://', 1)
    if scheme == 'mmcls':
        urls = get_mmcls_models()
    else:
        urls = get_external_models()
        name = get_deprecated_model_names().get(name, name)
    if name not in urls:
        raise FileNotFoundError(f'{filename}: no such model in mmengine\'s '
                                f'{scheme} table')
    url = urls[name]
    if url.startswith(('http://', 'https://')):
        checkpoint = load_url_checkpoint(url, map_location)
    else:  # a file under mmengine's home, as mmengine resolves it
        checkpoint = load_local_checkpoint(
            osp.join(_get_mmengine_home(), url), map_location)
    if scheme == 'mmcls':
        checkpoint = _process_mmcls_checkpoint(checkpoint)
    return checkpoint


def register_checkpoint_loader() -> None:
    """Make mmengine's ``CheckpointLoader`` (``load_checkpoint``,
    ``--resume``, ``load_from``, ``init_cfg``) use
    :func:`load_local_checkpoint` for local paths,
    :func:`load_url_checkpoint` for ``http(s)://`` URLs,
    :func:`load_torchvision_checkpoint` for ``torchvision://`` and
    :func:`load_model_zoo_checkpoint` for ``open-mmlab://`` and
    ``mmcls://`` (mmengine's own loaders for these download with
    ``weights_only=False``). Idempotent."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_url_checkpoint,
        force=True)
    CheckpointLoader.register_scheme(
        prefixes=('torchvision://', 'modelzoo://'),
        loader=load_torchvision_checkpoint,
        force=True)
    CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://', 'mmcls://'),
        loader=load_model_zoo_checkpoint,
        force=True)
