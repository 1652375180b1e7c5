"""SegPredictionWriterHook writes predictions as NIfTI in the source
geometry: a prediction equal to the converted ground truth loads back equal
to the source segmentation, on the source image's grid."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.datasets import LiTSDataset
from cspr_det.engine.hooks import SegPredictionWriterHook
from seg_fixtures import tiny_seg_dataset

PIPELINE = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=False),
    dict(type='cspr_det.HUWindow3D', window=(-200, 250)),
    dict(type='cspr_det.PackVolumeSegInputs')
]


def test_writer_round_trip_to_source_geometry(tmp_path_factory, tmp_path):
    data = tiny_seg_dataset(tmp_path_factory, 'lits')
    ds = LiTSDataset(
        data_root=data['converted'],
        split='test',
        task='liver_tumour',
        test_mode=True,
        pipeline=PIPELINE)
    hook = SegPredictionWriterHook(label_values=(0, 1, 2))
    runner = SimpleNamespace(work_dir=str(tmp_path))
    hook.before_test(runner)
    samples = []
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        sample.pred_seg = sample.gt_seg.clone()
        samples.append(sample)
    hook.after_test_iter(runner, 0, None, samples)
    hook.after_test_epoch(runner)
    assert len(hook.written) == len(ds)
    for sample in samples:
        case = sample.case_id
        path = osp.join(str(tmp_path), 'predictions', case + '.nii.gz')
        assert hook.written[case] == path
        pred = sitk.ReadImage(path)
        src_img = sitk.ReadImage(osp.join(data['raw'], sample.source['image']))
        src_lab = sitk.ReadImage(osp.join(data['raw'], sample.source['label']))
        # same grid as the source image (loads aligned in any viewer)
        assert pred.GetSize() == src_img.GetSize()
        np.testing.assert_allclose(
            pred.GetSpacing(), src_img.GetSpacing(), atol=1e-5)
        np.testing.assert_allclose(
            pred.GetOrigin(), src_img.GetOrigin(), atol=1e-3)
        np.testing.assert_allclose(
            pred.GetDirection(), src_img.GetDirection(), atol=1e-6)
        # the tiny set is converted at its own 8 mm slice spacing: the round
        # trip is exact
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(pred), sitk.GetArrayFromImage(src_lab))


def test_writer_rejects_predictions_off_the_converted_grid(
        tmp_path_factory, tmp_path):
    data = tiny_seg_dataset(tmp_path_factory, 'lits')
    ds = LiTSDataset(
        data_root=data['converted'],
        split='test',
        test_mode=True,
        pipeline=PIPELINE)
    sample = ds[0]['data_samples']
    sample.pred_seg = sample.gt_seg[:-1].clone()
    hook = SegPredictionWriterHook(out_dir=str(tmp_path))
    with pytest.raises(
            ValueError, match=f'{sample.case_id}: prediction '
            'shape'):
        hook.write(sample)
    sample.pred_seg = sample.gt_seg.clone()
    del sample.source
    with pytest.raises(KeyError, match='no "source" metainfo'):
        hook.write(sample)
    # in the test loop such samples are counted and skipped
    hook.before_test(SimpleNamespace(work_dir=str(tmp_path)))
    hook.after_test_iter(None, 0, None, [sample])
    assert hook.skipped == 1 and not hook.written
