"""Writers of one synthetic CT series as a DeepLesion PNG folder, a NIfTI
file (stored in another orientation) and a DICOM series (shuffled file
names), and a randomly initialised demo detector saved as a checkpoint.

Every writer takes the series in DeepLesion PNG order (row k = slice
k + 1, a higher slice further toward the feet) and writes slice k at world
z = -k * dz (LPS), so the forms are one scan; read back, its canonical
(LPS) volume is ``hu[::-1]``."""
import os
import os.path as osp
import random
from typing import Sequence

import cv2
import numpy as np
import SimpleITK as sitk
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')
#: Fewer proposals: the same model, cheaper forward passes in tests.
FAST_OPTIONS = {
    'model.test_cfg.rpn.nms_pre': 100,
    'model.test_cfg.rpn.max_per_img': 50,
    'model.test_cfg.rcnn.max_per_img': 20,
}
SPACING = (0.7, 0.8, 2.5)  # x, y, z mm


def synthetic_hu(depth: int = 8,
                 height: int = 48,
                 width: int = 64,
                 seed: int = 0) -> np.ndarray:
    """(D, H, W) int16 HU: air, an elliptic body of soft tissue, a bright
    ellipsoid lesion over a few slices, integer noise."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:depth, :height, :width]
    hu = np.full((depth, height, width), -1000.0)
    body = ((x - width / 2) / (0.45 * width))**2 + \
        ((y - height / 2) / (0.42 * height))**2 <= 1
    hu[body] = 40.0
    lesion = ((x - 0.6 * width) / 6.0)**2 + ((y - 0.45 * height) / 4.0)**2 + \
        ((z - depth / 2) / 2.2)**2 <= 1
    hu[lesion] = 160.0
    hu += rng.integers(-15, 16, hu.shape)
    return hu.astype(np.int16)


def write_png_series(folder: str, hu: np.ndarray, first: int = 1) -> str:
    """Slices ``first, first + 1, ...`` as ``NNN.png`` (HU + 32768)."""
    os.makedirs(folder, exist_ok=True)
    for k, img in enumerate(hu):
        png = (img.astype(np.int32) + 32768).astype(np.uint16)
        assert cv2.imwrite(osp.join(folder, f'{first + k:03d}.png'), png)
    return folder


def write_nifti_rotated(path: str,
                        hu: np.ndarray,
                        spacing: Sequence[float] = SPACING) -> str:
    """The series ``hu`` (PNG order: row k = slice k + 1, toward the feet)
    stored with its x axis reversed and z running toward the feet
    (direction diag(-1, 1, -1)); stored slice k lies at z = -k * dz, as in
    :func:`write_png_series` and :func:`write_dicom_series`."""
    stored = np.ascontiguousarray(hu[:, :, ::-1])
    width = hu.shape[2]
    image = sitk.GetImageFromArray(stored)
    image.SetSpacing([float(v) for v in spacing])
    image.SetDirection((-1, 0, 0, 0, 1, 0, 0, 0, -1))
    # stored voxel (0, 0, 0) is the right-most column of slice 1 (z = 0)
    image.SetOrigin(((width - 1) * spacing[0], 0.0, 0.0))
    sitk.WriteImage(image, path)
    return path


def write_dicom_series(folder: str,
                       hu: np.ndarray,
                       spacing: Sequence[float] = SPACING,
                       uid: str = '1.2.826.0.1.3680043.2.1125.7.1',
                       seed: int = 1,
                       prefix: str = 'im') -> list:
    """One file per slice with RescaleIntercept -1024 (stored = HU + 1024);
    ``hu`` in DeepLesion PNG order (row k = slice k + 1, toward the feet),
    so row k lies at z = -k * dz; file names in shuffled order; returns the
    file of every row."""
    os.makedirs(folder, exist_ok=True)
    order = list(range(len(hu)))
    random.Random(seed).shuffle(order)
    files = [None] * len(hu)
    for n, k in enumerate(order):
        img = sitk.GetImageFromArray(np.ascontiguousarray(hu[k]))
        img.SetSpacing([float(spacing[0]), float(spacing[1])])
        tags = {
            '0008|0060': 'CT',
            '0020|000d': uid + '.0',
            '0020|000e': uid,
            '0008|0018': f'{uid}.{k + 1}',
            '0020|0013': str(n + 1),
            '0020|0032': f'0\\0\\{-k * spacing[2]:.4f}',
            '0020|0037': '1\\0\\0\\0\\1\\0',
            '0028|1052': '-1024',
            '0028|1053': '1',
        }
        for key, value in tags.items():
            img.SetMetaData(key, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        files[k] = osp.join(folder, f'{prefix}{n:03d}.dcm')
        writer.SetFileName(files[k])
        writer.Execute(img)
    return files


def save_random_detector(path: str, seed: int = 0) -> str:
    """The demo detector, randomly initialised under ``seed``, saved with
    mmengine's checkpoint layout."""
    from cspr_det.apis import init_detector
    torch.manual_seed(seed)
    model = init_detector(DEMO, None, cfg_options=FAST_OPTIONS)
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=('lesion', )))), path)
    return path


def write_dicom_from_image(folder: str,
                           image: sitk.Image,
                           uid: str = '1.2.826.0.1.3680043.2.1125.9.1',
                           intercept: int = -1024) -> list:
    """A 3D SimpleITK image (integer HU) as a DICOM CT series: one file per
    slice with its ImagePositionPatient / ImageOrientationPatient from the
    image geometry (any direction, oblique included) and RescaleIntercept
    ``intercept`` (ITK's writer stores HU - ``intercept``); file names in
    reverse slice order. Returns the files."""
    os.makedirs(folder, exist_ok=True)
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    iop = '\\'.join(f'{v:.10f}'
                    for v in list(direction[:, 0]) + list(direction[:, 1]))
    array = sitk.GetArrayFromImage(image)
    assert np.array_equal(array, np.round(array)), 'integer HU expected'
    files = []
    depth = image.GetSize()[2]
    for k in range(depth):
        img = sitk.GetImageFromArray(array[k].astype(np.int16))
        img.SetSpacing(image.GetSpacing()[:2])
        ipp = image.TransformIndexToPhysicalPoint((0, 0, k))
        tags = {
            '0008|0060': 'CT',
            '0020|000d': uid + '.0',
            '0020|000e': uid,
            '0008|0018': f'{uid}.{k + 1}',
            '0020|0013': str(k + 1),
            '0020|0032': '\\'.join(f'{v:.10f}' for v in ipp),
            '0020|0037': iop,
            '0028|1052': str(intercept),
            '0028|1053': '1',
        }
        for key, value in tags.items():
            img.SetMetaData(key, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        path = osp.join(folder, f'slice{depth - 1 - k:04d}.dcm')
        writer.SetFileName(path)
        writer.Execute(img)
        files.append(path)
    return files
