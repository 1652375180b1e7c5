"""Distributed set-up that also works on CPU-only machines.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and the
default ``MMDistributedDataParallel`` wrapper passes
``device_ids=[LOCAL_RANK]``; both fail without CUDA. On CPU we create the gloo
process group ourselves before the Runner is built (mmengine then skips its
own initialisation) and make DDP run without device ids.
"""
import logging
import os
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config

# set once this process has joined a CPU (gloo) group; see exit_process
_cpu_group_used = False


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` for multi-process CPU training if needed.

    Args:
        cfg: The config; ``env_cfg.dist_cfg`` and ``model_wrapper_cfg`` are
            updated in place on CPU.
        launcher: 'none', 'pytorch', 'slurm' or 'mpi'.

    Returns:
        True when a CPU (gloo) process group was initialised here.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'slurm' and 'RANK' not in os.environ:
        os.environ.setdefault('RANK', os.environ.get('SLURM_PROCID', '0'))
        os.environ.setdefault('WORLD_SIZE',
                              os.environ.get('SLURM_NTASKS', '1'))
        os.environ.setdefault('LOCAL_RANK',
                              os.environ.get('SLURM_LOCALID', '0'))
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    global _cpu_group_used
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    _cpu_group_used = True
    env_cfg = cfg.get('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    cfg.env_cfg = env_cfg
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper
    return True


def teardown_cpu_distributed(own_group: bool, barrier: bool = False) -> None:
    """Destroy the process group created by :func:`setup_cpu_distributed`.

    Args:
        own_group: What :func:`setup_cpu_distributed` returned.
        barrier: Wait for every rank first (after a successful run, so that
            no rank leaves while another is still in a collective or saving
            a checkpoint; not after a failure, where a peer may be gone).
    """
    if own_group and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def exit_process(code: int) -> None:
    """Exit with ``code``; after CPU (gloo) distributed work, skip the
    interpreter's teardown.

    A gloo process can still abort at interpreter shutdown ("terminate called
    without an active exception", exit status -6 and the launcher killing the
    other ranks) after a run that finished and destroyed its process group:
    C++ objects of torch.distributed are freed during finalisation. After
    such a run, stdout, stderr and the logging handlers are flushed and the
    process leaves with ``os._exit``; otherwise this is ``sys.exit``.
    """
    if not _cpu_group_used:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    os._exit(code)
