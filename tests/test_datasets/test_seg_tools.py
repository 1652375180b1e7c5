"""Command-line tools of the 3D segmentation data: the synthetic generator,
the loader benchmark, the overlay of a written prediction and the
data-efficiency study on a segmentation config."""
import csv
import json
import os.path as osp
from types import SimpleNamespace

import mmengine.config.config as mmengine_config
import pytest

from cspr_det.datasets import LiTSDataset
from cspr_det.engine.hooks import SegPredictionWriterHook
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool


def test_make_synthetic_seg_cli(tmp_path, capsys):
    tool = load_tool('tools/misc/make_synthetic_seg.py')
    out = str(tmp_path / 'btcv')
    assert tool.main([
        '--dataset', 'btcv', '--out-dir', out, '--num-cases', '2', '--preset',
        'tiny'
    ]) == 0
    printed = capsys.readouterr().out
    assert 'wrote 2 synthetic BTCV case(s) (32 px)' in printed
    for n in (1, 2):
        assert osp.isfile(
            osp.join(out, 'RawData', 'Training', 'img', f'img{n:04d}.nii.gz'))
        assert osp.isfile(
            osp.join(out, 'RawData', 'Training', 'label',
                     f'label{n:04d}.nii.gz'))
    split = json.load(open(osp.join(out, 'split.json')))
    assert sorted(sum(split.values(), [])) == ['img0001', 'img0002']
    assert tool.main(
        ['--dataset', 'btcv', '--out-dir', out, '--num-cases', '31']) == 1
    assert 'BTCV has 30 labelled cases' in capsys.readouterr().err


def test_benchmark_seg_loader(capsys, tmp_path):
    import numpy as np
    tool = load_tool('tools/analysis_tools/benchmark_seg_loader.py')
    keep = str(tmp_path / 'bench')
    assert tool.main([
        '--samples', '2', '--cases', '1', '--image-size', '32',
        '--slice-spacing', '8', '--keep', keep
    ]) == 0
    out = capsys.readouterr().out
    assert 'converted arrays (memory-mapped)' in out
    assert 'NIfTI read + resampled per sample' in out
    assert 'crop (32, 256, 256); arrays are' in out
    # the timed crops carry the labels of the LiTS task (liver: tumour 2
    # merged into 1), so a --config model of that task trains on them
    index = json.load(open(osp.join(keep, 'converted', 'index.json')))
    case = index['cases'][0]
    assert 2 in case['label_values']
    lut = tool._lut('liver')
    assert (lut[0], lut[1], lut[2]) == (0, 1, 1)
    info = tool._info(case, osp.join(keep, 'converted'))
    np.testing.assert_array_equal(info['label_lut'], lut)
    _, outs = tool.time_arrays([case], osp.join(keep, 'converted'), 4, 0)
    values = set()
    for o in outs:
        values |= set(o['data_samples'].gt_seg.unique().tolist())
    assert values <= {0, 1, 255}


def test_overlay_of_a_written_prediction(tmp_path_factory, tmp_path, capsys):
    data = tiny_seg_dataset(tmp_path_factory, 'lits')
    ds = LiTSDataset(
        data_root=data['converted'],
        split='test',
        test_mode=True,
        pipeline=[
            dict(type='cspr_det.LoadVolumeArrays', lazy=False),
            dict(type='cspr_det.PackVolumeSegInputs')
        ])
    hook = SegPredictionWriterHook()
    hook.before_test(SimpleNamespace(work_dir=str(tmp_path)))
    sample = ds[0]['data_samples']
    sample.pred_seg = sample.gt_seg.clone()
    hook.after_test_iter(None, 0, None, [sample])
    metrics = dict(
        classes=['background', 'liver'],
        summary=dict(Dice_liver=1.0, mDice_case=1.0),
        cases=[
            dict(
                case_id=sample.case_id,
                dice=dict(liver=1.0),
                hd95_mm=dict(liver=0.0))
        ])
    json.dump(metrics, open(tmp_path / 'm.json', 'w'))
    tool = load_tool('tools/misc/seg_overlay.py')
    png = str(tmp_path / 'overlay.png')
    assert tool.main([
        '--index',
        osp.join(data['converted'], 'index.json'), '--pred-dir',
        str(tmp_path / 'predictions'), '--metrics',
        str(tmp_path / 'm.json'), '--out', png
    ]) == 0
    out = capsys.readouterr().out
    assert osp.getsize(png) > 1000
    assert f'overlay of {sample.case_id} written' in out
    assert f'{sample.case_id:<16}' in out and '1.0000' in out
    with pytest.raises(SystemExit):
        tool.main(['--index', 'x'])


def test_seg_data_efficiency_plan(tmp_path_factory, tmp_path, capsys):
    """The study on a LiTS config: nested case fractions, the config's
    iterations on every subset, --budget epochs refused."""
    from mmengine.config import Config

    from cspr_det.cli.study_runner import RunResult
    lits = tiny_seg_dataset(tmp_path_factory, 'lits')
    tool = load_tool('tools/analysis_tools/data_efficiency.py')
    config = ('configs/segmentation/lits/'
              'unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py')
    work = str(tmp_path / 'study')
    root = lits['converted'] + '/'
    argv = [
        config, '--fractions', '0.33', '1.0', '--work-dir', work, '--dry-run',
        '--cfg-options', f'train_dataloader.dataset.data_root={root}'
    ]
    assert tool.main(argv + ['--budget', 'epochs']) == 2
    assert 'trains a fixed number of iterations' in capsys.readouterr().err
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert '2 runs planned' in out and '1/3 training patients, 1 cases' in out
    assert '(iters budget)' in out
    small = Config.fromfile(osp.join(work, 'frac_0.33', 'scratch_seed0.py'))
    full = Config.fromfile(osp.join(work, 'frac_1', 'scratch_seed0.py'))
    assert small.train_dataloader.dataset.case_fraction == 0.33
    assert small.train_dataloader.dataset.case_fraction_seed == 0
    assert small.model.backbone.init_cfg is None
    assert small.train_cfg.max_iters == full.train_cfg.max_iters
    args = tool.parse_args(argv)
    args.budget = 'iters'
    runs, infos = tool.plan_runs(args, _cfg(config, root))
    assert [i['train_samples'] for i in infos] == [1, 3]
    results = [
        RunResult(r, metrics={'seg/mDice': 0.8 + 0.1 * i})
        for i, r in enumerate(runs)
    ]
    text = tool.write_summary(args, results, infos, 'seg/mDice')
    assert '| patients (%) | patients | cases | epochs | iterations | ' \
        'scratch |' in text
    assert '| 33 | 1 | 1 | - | 800 | 0.800 (1) |' in text
    # the selection of the former volume tool: the dataset's case_fraction
    # and case_fraction_seed, i.e. choose_patients over the training cases,
    # nested in the fraction
    from cspr_det.datasets.patient_subsets import choose_patients
    cases = [
        LiTSDataset(data_root=root, pipeline=[],
                    serialize_data=False).get_data_info(i)['case_id']
        for i in range(3)
    ]
    for seed in (0, 1, 5):
        previous = set()
        for fraction in (0.33, 0.67, 1.0):
            ds = LiTSDataset(
                data_root=root,
                pipeline=[],
                serialize_data=False,
                case_fraction=fraction,
                case_fraction_seed=seed)
            kept = {ds.get_data_info(i)['case_id'] for i in range(len(ds))}
            assert kept == set(choose_patients(cases, fraction, seed))
            assert previous <= kept
            previous = kept


def test_seg_data_efficiency_runs_a_few_iterations(tmp_path_factory, tmp_path,
                                                   monkeypatch):
    """A few-iteration run of the unified tool on a segmentation config:
    2 iterations on a third of the tiny LiTS training cases, the best
    checkpoint scored on the test cases, the table and plot written; both
    steps in this process (--in-process)."""
    # mmengine formats every config it logs or dumps with yapf (about half
    # of this short run); the text is not under test, its content is kept
    monkeypatch.setattr(mmengine_config, 'FormatCode', lambda text, **kwargs:
                        (text, False))
    lits = tiny_seg_dataset(tmp_path_factory, 'lits')
    tool = load_tool('tools/analysis_tools/data_efficiency.py')
    config = ('configs/segmentation/lits/'
              'unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py')
    root = lits['converted'] + '/'
    work = tmp_path / 'study'
    opts = [
        f'{k}.{o}'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
        for o in (f'dataset.data_root={root}', 'num_workers=0',
                  'persistent_workers=False')
    ]
    # 16 x 32 x 32 crops and windows (the demo's 96 x 96 in-plane is
    # three times the tiny volumes' width)
    opts += [
        'train_dataloader.batch_size=1',
        'train_dataloader.dataset.pipeline.4.crop_size=(32,32)',
        'model.test_cfg.window=(16,32,32)', 'model.test_cfg.stride=(16,32,32)'
    ]
    opts += [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'param_scheduler.0.end=1',
        'param_scheduler.1.begin=1', 'param_scheduler.1.end=2',
        'log_level=WARNING'
    ]
    assert tool.main([
        config, '--fractions', '0.33', '--work-dir',
        str(work), '--in-process', '--report-metrics', 'seg/mHD95',
        '--cfg-options'
    ] + opts) == 0
    run_dir = work / 'frac_0.33' / 'scratch_seed0'
    with open(run_dir / 'study_result.json') as f:
        result = json.load(f)
    assert result['test_command'][1:4] == [
        '-m', 'cspr_det.cli.study_steps', 'test'
    ]
    dice = result['metrics']['seg/mDice']
    with open(work / 'data_efficiency.csv') as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 1 and float(summary[0]['mean']) == dice
    assert (summary[0]['patients'], summary[0]['train_samples'],
            summary[0]['total_iters']) == ('1', '1', '2')
    table = (work / 'data_efficiency.md').read_text()
    assert f'| 33 | 1 | 1 | - | 2 | {dice:.3f} (1) |' in table
    assert osp.getsize(work / 'data_efficiency.png') > 0
    # --report-metrics: the HD95 beside the Dice in the run table, the
    # summary and a second markdown table
    hd95 = result['metrics']['seg/mHD95']
    with open(work / 'data_efficiency_runs.csv') as f:
        run_row, = list(csv.DictReader(f))
    assert run_row['metric'] == 'seg/mDice'
    assert float(run_row['value']) == dice
    assert float(run_row['seg/mHD95']) == hd95
    assert float(summary[0]['seg/mHD95_mean']) == hd95
    assert 'seg/mHD95 on the test split' in table
    assert f'| 33 | 1 | 1 | - | 2 | {hd95:.3f} (1) |' in table
    # and one table of every cell under a root
    collect = load_tool('tools/analysis_tools/collect_studies.py')
    assert collect.main([str(tmp_path), '--out', str(tmp_path / 't.md')]) == 0
    text = (tmp_path / 't.md').read_text()
    assert '| cell | patients (%) | init | seeds | seg/mDice | seg/mHD95 |' \
        in text
    assert f'| study | 33 | scratch | 0 | {dice:.3f} | {hd95:.1f} |' in text


def test_seg_data_efficiency_passes_initializer_options(
        tmp_path_factory, tmp_path, capsys):
    """--init-options reach the pre-trained runs' init_cfg (dry run);
    an option that has its own flag is refused."""
    lits = tiny_seg_dataset(tmp_path_factory, 'lits')
    tool = load_tool('tools/analysis_tools/data_efficiency.py')
    config = ('configs/segmentation/lits/'
              'unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py')
    ckpt = tmp_path / 'pre.pth'
    ckpt.write_bytes(b'x')
    root = lits['converted'] + '/'
    common = [
        config, '--fractions', '0.33', '--pretrained',
        str(ckpt), '--no-scratch', '--dry-run', '--cfg-options',
        f'train_dataloader.dataset.data_root={root}'
    ]
    work = tmp_path / 'study'
    assert tool.main(
        common[:-2] +
        ['--work-dir',
         str(work), '--init-options', 'bn_stats=reset'] + common[-2:]) == 0
    from mmengine.config import Config
    cfg = Config.fromfile(str(work / 'frac_0.33' / 'pretrained_seed0.py'))
    assert cfg.model.backbone.init_cfg.bn_stats == 'reset'
    assert cfg.model.backbone.init_cfg.checkpoint == str(ckpt)
    assert tool.main(
        common[:-2] +
        ['--work-dir', str(work), '--init-options', 'prefix=x.'] +
        common[-2:]) == 2
    assert '--init-options prefix: set it with its own option' in \
        capsys.readouterr().err


def _cfg(config, root):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': root})
    return cfg
