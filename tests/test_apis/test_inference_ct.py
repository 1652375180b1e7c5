"""inference_ct: the same detections as tools/test.py on the annotated key
slices, identical results for one series in three formats, the stack
builder against the training loader, and a one-slice real DICOM end to
end."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from cspr_det.apis import (SliceStacker, config_test_pipeline, inference_ct,
                           init_detector, read_ct_volume)
from cspr_det.fileio import png_series_reader
from cspr_det.models.utils import CheckpointMismatchError
from ct_fixtures import (DEMO, FAST_OPTIONS, SPACING, synthetic_hu,
                         write_dicom_series, write_nifti_rotated,
                         write_png_series)
from tool_loader import load_tool

test_tool = load_tool('tools/test.py')


@pytest.fixture(scope='module')
def model(random_detector):
    return init_detector(DEMO, random_detector, cfg_options=FAST_OPTIONS)


def test_key_slices_match_tools_test(tiny_deeplesion, random_detector, model,
                                     tmp_path):
    dump = str(tmp_path / 'dump.json')
    opts = [f'{k}={v}' for k, v in FAST_OPTIONS.items()] + [
        f'test_dataloader.dataset.data_root={tiny_deeplesion}/',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]
    args = test_tool.parse_args([
        DEMO, random_detector, '--work-dir',
        str(tmp_path / 'work'), '--dump-detections', dump, '--cfg-options'
    ] + opts)
    assert test_tool.main(args) == 0
    with open(dump) as f:
        images = json.load(f)['images']
    assert images
    total = 0
    for k, img in enumerate(images):
        folder, name = osp.split(img['img_path'])
        volume = read_ct_volume(folder)  # spacing from DL_info.csv
        row = volume.slice_names.index(name)
        boxes = np.asarray(img['pred_bboxes'], np.float32).reshape(-1, 4)
        scores = np.asarray(img['pred_scores'], np.float32)
        result = inference_ct(
            model, volume, rows=[row], score_thr=0.0, batch_size=1, top_k=None)
        det = result.detections
        assert det['rows'].tolist() == [row] * len(scores)
        np.testing.assert_allclose(det['boxes'], boxes, atol=1e-4)
        np.testing.assert_allclose(det['scores'], scores, atol=1e-4)
        total += len(scores)
        if k == 0:
            # the key slice inside a batch of its neighbours
            first, last = volume.run_of(row)
            lo = max(first, min(row - 2, last - 4))
            batch = inference_ct(
                model,
                volume,
                z_range=(lo, lo + 4),
                score_thr=0.0,
                batch_size=4,
                top_k=None)
            keep = batch.detections['rows'] == row
            np.testing.assert_allclose(
                batch.detections['boxes'][keep], boxes, atol=1e-4)
            np.testing.assert_allclose(
                batch.detections['scores'][keep], scores, atol=1e-4)
    assert total > 0  # a random network still proposes boxes


def test_three_formats_give_identical_detections(model, tmp_path):
    hu = synthetic_hu(depth=4)
    png = write_png_series(str(tmp_path / 'png'), hu)
    nii = write_nifti_rotated(str(tmp_path / 'vol.nii.gz'), hu)
    write_dicom_series(str(tmp_path / 'dcm'), hu)
    results = [
        inference_ct(model, png, spacing=SPACING, score_thr=0.0),
        inference_ct(model, nii, score_thr=0.0),
        inference_ct(model, str(tmp_path / 'dcm'), score_thr=0.0)
    ]
    ref = results[0]
    assert len(ref.detections['rows']) > 0 and ref.candidates
    for res in results[1:]:
        for key in ('rows', 'boxes', 'scores', 'labels', 'candidate'):
            np.testing.assert_array_equal(res.detections[key],
                                          ref.detections[key])
        assert [c['bbox_3d'] for c in res.candidates] == \
            [c['bbox_3d'] for c in ref.candidates]
        assert [c['long_mm'] for c in res.candidates] == \
            pytest.approx([c['long_mm'] for c in ref.candidates])
    assert ref.settings['fast_path'] is True
    t = ref.timings
    assert t['model_s'] > 0 and 0 < t['non_model_share'] < 1
    assert t['total_s'] >= t['model_s'] + t['prepare_s'] - 1e-6


def _series(tmp_path, runs):
    hu = synthetic_hu(depth=sum(b - a + 1 for a, b in runs), seed=4)
    folder = str(tmp_path / '000001_01_01')
    at = 0
    for a, b in runs:
        write_png_series(folder, hu[at:at + b - a + 1], first=a)
        at += b - a + 1
    return folder


@pytest.mark.parametrize('windows,interval,spacing', [
    ([(-1024, 1050), (-175, 275)], 5.0, (0.7, 0.7, 2.0)),
    ([(-175, 275)], 2.5, (0.7, 0.7, 1.0)),
    ([(-1024, 1050)], None, (0.7, 0.7, 5.0)),
])
def test_stacks_equal_the_test_pipeline(tmp_path, windows, interval, spacing):
    """Every slice of a folder with two runs of slices: the stacker's input
    (full and fast path) equals, bit for bit, the config's test pipeline
    (training loader, Resize, PackDetInputs) on the PNG files with the run
    as the sample's slice range."""
    init_default_scope('mmdet')
    folder = _series(tmp_path, [(3, 9), (20, 23)])
    volume = read_ct_volume(folder, spacing=spacing)
    pipeline = config_test_pipeline(Config.fromfile(DEMO))
    pipeline[0].update(num_slices=5, slice_interval=interval, windows=windows)
    reference = Compose(pipeline)
    full = SliceStacker(volume, pipeline, fast=False)
    fast = SliceStacker(volume, pipeline)
    for row in range(volume.num_slices):
        name = volume.slice_names[row]
        number = int(name[:-4])
        packed = reference(
            dict(
                img_path=osp.join(folder, name),
                key_slice=number,
                slice_interval=spacing[2],
                slice_range=[3, 9] if number <= 9 else [20, 23]))
        for stacker in (full, fast):
            sample = stacker(row)
            assert torch.equal(sample['inputs'], packed['inputs']), row
            meta = sample['data_samples'].metainfo
            assert meta['scale_factor'] == \
                packed['data_samples'].metainfo['scale_factor']
    assert fast.fast  # per-slice resizing reproduced the pipeline


def test_each_png_decoded_once(tmp_path, monkeypatch):
    folder = _series(tmp_path, [(1, 6)])
    calls = []
    real = png_series_reader.decode_ct_png
    monkeypatch.setattr(
        png_series_reader, 'decode_ct_png',
        lambda content, path: calls.append(path) or real(content, path))
    read_ct_volume(folder, spacing=(1, 1, 1))
    assert sorted(calls) == sorted(
        osp.join(folder, f'{i:03d}.png') for i in range(1, 7))


def test_real_one_slice_dicom_end_to_end(model, tmp_path):
    from pydicom.data import get_testdata_file
    folder = tmp_path / 'one'
    folder.mkdir()
    shutil.copy(get_testdata_file('CT_small.dcm'), folder / 'CT_small.dcm')
    result = inference_ct(model, str(folder), score_thr=0.0)
    assert result.rows == [0] and len(result.detections['rows']) > 0
    assert all(c['num_slices'] == 1 and c['z_extent_mm'] == 5.0
               for c in result.candidates)
    # edge fallback: all 9 stacked slices are the one slice
    stacker = SliceStacker(result.volume, config_test_pipeline(model.cfg))
    inputs = stacker(0)['inputs']
    assert inputs.shape[0] == 18
    for w in range(2):
        group = inputs[9 * w:9 * (w + 1)]
        assert torch.equal(group, group[:1].expand_as(group))


def test_init_detector_refuses_a_mismatching_checkpoint(tmp_path):
    path = str(tmp_path / 'other.pth')
    model = init_detector(DEMO, None, cfg_options=FAST_OPTIONS)
    state = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith('roi_head.')
    }
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointMismatchError) as info:
        init_detector(DEMO, path)
    assert path in str(info.value) and 'missing' in str(info.value)
    with pytest.raises(FileNotFoundError, match='config file not found'):
        init_detector(str(tmp_path / 'nope.py'))
