"""Shared command-line helpers of ``tools/train.py`` and ``tools/test.py``:
options, config loading with overrides, data-root checks and the Runner
run (with the strict ``load_from`` check and the checkpoint trust scope)."""
import os
import os.path as osp
from typing import Iterable

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from cspr_det.engine.hooks import CheckpointCheckHook
from cspr_det.utils.checkpoint_loading import trusted_checkpoints
from cspr_det.utils.dist import setup_cpu_distributed, teardown_cpu_distributed
from .errors import CLIError


def add_common_args(parser) -> None:
    """Options shared by train and test entry points (positionals are added
    by each tool)."""
    parser.add_argument(
        '--work-dir', help='directory for logs and checkpoints')
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
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoints of this run (load_from, --resume, '
        'init_cfg pre-training) without the allow-list of checkpoint '
        'globals: for old files you trust only, since unpickling them can '
        'run code (see docs/security.md)')
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
                    load_hint: str = '',
                    trust_checkpoint: bool = False) -> None:
    """Build mmengine's Runner from ``cfg`` (``runner_type`` honoured) and
    call ``runner.train()`` or ``runner.test()`` (``mode``), with the CPU
    (gloo) process group set up before and destroyed after when needed.

    When the run loads ``cfg.load_from`` (and does not resume), a
    :class:`~cspr_det.engine.hooks.CheckpointCheckHook` checks the
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
        trust_checkpoint: Build and run the Runner inside
            :func:`~cspr_det.utils.checkpoint_loading.trusted_checkpoints`:
            every checkpoint the run loads (``load_from``, resume,
            ``init_cfg``) is unpickled without the allow-list.
    """
    own_group = setup_cpu_distributed(cfg, launcher)
    finished = False
    try:
        with trusted_checkpoints(trust_checkpoint):
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
