"""``init_model``: any trained cspr_det model (detector, 3D segmentor, 3D
classifier) from its config and checkpoint, in the spirit of mmdet's
``init_detector`` / mmseg's ``init_model``, and :func:`model_task`, the task
family that the inference functions and ``tools/infer.py`` dispatch on."""
import copy
import logging
import os.path as osp
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
from mmdet.models.detectors import BaseDetector
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from cspr_det.models.segmentors import VolumeSegmentor
from cspr_det.models.utils import load_model_checkpoint
from cspr_det.registry import DATASETS, MODELS

#: Task families of :func:`model_task`.
TASKS = ('detection', 'segmentation', 'classification')


def model_task(model: nn.Module) -> str:
    """The task family of a model: ``'detection'`` (an mmdet detector),
    ``'segmentation'`` (:class:`VolumeSegmentor`) or ``'classification'``
    (a classifier with a ``head``).

    Raises:
        ValueError: A model of none of these families.
    """
    if isinstance(model, BaseDetector):
        return 'detection'
    if isinstance(model, VolumeSegmentor):
        return 'segmentation'
    if hasattr(model, 'backbone') and hasattr(model, 'head'):
        return 'classification'
    raise ValueError(f'{type(model).__name__} is neither a detector, a '
                     'volume segmentor nor a classifier')


def _load_config(config: Union[str, Path, Config],
                 cfg_options: Optional[dict]) -> Config:
    if isinstance(config, (str, Path)):
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'config file not found: {config}')
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a file name or a Config, got '
                        f'{type(config).__name__}')
    cfg = copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _load_weights(model: nn.Module, checkpoint: str, strict: bool,
                  trust_checkpoint: bool) -> dict:
    """The one place where :func:`init_model` reads a checkpoint; returns
    its ``meta`` (empty when it has none)."""
    ckpt = load_model_checkpoint(
        model, checkpoint, strict=strict, trust_checkpoint=trust_checkpoint)
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _config_dataset_meta(cfg: Config,
                         num_classes: Optional[int]) -> Optional[dict]:
    """The ``metainfo`` of the config's test dataset, built without its
    data (``lazy_init``), when it names ``num_classes`` classes."""
    loader = cfg.get('test_dataloader') or {}
    dataset = loader.get('dataset', {}) if isinstance(loader, dict) else {}
    while isinstance(dataset, dict) and 'dataset' in dataset:
        dataset = dataset['dataset']  # wrappers
    if not isinstance(dataset, dict) or 'type' not in dataset:
        return None
    try:
        built = DATASETS.build(dict(dataset, pipeline=[], lazy_init=True))
    except (OSError, ValueError, KeyError, TypeError) as err:
        print_log(
            f'class names of the config\'s test dataset unknown '
            f'({type(err).__name__}: {err})',
            logger='current',
            level=logging.WARNING)
        return None
    meta = dict(getattr(built, 'metainfo', None) or {})
    classes = meta.get('classes')
    if classes and (num_classes is None or len(classes) == num_classes):
        return meta
    return None


def _num_classes(model: nn.Module) -> Optional[int]:
    for owner in (model, getattr(model, 'head', None)):
        n = getattr(owner, 'num_classes', None)
        if isinstance(n, int):
            return n
    return None


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True,
               trust_checkpoint: bool = False) -> nn.Module:
    """Build a model of any task family and load a checkpoint strictly.

    Args:
        config: Config file or :class:`mmengine.Config`.
        checkpoint: Checkpoint file; None keeps the random initialisation.
        device: Torch device.
        cfg_options: Overrides merged into the config.
        strict: Refuse a checkpoint whose keys or shapes do not match the
            model (see :func:`cspr_det.models.utils.
            load_model_checkpoint`); False loads the matching tensors.
        trust_checkpoint: Load the checkpoint without the allow-list of
            checkpoint globals, for an old file you trust (unpickling it
            can run code; see ``docs/security.md``).

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` (the config),
        ``task`` (see :func:`model_task`) and ``dataset_meta`` (from the
        checkpoint, else the config's test dataset; a detector without
        either gets ``classes=('lesion',)``, other models ``class_<k>``
        names).

    Raises:
        FileNotFoundError: Missing config or checkpoint.
        CheckpointMismatchError: The checkpoint does not fit the config.
        UnsafeCheckpointError: The checkpoint needs a global outside the
            allow-list and is not trusted.
    """
    cfg = _load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    meta = {}
    if checkpoint is not None:
        if not osp.isfile(str(checkpoint)) and '://' not in str(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        meta = _load_weights(model, str(checkpoint), strict, trust_checkpoint)
    task = model_task(model)
    num_classes = _num_classes(model)
    dataset_meta = meta.get('dataset_meta')
    if not dataset_meta:
        if task == 'detection':
            dataset_meta = dict(classes=('lesion', ))
        else:
            dataset_meta = _config_dataset_meta(cfg, num_classes) or dict(
                classes=tuple(f'class_{k}' for k in range(num_classes or 0)))
    model.dataset_meta = dict(dataset_meta)
    model.cfg = cfg
    model.task = task
    return model.to(device).eval()
