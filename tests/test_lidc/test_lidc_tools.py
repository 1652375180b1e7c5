"""tools/dataset_converters/lidc.py (check + split record, nothing
half-written) and tools/misc/make_synthetic_lidc.py."""
import csv
import json
import os
import os.path as osp
import shutil

import numpy as np

from tool_loader import load_tool


def test_converter_writes_the_split_record(tiny_lidc, tmp_path, capsys):
    tool = load_tool('tools/dataset_converters/lidc.py')
    out = str(tmp_path / 'record')
    assert tool.main([tiny_lidc, '--out-dir', out]) == 0
    with open(osp.join(out, 'lidc_splits.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    with open(osp.join(out, 'lidc_check.json')) as f:
        summary = json.load(f)
    assert summary['bad_nodules'] == {}
    assert len(rows) == summary['nodules'] > 0
    by_part = {}
    for r in rows:
        by_part.setdefault(r['patient_seg'], set()).add(r['uid'])
    assert not by_part['train'] & by_part['test']
    assert summary['counts']['patient_cls'][
        'patients_shared_train_test'] == 0
    # the record matches the dataset's split for the same seed
    from cspr_det.datasets import LIDCNoduleDataset
    ds = LIDCNoduleDataset(data_root=tiny_lidc, subset='test', pipeline=[])
    test_ids = {ds.get_data_info(i)['nodule_id'] for i in range(len(ds))}
    assert test_ids == {r['index'] for r in rows
                        if r['patient_cls'] == 'test'}
    assert 'patient_cls: train' in capsys.readouterr().out


def test_converter_strict_writes_nothing(tiny_lidc, tmp_path, capsys):
    tool = load_tool('tools/dataset_converters/lidc.py')
    root = str(tmp_path / 'data')
    shutil.copytree(tiny_lidc, root)
    victim = sorted(os.listdir(osp.join(root, 'nodule')))[0]
    np.savez(osp.join(root, 'nodule', victim),
             voxel=np.zeros((52, 52, 52), np.uint8),
             answer1=np.full((52, 52, 52), 3, np.uint8))
    out = str(tmp_path / 'record')
    assert tool.main([root, '--out-dir', out, '--strict']) == 1
    err = capsys.readouterr().err
    assert f'bad nodule {victim[:-4]}: mask answer1' in err
    assert 'not binary' in err
    assert not osp.exists(osp.join(out, 'lidc_splits.csv'))
    assert tool.main([root, '--out-dir', out]) == 0
    with open(osp.join(out, 'lidc_splits.csv'), newline='') as f:
        rows = {r['index']: r for r in csv.DictReader(f)}
    assert 'not binary' in rows[victim[:-4]]['problem']
    assert tool.main([str(tmp_path / 'none')]) == 1
    assert 'data root not found' in capsys.readouterr().err


def test_make_synthetic_lidc_tool(tmp_path, capsys):
    tool = load_tool('tools/misc/make_synthetic_lidc.py')
    out = str(tmp_path / 'syn')
    assert tool.main(['--out-dir', out, '--preset', 'tiny',
                      '--num-patients', '4', '--crop-size', '24']) == 0
    text = capsys.readouterr().out
    assert 'nodules of 4 patients' in text
    assert 'patient split (benign/malignant)' in text
    assert 'reference split' in text
    assert osp.isfile(osp.join(out, 'train_test_split.csv'))


def test_data_efficiency_plan_and_summary(tiny_lidc, tmp_path, capsys):
    from mmengine.config import Config

    from cspr_det.utils.study_runner import RunResult
    tool = load_tool('tools/analysis_tools/volume_data_efficiency.py')
    config = ('configs/classification/lidc/'
              'resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py')
    work = str(tmp_path / 'study')
    argv = [config, '--fractions', '0.5', '1.0', '--budget', 'iters',
            '--work-dir', work, '--seeds', '0', '1', '--dry-run',
            '--cfg-options', f'train_dataloader.dataset.data_root={tiny_lidc}'
            ]
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert '4 runs planned' in out
    half = Config.fromfile(osp.join(work, 'frac_0.5', 'scratch_seed1.py'))
    full = Config.fromfile(osp.join(work, 'frac_1', 'scratch_seed0.py'))
    assert half.train_dataloader.dataset.patient_fraction == 0.5
    assert half.randomness.seed == 1
    # equal-iterations budget: the half-patient run trains more epochs
    assert half.train_cfg.max_epochs > full.train_cfg.max_epochs
    args = tool.parse_args(argv)
    runs, infos = tool.plan_runs(args, Config.fromfile(
        osp.join(work, 'frac_1', 'scratch_seed0.py')))
    assert infos[0]['patients'] < infos[1]['patients']
    results = [RunResult(r, metrics={'cls/auc': 0.5 + 0.1 * i})
               for i, r in enumerate(runs)]
    text = tool.write_summary(args, results, infos, 'cls/auc')
    assert '| 50 |' in text and '0.550 ± 0.050' in text
    assert osp.isfile(osp.join(work, 'summary.png'))
