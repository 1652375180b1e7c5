"""The LiTS and BTCV converters take a case image stored as a DICOM series
folder (named like the NIfTI it replaces): the converted arrays and grid
equal those of the NIfTI, oblique and flipped source orientations
included."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.datasets.volume_converter import load_index
from ct_fixtures import write_dicom_from_image
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool


def _image_files(raw, dataset):
    pattern = 'volume-' if dataset == 'lits' else 'img'
    found = {}
    for dirpath, _, files in os.walk(raw):
        for name in files:
            if name.startswith(pattern) and '.nii' in name:
                found[name.split('.nii')[0]] = osp.join(dirpath, name)
    return found


@pytest.mark.parametrize('dataset', ['lits', 'btcv'])
def test_dicom_series_cases_convert_like_their_nifti(tmp_path_factory,
                                                     tmp_path, dataset):
    data = tiny_seg_dataset(tmp_path_factory, dataset)
    raw = str(tmp_path / 'raw')
    shutil.copytree(data['raw'], raw)
    split = json.load(open(data['split']))
    cases = sorted(c for ids in split.values() for c in ids)
    images = _image_files(raw, dataset)
    truth = json.load(open(osp.join(raw, 'synthetic_truth.json')))['cases']
    # two cases as DICOM series, one of them oblique
    oblique = [c for c in cases if truth[c]['tilt_deg']]
    assert oblique
    chosen = sorted({cases[0], oblique[-1]})
    for case in chosen:
        nifti = images[case]
        folder = osp.join(osp.dirname(nifti), case)
        write_dicom_from_image(folder, sitk.ReadImage(nifti))
        os.remove(nifti)
    out = str(tmp_path / 'out')
    tool = load_tool(f'tools/dataset_converters/{dataset}.py')
    spacing = ['8', 'none', 'none'] if dataset == 'lits' else \
        ['8', '12', '12']
    assert tool.main(
        [raw, out, '--spacing', *spacing, '--split-file', data['split']]) == 0
    ref = {
        c['case_id']: c
        for c in load_index(osp.join(data['converted'], 'index.json'))['cases']
    }
    got = {
        c['case_id']: c
        for c in load_index(osp.join(out, 'index.json'))['cases']
    }
    assert sorted(got) == sorted(ref)
    for case in chosen:
        assert osp.isdir(osp.join(raw, got[case]['source']['image']))
        for key in ('shape', 'fg_z_range', 'label_values', 'hu_range'):
            assert got[case][key] == ref[case][key], (case, key)
        for key in ('spacing', 'origin', 'direction'):
            np.testing.assert_allclose(
                got[case][key],
                ref[case][key],
                atol=1e-4,
                err_msg=f'{case} {key}')
        for sub in ('image', 'label'):
            np.testing.assert_array_equal(
                np.load(osp.join(out, got[case][sub])),
                np.load(osp.join(data['converted'], ref[case][sub])),
                err_msg=f'{case} {sub}')
