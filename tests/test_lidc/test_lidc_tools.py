"""tools/dataset_converters/lidc.py (check + split record, nothing
half-written), tools/misc/make_synthetic_lidc.py and the data-efficiency
study on the LIDC classifier."""
import csv
import glob
import json
import os
import os.path as osp
import shutil

import mmengine.config.config as mmengine_config
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
    assert summary['counts']['patient_cls']['patients_shared_train_test'] == 0
    # the record matches the dataset's split for the same seed
    from cspr_det.datasets import LIDCNoduleDataset
    ds = LIDCNoduleDataset(data_root=tiny_lidc, subset='test', pipeline=[])
    test_ids = {ds.get_data_info(i)['nodule_id'] for i in range(len(ds))}
    assert test_ids == {r['index'] for r in rows if r['patient_cls'] == 'test'}
    assert 'patient_cls: train' in capsys.readouterr().out


def test_converter_strict_writes_nothing(tiny_lidc, tmp_path, capsys):
    tool = load_tool('tools/dataset_converters/lidc.py')
    root = str(tmp_path / 'data')
    shutil.copytree(tiny_lidc, root)
    victim = sorted(os.listdir(osp.join(root, 'nodule')))[0]
    np.savez(
        osp.join(root, 'nodule', victim),
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
    assert tool.main([
        '--out-dir', out, '--preset', 'tiny', '--num-patients', '4',
        '--crop-size', '24'
    ]) == 0
    text = capsys.readouterr().out
    assert 'nodules of 4 patients' in text
    assert 'patient split (benign/malignant)' in text
    assert 'reference split' in text
    assert osp.isfile(osp.join(out, 'train_test_split.csv'))


CLS_DEMO = ('configs/classification/lidc/'
            'resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py')


def test_data_efficiency_plan_and_summary(tiny_lidc, tmp_path, capsys):
    from mmengine.config import Config

    from cspr_det.cli.study_runner import RunResult
    tool = load_tool('tools/analysis_tools/data_efficiency.py')
    work = str(tmp_path / 'study')
    argv = [
        CLS_DEMO, '--fractions', '0.5', '1.0', '--budget', 'iters',
        '--work-dir', work, '--seeds', '0', '1', '--dry-run', '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_lidc}'
    ]
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert '4 runs planned' in out
    half = Config.fromfile(osp.join(work, 'frac_0.5', 'scratch_seed1.py'))
    full = Config.fromfile(osp.join(work, 'frac_1', 'scratch_seed0.py'))
    assert half.train_dataloader.dataset.patient_fraction == 0.5
    assert half.train_dataloader.dataset.patient_fraction_seed == 0
    assert half.randomness.seed == 1
    # equal-iterations budget: the half-patient run trains more epochs
    assert half.train_cfg.max_epochs > full.train_cfg.max_epochs
    args = tool.parse_args(argv)
    runs, infos = tool.plan_runs(
        args, Config.fromfile(osp.join(work, 'frac_1', 'scratch_seed0.py')))
    assert infos[0]['patients'] < infos[1]['patients']
    assert infos[0]['unit'] == 'nodules'
    results = [
        RunResult(r, metrics={'cls/auc': 0.5 + 0.1 * i})
        for i, r in enumerate(runs)
    ]
    text = tool.write_summary(args, results, infos, 'cls/auc')
    assert '| patients (%) | patients | nodules | epochs | iterations | ' \
        'scratch |' in text
    assert '| 50 |' in text and '0.550 ± 0.050 (2)' in text
    assert osp.isfile(osp.join(work, 'data_efficiency.png'))
    assert text == open(osp.join(work, 'data_efficiency.md')).read().strip()


def test_data_efficiency_selects_the_same_lidc_patients(tiny_lidc, tmp_path):
    """The unified tool subsets LIDC as the former volume tool did: the
    dataset's patient_fraction / patient_fraction_seed, i.e.
    choose_patients over the training patients, nested in the fraction."""
    from mmengine.config import Config

    from cspr_det.datasets import LIDCNoduleDataset
    from cspr_det.datasets.patient_subsets import choose_patients
    tool = load_tool('tools/analysis_tools/data_efficiency.py')
    common = dict(
        data_root=tiny_lidc,
        subset='train',
        pipeline=[],
        check_files=False,
        serialize_data=False)
    full = LIDCNoduleDataset(**common)
    patients = sorted(
        {full.get_data_info(i)['patient_id']
         for i in range(len(full))})
    for seed in (0, 2):
        work = str(tmp_path / f'seed{seed}')
        assert tool.main([
            CLS_DEMO, '--fractions', '0.25', '0.5', '1.0', '--subset-seed',
            str(seed), '--work-dir', work, '--dry-run', '--cfg-options',
            f'train_dataloader.dataset.data_root={tiny_lidc}'
        ]) == 0
        previous = set()
        for fraction in (0.25, 0.5, 1.0):
            cfg = Config.fromfile(
                osp.join(work, f'frac_{fraction:g}', 'scratch_seed0.py'))
            ds_cfg = cfg.train_dataloader.dataset
            # what the former volume tool wrote into the config
            assert (ds_cfg.patient_fraction,
                    ds_cfg.patient_fraction_seed) == (fraction, seed)
            ds = LIDCNoduleDataset(
                **common,
                patient_fraction=fraction,
                patient_fraction_seed=seed)
            kept = {ds.get_data_info(i)['patient_id'] for i in range(len(ds))}
            assert kept == set(choose_patients(patients, fraction, seed))
            assert previous <= kept
            previous = kept


def test_data_efficiency_runs_a_lidc_classifier(tiny_lidc, tmp_path,
                                                monkeypatch):
    """A few-iteration run of the unified tool on a volume task: the LIDC
    classifier (4 base channels, 16^3 crops, 1 epoch) on half of the
    training patients, its best checkpoint scored on the test split; both
    steps in their own process (python -m cspr_det.cli.study_runner)."""
    # mmengine formats every config it dumps with yapf (the study's run
    # configs); the text is not under test, its content is kept
    monkeypatch.setattr(mmengine_config, 'FormatCode', lambda text, **kwargs:
                        (text, False))
    tool = load_tool('tools/analysis_tools/data_efficiency.py')
    work = tmp_path / 'study'
    opts = [
        f'{k}.{o}'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
        for o in (f'dataset.data_root={tiny_lidc}', 'num_workers=0',
                  'persistent_workers=False', 'batch_size=4',
                  'dataset.pipeline.1.size=16')
    ]
    opts += [
        'model.backbone.base_channels=4', 'model.head.in_channels=32',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1', 'param_scheduler.0.end=2',
        'param_scheduler.1.T_max=1', 'param_scheduler.1.end=1',
        'log_level=WARNING'
    ]
    assert tool.main([
        CLS_DEMO, '--fractions', '0.5', '--work-dir',
        str(work), '--cfg-options'
    ] + opts) == 0
    run_dir = work / 'frac_0.5' / 'scratch_seed0'
    with open(run_dir / 'study_result.json') as f:
        result = json.load(f)
    assert result['train_command'][1:4] == [
        '-m', 'cspr_det.cli.study_steps', 'train'
    ]
    assert osp.basename(result['checkpoint']).startswith('best_cls_auc')
    # each step's output beside the run
    assert osp.isfile(run_dir / 'train_stdout.log')
    assert osp.isfile(run_dir / 'test_stdout.log')
    assert glob.glob(str(run_dir / '*' / '*.log'))
    assert glob.glob(str(run_dir / 'test' / '*' / '*.json'))
    auc = result['metrics']['cls/auc']
    assert 0.0 <= auc <= 1.0
    with open(work / 'data_efficiency.csv') as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 1 and float(summary[0]['mean']) == auc
    table = (work / 'data_efficiency.md').read_text()
    assert 'cls/auc on the test split, epochs budget' in table
    assert f'{auc:.3f} (1) |' in table
    assert osp.getsize(work / 'data_efficiency.png') > 0
