"""Shared command-line helpers of ``tools/train.py`` and ``tools/test.py``:
config loading with overrides and one-line errors for bad input."""
import os
import os.path as osp
import sys
import traceback
from typing import Callable, Iterable, Optional

from mmengine.config import Config, DictAction

from cspr_det.engine.hooks.non_finite_loss_hook import NonFiniteLossError
from cspr_det.utils.checkpoint import CheckpointMismatchError

# Exceptions that mean "the user gave something wrong" rather than a bug.
USER_ERRORS = (FileNotFoundError, NotADirectoryError, KeyError, ValueError,
               ImportError, TypeError)


class CLIError(Exception):
    """An error whose message is shown alone, without a traceback."""


def add_common_args(parser) -> None:
    """Options shared by train and test entry points (positionals are added
    by each tool)."""
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show full tracebacks instead of one-line errors')


def load_config(args) -> Config:
    """Load ``args.config``, apply ``--cfg-options`` and set the work dir
    (``--work-dir`` > config ``work_dir`` > ``./work_dirs/<config name>``)."""
    if not osp.isfile(args.config):
        raise CLIError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return cfg


def _iter_dataset_cfgs(cfg: Config, keys: Iterable[str]):
    for key in keys:
        loader = cfg.get(key)
        if not loader:
            continue
        dataset = loader.get('dataset', {})
        while isinstance(dataset, dict) and 'dataset' in dataset:
            dataset = dataset['dataset']  # wrappers (RepeatDataset, ...)
        if isinstance(dataset, dict):
            yield key, dataset


def check_data_roots(cfg: Config, keys: Iterable[str]) -> None:
    """Raise :class:`CLIError` when a dataset's ``data_root`` is missing."""
    for key, dataset in _iter_dataset_cfgs(cfg, keys):
        root = dataset.get('data_root')
        if root and not osp.isdir(root):
            raise CLIError(
                f'data root of {key} not found: {root} (prepare the data as '
                'described in the README, or set it with --cfg-options '
                f'{key}.dataset.data_root=PATH)')


def run_with_runner(cfg: Config,
                    launcher: str,
                    mode: str,
                    load_strict: bool = False,
                    load_check_arch: bool = True,
                    load_hint: str = '') -> None:
    """Build mmengine's Runner from ``cfg`` (``runner_type`` honoured) and
    call ``runner.train()`` or ``runner.test()`` (``mode``), with the CPU
    (gloo) process group set up before and destroyed after when needed.

    When the run loads ``cfg.load_from`` (and does not resume), a
    :class:`~cspr_det.utils.checkpoint.CheckpointCheckHook` checks the
    checkpoint against the model before mmengine loads it.

    Args:
        cfg: The config.
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        mode: ``'train'`` or ``'test'``.
        load_strict: Refuse a ``load_from`` checkpoint with missing,
            unexpected or shape-mismatched keys (else warn once).
        load_check_arch: Refuse a ``load_from`` checkpoint whose recorded
            backbone architecture differs from the model's (else warn).
        load_hint: Appended to the refusal message.
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from cspr_det.utils.checkpoint import CheckpointCheckHook
    from cspr_det.utils.dist import (setup_cpu_distributed,
                                     teardown_cpu_distributed)
    own_group = setup_cpu_distributed(cfg, launcher)
    finished = False
    try:
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg \
            else Runner.from_cfg(cfg)
        if cfg.get('load_from') and not cfg.get('resume', False):
            runner.register_hook(
                CheckpointCheckHook(
                    str(cfg.load_from),
                    strict=load_strict,
                    check_arch=load_check_arch,
                    hint=load_hint),
                priority='VERY_HIGH')
        getattr(runner, mode)()
        finished = True
    finally:
        teardown_cpu_distributed(own_group, barrier=finished)


def run_cli(main: Callable[[], Optional[int]], debug: bool = False) -> None:
    """Run ``main``; show bad-input errors as one line and exit non-zero
    (through :func:`cspr_det.utils.dist.exit_process`)."""
    from cspr_det.utils.dist import exit_process
    try:
        code = main()
    except CLIError as exc:
        print(f'error: {exc}', file=sys.stderr)
        exit_process(2)
    except NonFiniteLossError as exc:
        print(f'error: {exc}', file=sys.stderr)
        exit_process(3)
    except CheckpointMismatchError as exc:
        print(f'error: {exc}', file=sys.stderr)
        exit_process(1)
    except USER_ERRORS as exc:
        if debug or os.environ.get('CSPR_DET_DEBUG'):
            traceback.print_exc()
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        msg = str(text).strip().strip('"\'').splitlines()
        print(f'error: {type(exc).__name__}: {msg[0] if msg else exc!r} '
              '(run with --debug for the traceback)', file=sys.stderr)
        exit_process(1)
    exit_process(code or 0)
