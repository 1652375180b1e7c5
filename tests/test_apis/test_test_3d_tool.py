"""tools/test_3d.py (DeepLesion 3D benchmark) end to end on tiny sub-volumes
written the NIH way: predictions, 3D and P3D FROC, resume, re-score, an
unreadable sub-volume, bad input; and the slice numbers of sub-volume rows."""
import json
import os
import os.path as osp
import pickle
import re

import cv2
import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.apis import read_ct_volume
from cspr_det.apis.subvolume_boxes import row_slice_numbers
from cspr_det.cli.errors import run_cli
from cspr_det.datasets.deeplesion3d_annotations import save_3d_boxes
from cspr_det.datasets.deeplesion_csv import write_deeplesion_csv
from cspr_det.datasets.synthetic.subvolumes import write_nih_subvolume
from ct_fixtures import DEMO, FAST_OPTIONS, synthetic_hu
from tool_loader import load_tool

tool = load_tool('tools/test_3d.py')
OPTIONS = ['--cfg-options'] + [f'{k}={v}' for k, v in FAST_OPTIONS.items()]
# two slices each: the model's forward passes dominate the test's time
SUBS = {
    '000001_01_01_011-012': 11,
    '000002_01_01_001-002': 1,
    '000003_02_01_101-102': 101
}


def _write_nih_2020(path, hu, spacing):
    """The 2020 NIH writer: slices reversed, identity direction."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(hu[::-1]))
    image.SetSpacing([float(v) for v in spacing])
    sitk.WriteImage(image, path)


@pytest.mark.parametrize('writer', ['2018', '2020'])
def test_row_slice_numbers(tmp_path, writer):
    """Whatever order the reader keeps, row r holds PNG slice numbers[r]."""
    hu = np.stack([np.full((6, 5), 100 * k, np.int16) for k in range(5)])
    hu[:, 0, 1] = -5  # image row 0, column 1 of every slice
    path = str(tmp_path / '000001_01_01_031-035.nii.gz')
    if writer == '2018':
        write_nih_subvolume(path, hu, (0.8, 0.8, 2.0))
    else:
        _write_nih_2020(path, hu, (0.8, 0.8, 2.0))
    vol = read_ct_volume(path)
    numbers = row_slice_numbers(vol, 31, 35)
    assert sorted(numbers.tolist()) == [31, 32, 33, 34, 35]
    for row, num in enumerate(numbers):
        plane = vol.hu[row].copy()
        assert plane.shape == (6, 5) and plane[0, 1] == -5  # PNG layout
        plane[0, 1] = 100 * (num - 31)
        assert np.all(plane == 100 * (num - 31))
    with pytest.raises(ValueError, match='holds 5 slices.*31-36'):
        row_slice_numbers(vol, 31, 36)


def _dataset(root):
    sub_dir = osp.join(root, 'subvolumes')
    os.makedirs(sub_dir)
    ann, records = {}, []
    for i, (name, first) in enumerate(SUBS.items()):
        hu = synthetic_hu(depth=2, seed=i)
        write_nih_subvolume(
            osp.join(sub_dir, name + '.nii.gz'), hu, (0.7, 0.7, 2.5))
        # the fixture's lesion: x 38.4 +- 6, y 21.6 +- 4, both slices
        ann[name] = np.array([[32, 18, first, 44, 25, first + 1.]])
        series = name[:12]
        records.append(
            dict(
                series=series,
                file_name=f'{series}/{first + 1:03d}.png',
                patient=int(series[:6]),
                study=int(series[7:9]),
                series_id=int(series[10:12]),
                key_slice=first + 1,
                recist=[33, 21, 43, 21, 38, 18, 38, 25],
                bbox_xyxy=[32, 18, 44, 25],
                diameters=[10, 7],
                location=[0.5, 0.5, 0.5],
                lesion_type=4,
                noisy=0,
                slice_range=[first, first + 1],
                spacing=[0.7, 0.7, 2.5],
                height=48,
                width=64,
                dicom_window=[-175, 275],
                gender='F',
                age=50.0,
                split=3))
    save_3d_boxes({'val': {}, 'test': ann}, osp.join(root, 'ann.json'))
    with open(osp.join(root, 'types.json'), 'w') as f:
        json.dump({'test': {n: [6] for n in ann}}, f)
    write_deeplesion_csv(records, osp.join(root, 'DL_info.csv'))
    return sub_dir, osp.join(root, 'ann.json'), osp.join(root, 'DL_info.csv')


def _call(args):
    return tool.main(tool.parse_args(args))


def test_benchmark_run(random_detector, tmp_path, capsys):
    sub_dir, ann, csv_path = _dataset(str(tmp_path))
    out = str(tmp_path / 'out')
    base = [
        DEMO, random_detector, '--subvolumes', sub_dir, '--annotations', ann,
        '--out-dir', out, '--score-thr', '0.01', '--no-progress',
        '--key-slices', csv_path, '--lesion-types',
        str(tmp_path / 'types.json')
    ] + OPTIONS
    assert _call(base + ['--dump', str(tmp_path / 'dump.pkl')]) == 0
    text = capsys.readouterr().out
    assert '0 of 3 sub-volumes already done' in text
    assert '3D FROC, IOBB >= 0.3' in text and 'P3D FROC' in text
    with open(osp.join(out, 'predictions.pkl'), 'rb') as f:
        preds = pickle.load(f)
    assert sorted(preds) == sorted(SUBS)
    for name, first in SUBS.items():
        p = preds[name]
        assert p.ndim == 2 and p.shape[1] == 7
        assert np.all((p[:, 2] >= first) & (p[:, 5] <= first + 1))
    with open(osp.join(out, 'predictions.json')) as f:
        assert sorted(json.load(f)) == sorted(SUBS)
    assert osp.isfile(tmp_path / 'dump.pkl')
    assert osp.isfile(tmp_path / 'dump.json')
    with open(osp.join(out, 'froc3d.json')) as f:
        report = json.load(f)
    r3d = report['results']['3D']
    assert r3d['num_subvolumes'] == 3 and r3d['num_lesions'] == 3
    assert len(r3d['sens']) == 7 and report['unreadable'] == {}
    assert 'type 4' in report['results']['P3D']['strata']
    assert r3d['strata']['type 6']['num_lesions'] == 3
    # lesions 12 px wide at 0.7 mm/px: the 0-10 mm stratum
    assert r3d['strata']['0-10 mm']['num_lesions'] == 3
    assert cv2.imread(osp.join(out, 'froc3d_curve.png')) is not None
    with open(osp.join(out, 'froc3d.csv')) as f:
        assert f.readline().startswith('mode,lesions,num_lesions,sens@0.125')

    # resumed: nothing to run (and no model built)
    assert _call(base) == 0
    assert '3 of 3 sub-volumes already done' in capsys.readouterr().out

    # re-score without the model: the same numbers
    out2 = str(tmp_path / 'rescore')
    assert _call([
        '--predictions',
        osp.join(out, 'predictions.pkl'), '--annotations', ann, '--out-dir',
        out2
    ]) == 0
    with open(osp.join(out2, 'froc3d.json')) as f:
        assert json.load(f)['results']['3D']['sens'] == r3d['sens']

    # one result removed and its file broken: the run resumes with that one
    # only, which cannot be read: it is named and counted, the run goes on
    broken = '000003_02_01_101-102'
    os.remove(osp.join(out, 'per_subvolume', broken + '.json'))
    with open(osp.join(sub_dir, broken + '.nii.gz'), 'wb') as f:
        f.write(b'not a nifti file')
    assert _call(base) == 0
    text = capsys.readouterr().out
    assert '2 of 3 sub-volumes already done' in text
    assert '1 unreadable sub-volume(s)' in text and broken in text
    with open(osp.join(out, 'froc3d.json')) as f:
        assert list(json.load(f)['unreadable']) == [broken]
    with open(osp.join(out, 'predictions.pkl'), 'rb') as f:
        again = pickle.load(f)
    assert again[broken].shape == (0, 7)
    assert all(np.array_equal(again[n], preds[n]) for n in SUBS if n != broken)


@pytest.fixture
def bad_inputs(tmp_path):
    sub_dir, ann, _ = _dataset(str(tmp_path))
    cases = {}
    cases['missing'] = str(tmp_path / 'ann_missing.json')
    save_3d_boxes({'test': {
        '000009_01_01_001-002': np.zeros((0, 6))
    }}, cases['missing'])
    cases['outside'] = str(tmp_path / 'ann_outside.json')
    save_3d_boxes({'test': {
        '000001_01_01_011-012': [[1, 1, 9, 5, 5, 12]]
    }}, cases['outside'])
    cases['structure'] = str(tmp_path / 'ann_structure.pkl')
    with open(cases['structure'], 'wb') as f:
        pickle.dump([np.zeros((2, 6))], f)
    cases['badname'] = str(tmp_path / 'ann_badname.json')
    with open(cases['badname'], 'w') as f:
        json.dump({'test': {'scan-1': []}}, f)
    cases['preds'] = str(tmp_path / 'preds.json')
    with open(cases['preds'], 'w') as f:
        json.dump({'000001_01_01_011-012': [[1, 2, 3, 4, 5, 6]]}, f)
    return sub_dir, ann, cases


@pytest.mark.parametrize('case, words', [
    ('missing', '000009_01_01_001-002'),
    ('outside', "000001_01_01_011-012.*outside"),
    ('structure', 'ann_structure.pkl.*expected'),
    ('badname', "'scan-1'"),
    ('preds', "preds.json\\['000001_01_01_011-012'\\].*\\(n, 7\\)"),
    ('nofile', 'nothere.json'),
])
def test_bad_input(random_detector, bad_inputs, tmp_path, capsys, case, words):
    sub_dir, ann, cases = bad_inputs
    out = str(tmp_path / 'out_bad')
    if case == 'preds':
        args = ['--predictions', cases['preds'], '--annotations', ann]
    else:
        annotations = str(tmp_path / 'nothere.json') if case == 'nofile' \
            else cases[case]
        args = [
            DEMO, random_detector, '--subvolumes', sub_dir, '--annotations',
            annotations
        ]
    args = tool.parse_args(args + ['--out-dir', out, '--no-progress'])
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: tool.main(args))
    assert info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.search(words, err[0]), err[0]
    assert not osp.exists(out)
