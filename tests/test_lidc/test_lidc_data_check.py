"""LIDC start-up data check (zip directory and array headers only) and a
nodule that turns unreadable during training."""
import logging
import os
import os.path as osp
import shutil
import zipfile

import numpy as np
import pytest

from cspr_det.cli.errors import run_cli
from cspr_det.datasets import LIDCNoduleDataset
from cspr_det.datasets.data_check import UnreadableSampleError
from cspr_det.datasets.lidc_npz import nodule_file_problem
from tool_loader import REPO, load_tool

PIPELINE = [dict(type='cspr_det.LoadLIDCNodule')]


def _ds(root, **kwargs):
    return LIDCNoduleDataset(
        data_root=root, min_size=48, pipeline=PIPELINE, **kwargs)


def _truncate(path):
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])


def test_check_data_reports_damaged_and_missing_npz(tiny_lidc, tmp_path):
    root = str(tmp_path / 'lidc')
    shutil.copytree(tiny_lidc, root)
    ok = _ds(root).check_data()
    assert ok.problems == [] and ok.checked > 2 and ok.unit == 'nodule'
    ds = _ds(root)
    cut, gone = (ds.get_data_info(i) for i in range(2))
    _truncate(cut['img_path'])
    os.remove(gone['img_path'])
    ds = _ds(root)  # both skipped when the list is built ...
    assert {cut['nodule_id'], gone['nodule_id']} <= set(ds.skipped_nodules)
    found = dict(ds.check_data().problems)  # ... and reported by the check
    assert sorted(found) == sorted([cut['nodule_id'], gone['nodule_id']])
    assert found[cut['nodule_id']] == nodule_file_problem(cut['img_path'])
    assert found[cut['nodule_id']].startswith(
        f'unreadable npz {cut["img_path"]}: BadZipFile')
    assert found[gone['nodule_id']] == f'npz not found: {gone["img_path"]}'


def test_member_size_disagreeing_with_its_header(tmp_path):
    """A member rewritten with fewer voxels than its header announces."""
    path = str(tmp_path / 'n.npz')
    voxel = np.zeros((52, 52, 52), np.uint8)
    np.savez_compressed(path, voxel=voxel)
    with zipfile.ZipFile(path) as zf:
        member = zf.read('voxel.npy')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
        zf.writestr('voxel.npy', member[:-1000])
    problem = nodule_file_problem(path)
    assert problem.startswith(f'unreadable npz {path}: ValueError: array '
                              "'voxel' holds ")


def test_unreadable_nodule_mid_run_is_skipped(tiny_lidc, tmp_path,
                                              monkeypatch):
    root = str(tmp_path / 'lidc')
    shutil.copytree(tiny_lidc, root)
    ds = _ds(root)
    bad = ds.get_data_info(0)
    with open(bad['img_path'], 'wb') as f:
        f.write(b'PK\x03\x04 damaged after the start-up check')
    logged = []
    monkeypatch.setattr(
        'cspr_det.datasets.data_check.print_log',
        lambda msg, **kw: logged.append((msg, kw.get('level'))))
    monkeypatch.setattr(ds, '_rand_another', lambda: 1)
    item = ds[0]
    assert item['img'].shape == (52, 52, 52)
    assert ds.num_unreadable == 1
    assert list(ds.unreadable_samples) == [bad['nodule_id']]
    assert logged[0][1] == logging.WARNING
    assert logged[0][0].startswith(
        f'LIDCNoduleDataset: skipped unreadable sample {bad["nodule_id"]} '
        f'(LIDC nodule {bad["nodule_id"]}: BadZipFile')
    with pytest.raises(UnreadableSampleError):
        _ds(root, check_files=False, test_mode=True)[0]


def test_train_tool_stops_on_a_corrupt_npz(tiny_lidc, tmp_path, capsys):
    root = str(tmp_path / 'lidc')
    shutil.copytree(tiny_lidc, root)
    first = _ds(root).get_data_info(0)
    _truncate(first['img_path'])
    config = osp.join(REPO, 'configs', 'classification', 'lidc',
                      'resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py')
    opts = [
        f'{split}_dataloader.{key}' for split in ('train', 'val')
        for key in ('num_workers=0', 'persistent_workers=False',
                    f'dataset.data_root={root}/')
    ]
    train_tool = load_tool('tools/train.py')
    args = train_tool.parse_args(
        [config, '--work-dir',
         str(tmp_path / 'w'), '--cfg-options'] + opts)
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: train_tool.main(args))
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert 'Traceback' not in err and 'Epoch(train)' not in out + err
    line = err.strip().splitlines()[-1]
    assert line.startswith('error: data check failed: train '
                           'LIDCNoduleDataset: 1 of ')
    assert f'nodules: {first["nodule_id"]} (unreadable npz ' \
        f'{first["img_path"]}: BadZipFile' in line
