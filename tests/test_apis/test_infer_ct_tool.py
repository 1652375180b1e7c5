"""tools/infer_ct.py end to end: JSON, CSV, overlays, montage and the NIfTI
label volume in the input's geometry; bad input stops with one line and
leaves no output."""
import csv
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from pydicom.data import get_testdata_files

from cspr_det.apis import init_detector
from cspr_det.cli.errors import run_cli
from ct_fixtures import (DEMO, FAST_OPTIONS, synthetic_hu, write_dicom_series,
                         write_nifti_rotated)
from tool_loader import load_tool

tool = load_tool('tools/infer_ct.py')
OPTIONS = ['--cfg-options'] + [f'{k}={v}' for k, v in FAST_OPTIONS.items()]


def _run(args):
    return tool.main(tool.parse_args(args))


def test_outputs(random_detector, tmp_path, capsys):
    hu = synthetic_hu(depth=4)
    nii = write_nifti_rotated(str(tmp_path / 'scan.nii.gz'), hu)
    out = str(tmp_path / 'out')
    assert _run([
        DEMO, random_detector, nii, '--out-dir', out, '--score-thr', '0.05',
        '--top-k', '5', '--max-overlays', '3', '--save-nifti', '--no-progress'
    ] + OPTIONS) == 0
    summary = capsys.readouterr().out
    assert '4 slices' in summary and 'files written to' in summary
    with open(osp.join(out, 'results.json')) as f:
        res = json.load(f)
    cands, dets = res['candidates'], res['detections']
    assert 1 <= len(cands) <= 5 and dets
    assert res['volume']['shape_zyx'] == [4, 48, 64]
    assert res['volume']['source']['orientation'] == 'RPI'
    assert res['rows'] == [0, 1, 2, 3]
    assert all(d['score'] >= 0.05 for d in dets)
    assert {d['candidate'] for d in dets} - {0} == {c['id'] for c in cands}
    with open(osp.join(out, 'detections_2d.csv')) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(dets)
    assert float(rows[0]['x1']) == pytest.approx(dets[0]['box'][0], rel=1e-5)
    with open(osp.join(out, 'candidates.csv')) as f:
        crows = list(csv.DictReader(f))
    assert [int(r['id']) for r in crows] == [c['id'] for c in cands]
    overlays = sorted(os.listdir(osp.join(out, 'overlays')))
    assert len(overlays) == min(3, len(cands))
    assert overlays[0].startswith('candidate_001_slice')
    img = cv2.imread(osp.join(out, 'overlays', overlays[0]))
    assert img.shape[1] >= 512 and img.shape[0] > 512  # caption band on top
    assert cv2.imread(osp.join(out, 'montage.png')) is not None

    # label volume: the input's grid, candidate 1's box at its voxels
    labels = sitk.ReadImage(osp.join(out, 'candidates_labels.nii.gz'))
    src = sitk.ReadImage(nii)
    assert labels.GetSize() == src.GetSize()
    np.testing.assert_allclose(labels.GetDirection(), src.GetDirection())
    np.testing.assert_allclose(labels.GetOrigin(), src.GetOrigin(), atol=1e-4)
    arr = sitk.GetArrayFromImage(labels)  # stored order: x and z reversed
    canon = arr[::-1, :, ::-1]
    best = cands[-1]  # the lowest-ranked box is drawn first, never on top
    x1, y1, z1, x2, y2, z2 = best['bbox_3d']
    inside = canon[z1:z2 + 1,
                   int(np.floor(y1)):int(np.ceil(y2)),
                   int(np.floor(x1)):int(np.ceil(x2))]
    assert inside.size and (inside > 0).all()
    first = cands[0]['bbox_3d']
    cx, cy = int((first[0] + first[3]) / 2), int((first[1] + first[4]) / 2)
    assert canon[first[2], cy, cx] == 1
    assert set(np.unique(arr)) <= {0} | {c['id'] for c in cands}
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.infer_ct')]


@pytest.fixture(scope='module')
def bad_inputs(tmp_path_factory, random_detector):
    root = tmp_path_factory.mktemp('bad')
    (root / 'empty').mkdir()
    (root / 'empty' / 'readme.txt').write_text('no scan here')
    hu = synthetic_hu(depth=3)
    write_dicom_series(str(root / 'mixed'), hu)
    write_dicom_series(str(root / 'mixed'), hu, uid='1.2.3.4', prefix='b')
    flat = str(root / 'flat.nii.gz')
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((6, 7), np.int16)), flat)
    corrupt = str(root / 'corrupt.nii.gz')
    with open(corrupt, 'wb') as f:
        f.write(b'\x1f\x8b' + os.urandom(300))
    good = write_nifti_rotated(str(root / 'good.nii.gz'), hu)
    # pydicom's real CT2 series: one of its 4 slices lies 202 mm away
    (root / 'ct2').mkdir()
    for src in get_testdata_files('dicomdirtests/77654033/CT2/*'):
        shutil.copy(src, root / 'ct2')
    model = init_detector(DEMO, None, cfg_options=FAST_OPTIONS)
    wrong = str(root / 'wrong.pth')
    state = model.state_dict()
    state['rpn_head.rpn_cls.weight'] = torch.zeros(5, 64, 1, 1)
    torch.save(dict(state_dict=state), wrong)
    return dict(
        empty=(str(root / 'empty'), random_detector),
        mixed=(str(root / 'mixed'), random_detector),
        flat=(flat, random_detector),
        corrupt=(corrupt, random_detector),
        checkpoint=(good, wrong),
        ct2=(str(root / 'ct2'), random_detector))


@pytest.mark.parametrize(
    'case,words',
    [
        ('empty', ['no readable CT series', 'empty']),
        ('mixed', ['holds 2 DICOM series', 'mixed', '--series-uid']),
        ('flat', ['flat.nii.gz', 'not a 3D scalar volume']),
        ('corrupt', ['corrupt.nii.gz', 'corrupt']),
        ('checkpoint', ['wrong.pth', 'does not match', 'rpn_head.rpn_cls']),
        # the two real files around the 202 mm gap, in position order
        ('ct2', ['uneven slice spacing', 'ct2/17106 and ', 'ct2/17136 ']),
    ])
def test_bad_input(bad_inputs, tmp_path, capsys, case, words):
    path, ckpt = bad_inputs[case]
    out = str(tmp_path / 'out')
    args = tool.parse_args(
        [DEMO, ckpt, path, '--out-dir', out, '--no-progress'] + OPTIONS)
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: tool.main(args))
    assert info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith('error: ')
    assert 'Traceback' not in '\n'.join(err)
    for word in words:
        assert word in err[-1], err[-1]
    assert not osp.exists(out)
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.infer')]
