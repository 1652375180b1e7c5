"""Tiny models and scans of the segmentation and nodule inference tests: the
synthetic-LiTS demo segmentor and the synthetic-LIDC demo classifier at a
few channels, randomly initialised and saved as checkpoints, and a CT volume
holding a stored LIDC nodule crop at a known place."""
import os.path as osp
from typing import Tuple

import numpy as np
import SimpleITK as sitk
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CONFIG = osp.join(
    REPO, 'configs', 'segmentation', 'lits',
    'unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py')
CLS_CONFIG = osp.join(REPO, 'configs', 'classification', 'lidc',
                      'resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py')
#: The synthetic LIDC crops' storage window (HU -> 0-255).
VOXEL_WINDOW = (-1024.0, 400.0)


def tiny_seg_config(converted: str,
                    target_spacing=(8.0, None, None),
                    work_dir: str = '') -> Config:
    """The synthetic-LiTS demo config at 1/4 of its width on a converted
    tiny LiTS (``tests/seg_fixtures.py``), sliding windows smaller than the
    volumes, single-process loaders."""
    cfg = Config.fromfile(SEG_CONFIG)
    cfg.merge_from_dict({
        'model.backbone.base_channels': 4,
        'model.neck.in_channels': (4, 4, 8, 16, 32),
        'model.neck.channels': (4, 4, 8, 16, 32),
        'model.decode_head.in_channels': 4,
        'model.decode_head.channels': 4,
        'model.test_cfg.window': (16, 32, 32),
        'model.test_cfg.stride': (8, 16, 16),
        'target_spacing': target_spacing,
    })
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = converted
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    if work_dir:
        cfg.work_dir = work_dir
    return cfg


def tiny_cls_config() -> Config:
    """The synthetic-LIDC demo classifier at 4 base channels."""
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.merge_from_dict({
        'model.backbone.base_channels': 4,
        'model.head.in_channels': 32,
    })
    return cfg


def save_random(model: torch.nn.Module,
                path: str,
                dataset_meta=None,
                bias=None) -> str:
    """Save a (randomly initialised) ``model`` in mmengine's layout;
    ``bias`` (per class) replaces the last layer's bias so that a random
    model predicts more than one class."""
    state = model.state_dict()
    if bias is not None:
        key = [k for k in state if k.endswith('.bias')][-1]
        state[key] = torch.as_tensor(bias, dtype=state[key].dtype)
        model.load_state_dict(state)
    meta = dict(dataset_meta=dict(dataset_meta)) if dataset_meta else {}
    torch.save(dict(state_dict=state, meta=meta), path)
    return path


def embed_crop(
    voxel: np.ndarray, path: str, offset=(5, 6, 4),
    pad=(10, 12, 8)) -> Tuple[str, np.ndarray]:
    """Write a float32 NIfTI (1 mm, stored with x and z reversed, origin
    away from 0) whose canonical array holds the HU of a uint8 crop
    ``voxel`` at ``offset`` (z, y, x) in air.

    Returns:
        tuple: The path and the canonical (z, y, x) index of the crop's
        voxel (0, 0, 0).
    """
    lo, hi = VOXEL_WINDOW
    shape = tuple(n + p for n, p in zip(voxel.shape, pad))
    canon = np.full(shape, lo, np.float32)
    hu = lo + voxel.astype(np.float32) * ((hi - lo) / 255.0)
    z, y, x = offset
    d, h, w = voxel.shape
    canon[z:z + d, y:y + h, x:x + w] = hu
    stored = np.ascontiguousarray(canon[::-1, :, ::-1])
    image = sitk.GetImageFromArray(stored)
    image.SetSpacing((1.0, 1.0, 1.0))
    image.SetDirection((-1, 0, 0, 0, 1, 0, 0, 0, -1))
    # stored voxel (0, 0, 0) is canonical voxel (W - 1, 0, D - 1); the
    # canonical origin is then (-30, -40, 50) mm
    image.SetOrigin((-30.0 + shape[2] - 1, -40.0, 50.0 + shape[0] - 1))
    sitk.WriteImage(image, path)
    return path, np.asarray(offset)
