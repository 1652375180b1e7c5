"""inference_volume: a tiny LiTS segmentor on a raw synthetic scan gives the
labels that tools/test.py writes for the same converted case, on the scan's
own grid; volumes, probabilities and bad input."""
import json
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from cspr_det.apis import (CTVolume, inference_volume, init_model,
                           read_ct_volume)
from cspr_det.fileio import VolumeError
from ct_fixtures import write_dicom_series, write_png_series
from infer_fixtures import REPO, save_random, tiny_seg_config
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool

#: Head bias of the random model: liver a little more likely, so that the
#: prediction holds both classes.
BIAS = (0.0, 0.05)

#: Conversions of the tiny LiTS: as the shared fixture (8 mm slices, the
#: scans' own) and resampled on every axis (the model then works on another
#: grid than the scan's and its labels are resampled back).
SPACINGS = dict(native=None, resampled=('6', '12', '10'))


def _setup(tmp_path_factory, spacing):
    data = tiny_seg_dataset(tmp_path_factory, 'lits')
    root = tmp_path_factory.mktemp('seg_infer')
    converted, target = data['converted'], (8.0, None, None)
    if spacing is not None:
        converted = str(root / 'converted')
        tool = load_tool('tools/dataset_converters/lits.py')
        assert tool.main([
            data['raw'], converted, '--spacing', *spacing, '--split-file',
            data['split']
        ]) == 0
        target = tuple(float(v) for v in spacing)
    with open(osp.join(converted, 'index.json')) as f:
        index = json.load(f)
    # one test case (a few seconds per case on a busy 2-core machine)
    tests = [c for c in index['cases'] if c['split'] == 'test'][:1]
    cfg = tiny_seg_config(converted, target, work_dir=str(root / 'work'))
    cfg.test_dataloader.dataset.case_ids = [c['case_id'] for c in tests]
    config = str(root / 'tiny_lits.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = init_model(config)
    ckpt = save_random(model, str(root / 'tiny_lits.pth'),
                       dict(classes=('background', 'liver')), BIAS)
    raw = {
        c['case_id']: osp.join(index['raw_root'], c['source']['image'])
        for c in tests
    }
    shapes = {c['case_id']: tuple(c['shape']) for c in tests}
    return dict(
        data=data,
        config=config,
        ckpt=ckpt,
        root=root,
        raw=raw,
        target=target,
        shapes=shapes)


@pytest.fixture(scope='module')
def seg_setup(tmp_path_factory):
    return _setup(tmp_path_factory, None)


def _test_py(setup):
    """tools/test.py's predictions (SegPredictionWriterHook, NIfTI in the
    source geometry) of the test cases."""
    tool = load_tool('tools/test.py')
    work = str(setup['root'] / 'work')
    assert tool.main(
        tool.parse_args([setup['config'], setup['ckpt'], '--work-dir',
                         work])) == 0
    return {
        case: osp.join(work, 'predictions', f'{case}.nii.gz')
        for case in setup['raw']
    }


@pytest.mark.parametrize('conversion', sorted(SPACINGS))
def test_equal_to_test_py(tmp_path_factory, seg_setup, conversion):
    setup = seg_setup if SPACINGS[conversion] is None else \
        _setup(tmp_path_factory, SPACINGS[conversion])
    predictions = _test_py(setup)
    model = init_model(setup['config'], setup['ckpt'])
    assert model.task == 'segmentation'
    assert model.dataset_meta['classes'] == ('background', 'liver')
    for case, raw in setup['raw'].items():
        result = inference_volume(model, raw)
        expected = sitk.ReadImage(predictions[case])
        got = result.label_image
        # the input's own geometry, voxel for voxel the test.py labels
        src = sitk.ReadImage(raw)
        assert got.GetSize() == src.GetSize() == expected.GetSize()
        np.testing.assert_allclose(got.GetOrigin(), src.GetOrigin(), atol=1e-5)
        np.testing.assert_allclose(
            got.GetDirection(), src.GetDirection(), atol=1e-6)
        np.testing.assert_allclose(
            got.GetSpacing(), src.GetSpacing(), rtol=1e-6)
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(got), sitk.GetArrayFromImage(expected))
        # canonical labels: the volume's grid, same counts
        assert result.labels.shape == result.volume.hu.shape
        counts = np.bincount(
            sitk.GetArrayFromImage(expected).ravel(), minlength=2)
        vols = result.label_volumes()
        assert [v['voxels'] for v in vols] == counts.tolist()
        voxel_ml = np.prod(src.GetSpacing()) / 1000.0
        assert vols[1]['volume_ml'] == pytest.approx(counts[1] * voxel_ml)
        assert vols[1]['class_name'] == 'liver'
        # the model ran on the converted grid
        assert result.model_shape == setup['shapes'][case]
        assert [
            result.model_spacing[k] for k in range(3) if setup['target'][k]
        ] == pytest.approx([v for v in setup['target'] if v])
        # a test of something: both classes predicted
        assert set(np.unique(result.labels).tolist()) == {0, 1}


def test_volume_object_probabilities_and_spacing(seg_setup):
    model = init_model(seg_setup['config'], seg_setup['ckpt'])
    raw = next(iter(seg_setup['raw'].values()))
    volume = read_ct_volume(raw)
    plain = inference_volume(model, volume)
    result = inference_volume(model, volume, return_probabilities=True)
    probs = result.probabilities
    assert probs.shape == (2, ) + volume.hu.shape
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-4)
    # labels from the logits path agree with the plain path
    np.testing.assert_array_equal(result.labels, plain.labels)
    assert model.test_cfg['return_logits'] is False  # restored
    # the liver probability is higher where the liver was labelled
    fg = result.labels == 1
    assert fg.any() and (~fg).any()
    assert probs[1][fg].mean() > probs[1][~fg].mean()
    # another target spacing changes the model grid, not the output grid
    assert plain.model_shape == volume.hu.shape  # 8 mm slices already
    finer = inference_volume(model, volume, target_spacing=(4.0, None, None))
    assert finer.labels.shape == volume.hu.shape
    assert finer.model_shape[0] == 2 * volume.hu.shape[0] - 1
    assert finer.model_spacing == (4.0, ) + plain.model_spacing[1:]


def test_bad_input(seg_setup, tmp_path):
    model = init_model(seg_setup['config'], seg_setup['ckpt'])
    with pytest.raises(VolumeError, match='not found'):
        inference_volume(model, str(tmp_path / 'missing.nii.gz'))
    gap = CTVolume(
        hu=np.zeros((3, 32, 32), np.float32),
        spacing=(1.0, 1.0, 8.0),
        origin=(0, 0, 0),
        direction=(1, 0, 0, 0, 1, 0, 0, 0, 1),
        grid_z=np.array([0, 1, 5]),
        source=dict(kind='png'))
    with pytest.raises(VolumeError, match='slices are missing'):
        inference_volume(model, gap)
    with pytest.raises(ValueError, match='target_spacing'):
        inference_volume(model, gap, target_spacing=(0, None, None))
    detector_like = torch.nn.Linear(1, 1)
    detector_like.cfg = model.cfg
    with pytest.raises(ValueError):
        inference_volume(detector_like, gap)


def test_dicom_and_png_inputs(seg_setup, tmp_path):
    """The same voxels as a DICOM series and a DeepLesion PNG folder (other
    stored geometry, axis-aligned, the same canonical grid): the same
    labels, written back in each input's own geometry."""
    model = init_model(seg_setup['config'], seg_setup['ckpt'])
    raw = next(iter(seg_setup['raw'].values()))
    nifti = read_ct_volume(raw)  # oblique; the model sees only its grid
    hu = np.rint(nifti.hu).astype(np.int16)
    spacing = [float(v) for v in nifti.spacing]
    reference = inference_volume(model, nifti)
    # the writers store row k at z = -k * dz (PNG slice 1 is the top slice,
    # numbers grow toward the feet); the canonical LPS array runs from the
    # feet up, so both get the rows top first
    files = write_dicom_series(str(tmp_path / 'dicom'), hu[::-1], spacing)
    png = write_png_series(str(tmp_path / 'png'), hu[::-1])
    for scan, kw in ((str(tmp_path / 'dicom'), {}), (png,
                                                     dict(spacing=spacing))):
        result = inference_volume(model, scan, **kw)
        np.testing.assert_array_equal(result.labels, reference.labels)
        assert result.label_volumes() == reference.label_volumes()
        stored = sitk.GetArrayFromImage(result.label_image)
        assert result.label_image.GetSize() == hu.shape[::-1]
        if scan == png:  # the folder's own geometry: slice 1 (top) first
            np.testing.assert_array_equal(stored[::-1], reference.labels)
    assert len(files) == hu.shape[0]


def test_crop_configs_are_refused(seg_setup):
    """A nodule segmentation config crops 48^3 around the centre: refused
    rather than segmenting the middle of the scan."""
    model = init_model(
        osp.join(
            REPO, 'configs', 'segmentation', 'lidc',
            'fcn-fusion_resnet3d18-c16_1xb4-300i_synthetic-lidc-nodule'
            '.py'))
    volume = CTVolume(
        hu=np.full((60, 64, 64), -1000.0, np.float32),
        spacing=(1.0, 1.0, 1.0),
        origin=(0, 0, 0),
        direction=(1, 0, 0, 0, 1, 0, 0, 0, 1),
        grid_z=np.arange(60),
        source=dict(kind='nifti'))
    with pytest.raises(ValueError, match='a crop'):
        inference_volume(model, volume)
