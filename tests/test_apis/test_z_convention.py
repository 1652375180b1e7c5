"""One z convention: the same synthetic DeepLesion series written as a PNG
folder, by both NIH NIfTI conversion scripts (reimplemented here from their
published conventions), as a DICOM series and as NIfTI files flipped in z
gives identical 2D detections and 3D candidates, with stacks in the order
the detector was trained on (PNG slice-number order, head to feet)."""
import os.path as osp

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from cspr_det.apis import (SliceStacker, config_test_pipeline, inference_ct,
                           init_detector)
from cspr_det.fileio import read_ct_volume, slice_numbers
from ct_fixtures import (DEMO, FAST_OPTIONS, synthetic_hu, write_dicom_series,
                         write_nifti_rotated, write_png_series)

SX, SZ = 0.8, 2.5  # DeepLesion pixels are square
SPACING = (SX, SX, SZ)
DEPTH = 5

#: Fields of a candidate in world coordinates.
WORLD = ('center_mm', 'corners_mm')


def nih_2018_nifti(path: str, hu: np.ndarray) -> str:
    """``DL_save_nifti.py`` (2018): the slices in PNG order as the third
    axis of an (H, W, S) int16 array, nibabel affine
    ``[[0, -sy, 0, 0], [-sx, 0, 0, 0], [0, 0, -sz, 0], [0, 0, 0, 1]]``."""
    data = np.ascontiguousarray(np.transpose(hu, (1, 2, 0))).astype(np.int16)
    affine = np.array(
        [[0, -SX, 0, 0], [-SX, 0, 0, 0], [0, 0, -SZ, 0], [0, 0, 0, 1]],
        np.float64)
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def nih_2020_nifti(path: str, hu: np.ndarray) -> str:
    """The 2020 (LENS) version: slices reversed (``V[::-1]``), written with
    SimpleITK, identity direction, spacing (sx, sy, sz), origin 0."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(hu[::-1]))
    image.SetSpacing(SPACING)
    image.SetOrigin((0.0, 0.0, 0.0))
    image.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, 1))
    sitk.WriteImage(image, path)
    return path


def stored_in_png_order(path: str, hu: np.ndarray) -> str:
    """The canonical volume flipped in z: stored in PNG order with the slice
    axis toward the feet (direction diag(1, 1, -1))."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(hu))
    image.SetSpacing(SPACING)
    image.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, -1))
    sitk.WriteImage(image, path)
    return path


@pytest.fixture(scope='module')
def forms(tmp_path_factory):
    root = tmp_path_factory.mktemp('zconv')
    hu = synthetic_hu(depth=DEPTH, seed=7)  # PNG order: row k = slice k+1
    write_dicom_series(str(root / 'dcm'), hu, SPACING)  # row k at -k * dz
    return hu, dict(
        png=write_png_series(str(root / '000001_01_01'), hu),
        nih2018=nih_2018_nifti(str(root / '000001_01_01_001-005.nii.gz'), hu),
        nih2020=nih_2020_nifti(str(root / 'lens_2020.nii.gz'), hu),
        dicom=str(root / 'dcm'),
        flipped_z=stored_in_png_order(str(root / 'flipped.nii.gz'), hu),
        flipped_xz=write_nifti_rotated(
            str(root / 'rotated.nii.gz'), hu, SPACING))


def test_every_form_reads_as_one_volume(forms):
    hu, paths = forms
    canonical = hu[::-1].astype(np.float32)  # row 0: the last PNG slice
    for name, path in paths.items():
        vol = read_ct_volume(path, spacing=SPACING if name == 'png' else None)
        np.testing.assert_array_equal(vol.hu, canonical, err_msg=name)
        assert vol.spacing == pytest.approx(SPACING, abs=1e-5), name
        np.testing.assert_allclose(
            vol.direction, np.eye(3).ravel(), atol=1e-6, err_msg=name)
    png = read_ct_volume(paths['png'], spacing=SPACING)
    assert png.source['orientation'] == 'LPI'
    np.testing.assert_array_equal(slice_numbers(png), np.arange(DEPTH, 0, -1))
    # slice n at z = -(n - 1) * dz, the 2018 NIfTI's frame
    nii = read_ct_volume(paths['nih2018'])
    np.testing.assert_allclose(png.origin, nii.origin, atol=1e-4)
    np.testing.assert_allclose(png.origin, (0, 0, -(DEPTH - 1) * SZ))


def test_stacks_follow_the_training_order(forms):
    """The stack of every slice of the 2020 NIfTI (stored feet to head)
    equals the test pipeline (training loader) on the PNG files."""
    hu, paths = forms
    init_default_scope('mmdet')
    pipeline = config_test_pipeline(Config.fromfile(DEMO))
    pipeline[0].update(num_slices=5, slice_interval=None)
    reference = Compose(pipeline)
    vol = read_ct_volume(paths['nih2020'])
    stacker = SliceStacker(vol, pipeline, fast=False)
    assert not stacker.toward_feet  # canonical rows run toward the head
    for row in range(DEPTH):
        number = DEPTH - row
        packed = reference(
            dict(
                img_path=osp.join(paths['png'], f'{number:03d}.png'),
                key_slice=number,
                slice_interval=SZ,
                slice_range=[1, DEPTH]))
        sample = stacker(row)
        np.testing.assert_array_equal(sample['inputs'].numpy(),
                                      packed['inputs'].numpy())


@pytest.fixture(scope='module')
def model(random_detector):
    # the demo detector at the slices' own size (no upscaling): cheaper
    options = dict(FAST_OPTIONS)
    options['test_dataloader.dataset.pipeline.1.scale'] = (64, 64)
    return init_detector(DEMO, random_detector, cfg_options=options)


def test_every_form_gives_identical_detections(forms, model):
    hu, paths = forms
    results = {
        name:
        inference_ct(
            model,
            path,
            score_thr=0.0,
            top_k=None,
            spacing=SPACING if name == 'png' else None)
        for name, path in paths.items() if name != 'flipped_xz'
    }
    ref = results['png']
    assert len(ref.detections['rows']) > 0 and len(ref.candidates) > 1
    for name, res in results.items():
        for key in ('rows', 'boxes', 'scores', 'labels', 'candidate'):
            np.testing.assert_array_equal(
                res.detections[key],
                ref.detections[key],
                err_msg=f'{name} {key}')
        assert len(res.candidates) == len(ref.candidates)
        for cand, expected in zip(res.candidates, ref.candidates):
            for key, value in expected.items():
                if key in WORLD or key in ('best_slice_name',
                                           'center_source_index'):
                    continue
                assert cand[key] == value, (name, key)
            # world coordinates: one frame, except the 2020 file whose
            # origin is its last slice (a shift of (D - 1) * dz in z)
            shift = (DEPTH - 1) * SZ if name == 'nih2020' else 0.0
            centre = np.asarray(expected['center_mm']) + [0, 0, shift]
            np.testing.assert_allclose(cand['center_mm'], centre, atol=1e-4)
    # the PNG names follow the rows: slice n is row D - n
    names = [c['best_slice_name'] for c in ref.candidates]
    assert names == [
        f'{DEPTH - c["best_slice"]:03d}.png' for c in ref.candidates
    ]
