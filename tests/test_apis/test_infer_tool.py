"""tools/infer.py: one front end for every task. Detection writes what
tools/infer_ct.py writes; segmentation the label NIfTI in the input's
geometry, the volumes CSV and an overlay; classification a CSV of
probabilities for a CSV of centres. Bad input: one line, non-zero exit,
nothing written."""
import csv
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import SimpleITK as sitk
import torch

from cspr_det.apis import (inference_nodule, inference_volume, init_model,
                           read_ct_volume)
from cspr_det.cli.errors import run_cli
from cspr_det.datasets.synthetic.make_synthetic_lidc import make_synthetic_lidc
from ct_fixtures import DEMO, FAST_OPTIONS, synthetic_hu, write_nifti_rotated
from infer_fixtures import (REPO, embed_crop, save_random, tiny_cls_config,
                            tiny_seg_config)
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool

tool = load_tool('tools/infer.py')
infer_ct = load_tool('tools/infer_ct.py')
DET_OPTIONS = ['--cfg-options'] + [f'{k}={v}' for k, v in FAST_OPTIONS.items()]


def _run(args):
    return tool.main(tool.parse_args(args))


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """A tiny LiTS segmentor and a tiny LIDC classifier (configs and
    random checkpoints), a synthetic LIDC set and a raw LiTS scan."""
    root = tmp_path_factory.mktemp('infer_tool')
    data = tiny_seg_dataset(tmp_path_factory, 'lits')
    seg_cfg = str(root / 'seg.py')
    tiny_seg_config(data['converted']).dump(seg_cfg)
    torch.manual_seed(0)
    seg_ckpt = save_random(
        init_model(seg_cfg), str(root / 'seg.pth'),
        dict(classes=('background', 'liver')), (0, 0.05))
    cls_cfg = str(root / 'cls.py')
    tiny_cls_config().dump(cls_cfg)
    torch.manual_seed(0)
    cls_ckpt = save_random(
        init_model(cls_cfg), str(root / 'cls.pth'),
        dict(classes=('benign', 'malignant')))
    with open(osp.join(data['converted'], 'index.json')) as f:
        index = json.load(f)
    case = [c for c in index['cases'] if c['split'] == 'test'][0]
    scan = osp.join(index['raw_root'], case['source']['image'])
    lidc = str(root / 'lidc')
    make_synthetic_lidc(lidc, preset='tiny', num_patients=2, seed=0)
    npz = sorted(os.listdir(osp.join(lidc, 'nodule')))[0]
    voxel = np.load(osp.join(lidc, 'nodule', npz))['voxel']
    chest, _ = embed_crop(voxel, str(root / 'chest.nii.gz'))
    return dict(
        seg=(seg_cfg, seg_ckpt),
        cls=(cls_cfg, cls_ckpt),
        scan=scan,
        chest=chest,
        root=root)


def test_detection_same_as_infer_ct(random_detector, tmp_path, capsys):
    nii = write_nifti_rotated(
        str(tmp_path / 'scan.nii.gz'), synthetic_hu(depth=3))
    opts = [
        '--score-thr', '0.05', '--top-k', '5', '--max-overlays', '2',
        '--no-progress', '--save-nifti'
    ] + DET_OPTIONS
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    assert _run([DEMO, random_detector, nii, '--out-dir', a] + opts) == 0
    assert infer_ct.main(
        infer_ct.parse_args([DEMO, random_detector, nii, '--out-dir', b] +
                            opts)) == 0
    assert '3 slices' in capsys.readouterr().out
    files = sorted(os.listdir(a))
    assert files == sorted(os.listdir(b))
    assert {
        'results.json', 'detections_2d.csv', 'candidates.csv',
        'candidates_labels.nii.gz'
    } <= set(files)
    for name in ('detections_2d.csv', 'candidates.csv'):
        with open(osp.join(a, name)) as fa, open(osp.join(b, name)) as fb:
            assert fa.read() == fb.read()
    ja = json.load(open(osp.join(a, 'results.json')))
    jb = json.load(open(osp.join(b, 'results.json')))
    assert ja['detections'] == jb['detections'] and ja['detections']


def test_segmentation(models, tmp_path, capsys):
    cfg, ckpt = models['seg']
    out = str(tmp_path / 'seg')
    assert _run(
        [cfg, ckpt, models['scan'], '--out-dir', out,
         '--save-probabilities']) == 0
    summary = capsys.readouterr().out
    assert 'liver' in summary and 'mL' in summary
    assert sorted(os.listdir(out)) == [
        'labels.nii.gz', 'overlay.png', 'probability_liver.nii.gz',
        'results.json', 'volumes.csv'
    ]
    src = sitk.ReadImage(models['scan'])
    labels = sitk.ReadImage(osp.join(out, 'labels.nii.gz'))
    assert labels.GetSize() == src.GetSize()
    np.testing.assert_allclose(labels.GetOrigin(), src.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(
        labels.GetDirection(), src.GetDirection(), atol=1e-6)
    model = init_model(cfg, ckpt)
    api = inference_volume(model, models['scan'], return_probabilities=True)
    arr = sitk.GetArrayFromImage(labels)
    np.testing.assert_array_equal(arr, sitk.GetArrayFromImage(api.label_image))
    with open(osp.join(out, 'volumes.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [r['class_name'] for r in rows] == ['background', 'liver']
    assert [int(r['voxels']) for r in rows] == \
        np.bincount(arr.ravel(), minlength=2).tolist()
    ml = np.prod(src.GetSpacing()) / 1000 * int(rows[1]['voxels'])
    assert float(rows[1]['volume_ml']) == pytest.approx(ml, rel=1e-5)
    prob = sitk.ReadImage(osp.join(out, 'probability_liver.nii.gz'))
    assert prob.GetSize() == src.GetSize()
    canon = read_ct_volume(osp.join(out, 'probability_liver.nii.gz')).hu
    np.testing.assert_allclose(canon, api.probabilities[1], atol=1e-6)
    img = cv2.imread(osp.join(out, 'overlay.png'))
    assert img is not None and img.shape[1] >= 256
    res = json.load(open(osp.join(out, 'results.json')))
    assert res['volumes'][1]['voxels'] == int(rows[1]['voxels'])
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.infer')]


def test_classification(models, tmp_path, capsys):
    cfg, ckpt = models['cls']
    volume = read_ct_volume(models['chest'])
    pts = volume.index_to_world(
        np.array([[30.5, 31.5, 30.5], [20.0, 22.0, 24.0]]))
    centres = tmp_path / 'centres.csv'
    centres.write_text('id,x,y,z,note\n' +
                       ''.join(f'n{k},{p[0]},{p[1]},{p[2]},x\n'
                               for k, p in enumerate(pts)))
    out = str(tmp_path / 'cls')
    assert _run([
        cfg, ckpt, models['chest'], '--out-dir', out, '--centres',
        str(centres)
    ]) == 0
    assert 'n1' in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ['probabilities.csv', 'results.json']
    with open(osp.join(out, 'probabilities.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [r['id'] for r in rows] == ['n0', 'n1']
    assert list(rows[0]) == [
        'id', 'x', 'y', 'z', 'probability', 'score_benign', 'score_malignant'
    ]
    api = inference_nodule(init_model(cfg, ckpt), volume, pts)
    for row, prob in zip(rows, api.probabilities):
        assert float(row['probability']) == pytest.approx(
            float(prob), abs=1e-5)
        assert float(row['x']) == pytest.approx(
            float(pts[int(row['id'][1])][0]), abs=1e-4)


@pytest.fixture(scope='module')
def bad_cases(models, tmp_path_factory):
    root = tmp_path_factory.mktemp('bad_infer')
    corrupt = str(root / 'corrupt.nii.gz')
    with open(corrupt, 'wb') as f:
        f.write(b'\x1f\x8b' + os.urandom(300))
    rows = dict(
        good='id,x,y,z\na,1,2,3\n',
        bad_row='id,x,y,z\na,1,2,3\nb,1,oops,3\n',
        no_column='id,x,y\na,1,2\n',
        outside='id,x,y,z\nfar,0,0,9999\n')
    csvs = {}
    for name, text in rows.items():
        csvs[name] = str(root / f'{name}.csv')
        with open(csvs[name], 'w') as f:
            f.write(text)
    seg, cls = list(models['seg']), list(models['cls'])
    chest = models['chest']
    return {
        'corrupt scan': (seg + [corrupt], ['corrupt.nii.gz']),
        'missing centres': (cls + [chest], ['needs --centres']),
        'centres for a segmentor': (seg + [chest, '--centres', csvs['good']],
                                    ['--centres', 'segmentation']),
        'bad row': (cls + [chest, '--centres', csvs['bad_row']],
                    ['bad_row.csv line 3', 'y is not a number']),
        'missing column': (cls + [chest, '--centres', csvs['no_column']],
                           ['missing column(s) z']),
        'outside':
        (cls + [chest, '--centres', csvs['outside']], ['outside the scan']),
        'no centres file':
        (cls + [chest, '--centres', str(root / 'no.csv')],
         ['centres CSV not found']),
        'bad target spacing':
        (seg + [chest, '--target-spacing', '1', 'x', 'none'],
         ['--target-spacing']),
    }


@pytest.mark.parametrize('case', [
    'corrupt scan', 'missing centres', 'centres for a segmentor', 'bad row',
    'missing column', 'outside', 'no centres file', 'bad target spacing'
])
def test_bad_input(bad_cases, tmp_path, capsys, case):
    args, words = bad_cases[case]
    out = str(tmp_path / 'out')
    parsed = tool.parse_args(args + ['--out-dir', out])
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: tool.main(parsed))
    assert info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith('error: '), err
    assert 'Traceback' not in '\n'.join(err)
    for word in words:
        assert word in err[-1], err[-1]
    assert not osp.exists(out)
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.infer')]


def test_command_line(models, tmp_path):
    """The script itself: a bad centres file gives exit status != 0 and
    one line on stderr."""
    cfg, ckpt = models['cls']
    bad = tmp_path / 'c.csv'
    bad.write_text('id,x,y\n1,2,3\n')
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'infer.py'), cfg, ckpt, models['chest'],
        '--out-dir',
        str(tmp_path / 'o'), '--centres',
        str(bad)
    ],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=300)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith('error: ') and 'missing column' in lines[-1]
    assert not osp.exists(tmp_path / 'o')
