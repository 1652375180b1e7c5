"""Small analysis tools: the slice ablation on the shared study runner and the
FROC table printer."""
import json
import os.path as osp

import pytest

from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')


def test_slice_options_set_every_loader_and_the_backbone():
    from mmengine.config import Config
    mod = load_tool('tools/analysis_tools/slice_ablation.py')
    opts = mod.slice_options(DEMO, 3)
    assert 'model.backbone.num_slices=3' in opts
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(dict(o.split('=') for o in opts))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loaders = [
            t for t in cfg[key].dataset.pipeline
            if t['type'] == 'cspr_det.LoadDeepLesionSlices'
        ]
        assert len(loaders) == 1 and int(loaders[0]['num_slices']) == 3
    assert int(cfg.model.backbone.num_slices) == 3


def test_print_froc(tmp_path, capsys):
    import numpy as np

    from cspr_det.evaluation.metrics.deeplesion_froc_metric import \
        DeepLesionFROCMetric
    metric = DeepLesionFROCMetric(out_dir=str(tmp_path), compute_ap50=False)
    inst = [
        dict(
            bbox=[10., 10., 30., 30.],
            lesion_type=4,
            noisy=0,
            diameters=[15., 10.])
    ]
    samples = [
        dict(
            img_id=i,
            img_path=f'{i}.png',
            instances=inst,
            slice_interval=5.0,
            spacing=[0.8, 0.8, 5.0],
            pred_instances=dict(
                bboxes=np.array([[10., 10., 30., 30.], [60., 60., 70., 70.]]),
                scores=np.array([0.9, 0.5]),
                labels=np.array([0, 0]))) for i in range(2)
    ]
    metric.process({}, samples)
    res = metric.evaluate(2)
    assert res['deeplesion/sens@1'] == pytest.approx(1.0)
    mod = load_tool('tools/analysis_tools/print_froc.py')
    assert mod.main([str(tmp_path / 'froc.json')]) == 0
    out = capsys.readouterr().out
    assert 'DeepLesion FROC: 2 images, 2 lesions' in out
    assert 'sens@4' in out
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(a=1)))
    assert mod.main([str(bad)]) == 2
    assert mod.main([str(tmp_path / 'missing.json')]) == 2


FAKE_TRAIN = """
import json, os, sys
argv = sys.argv[1:]
wd = argv[argv.index('--work-dir') + 1]
opts = dict(o.split('=', 1) for o in argv[argv.index('--cfg-options') + 1:])
n = int(opts['model.backbone.num_slices'])
seed = int(opts['randomness.seed'])
with open(os.environ['FAKE_CALLS'], 'a') as f:
    f.write(json.dumps(['train', n, seed, argv]) + '\\n')
os.makedirs(wd, exist_ok=True)
if (n, seed) == (3, 1) and os.environ.get('FAKE_FAIL'):
    sys.exit('error: training diverged')
open(os.path.join(wd, f'best_deeplesion_mean_sens_epoch_{n}.pth'), 'w').close()
"""

FAKE_TEST = """
import json, os, sys
argv = sys.argv[1:]
config, ckpt = argv[0], argv[1]
wd = argv[argv.index('--work-dir') + 1]
opts = dict(o.split('=', 1) for o in argv[argv.index('--cfg-options') + 1:])
n = int(opts['model.backbone.num_slices'])
seed = int(opts['randomness.seed'])
with open(os.environ['FAKE_CALLS'], 'a') as f:
    f.write(json.dumps(['test', n, seed, argv]) + '\\n')
log_dir = os.path.join(wd, '20260101_000000')
os.makedirs(log_dir, exist_ok=True)
m = {f'deeplesion/sens@{r}': n / 10 for r in ('0.5', '1', '2', '4', '8', '16')}
m.update({'deeplesion/mean_sens': n / 10 + seed / 100,
          'deeplesion/ap50': 0.5, 'time': 1.0,
          'checkpoint': os.path.basename(ckpt)})
with open(os.path.join(log_dir, '20260101_000000.json'), 'w') as f:
    json.dump(m, f)
"""


def _fake_scripts(tmp_path, monkeypatch, mod):
    """Point the tool at fast stand-in scripts for the study runner's
    training and test steps that log their calls to FAKE_CALLS."""
    train, test = tmp_path / 'fake_train.py', tmp_path / 'fake_test.py'
    train.write_text(FAKE_TRAIN)
    test.write_text(FAKE_TEST)
    monkeypatch.setattr(mod, 'TRAIN_STEP', [str(train)])
    monkeypatch.setattr(mod, 'TEST_STEP', [str(test)])
    calls = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('FAKE_CALLS', str(calls))
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)

    def read_calls():
        if not calls.exists():
            return []
        return [json.loads(line) for line in calls.read_text().splitlines()]

    return read_calls


def test_slice_ablation_runs_in_parallel_and_reports_failures(
        tmp_path, monkeypatch, capsys):
    """Three parallel runs through the shared study runner: each test gets
    its own run's best checkpoint, a failed run is named and left out of
    the table, the others are reported; --skip-finished then redoes only the
    failed run."""
    mod = load_tool('tools/analysis_tools/slice_ablation.py')
    read_calls = _fake_scripts(tmp_path, monkeypatch, mod)
    monkeypatch.setenv('FAKE_FAIL', '1')
    work = tmp_path / 'work'
    argv = [
        DEMO, '--slices', '1', '3', '9', '--seeds', '0', '1', '--jobs', '3',
        '--work-dir',
        str(work)
    ]
    rc = mod.main(argv)
    out, err = capsys.readouterr()
    assert rc == 1
    assert '3slice_seed1 FAILED: RuntimeError: training exited with 1: ' \
        'error: training diverged' in out
    assert "failed runs, left out of the table: ['3slice_seed1']" in err
    calls = read_calls()
    trains = [c for c in calls if c[0] == 'train']
    tests = [c for c in calls if c[0] == 'test']
    assert len(trains) == 6 and len(tests) == 5
    for _, n, seed, argv_ in trains:
        opts = argv_[argv_.index('--cfg-options') + 1:]
        assert sum(o.endswith(f'num_slices={n}') for o in opts) == 4
        assert argv_[argv_.index('--work-dir') + 1] == str(
            work / f'{n}slice_seed{seed}')
    for _, n, seed, argv_ in tests:
        # the config's own test split, on this run's best checkpoint
        assert argv_[:2] == [
            DEMO,
            str(work / f'{n}slice_seed{seed}' /
                f'best_deeplesion_mean_sens_epoch_{n}.pth')
        ]
        assert argv_[argv_.index('--work-dir') + 1] == str(
            work / f'{n}slice_seed{seed}' / 'test')
    table = (work / 'slice_ablation.md').read_text()
    assert '| 9 | 2 | 0.900 ± 0.000' in table
    assert '| 0.905 ± 0.005 | 0.500 ± 0.000 |' in table
    assert '| 3 | 1 | 0.300 |' in table
    rows = (work / 'slice_ablation.csv').read_text().splitlines()
    assert len(rows) == 1 + 5

    monkeypatch.delenv('FAKE_FAIL')
    assert mod.main(argv + ['--skip-finished']) == 0
    again = read_calls()[len(calls):]
    assert [c[:3] for c in again] == [['train', 3, 1], ['test', 3, 1]]
    table = (work / 'slice_ablation.md').read_text()
    assert '| 3 | 2 | 0.300 ± 0.000' in table


def test_study_runner_reads_back_finished_runs(tmp_path):
    """--skip-finished reads a run's study_result.json, or the test metrics
    log of a run tested before the result file existed; a run missing a
    required metric fails with the keys it has."""
    from cspr_det.cli.study_runner import (StudyRun, StudyRunner,
                                           read_test_metrics)
    runner = StudyRunner(
        str(tmp_path / 'no_train.py'),
        str(tmp_path / 'no_test.py'),
        skip_finished=True,
        required_keys=['deeplesion/mean_sens'])
    old = tmp_path / 'old'
    (old / 'test' / '20250101_000000').mkdir(parents=True)
    (old / 'test' / '20250101_000000' / '20250101_000000.json').write_text(
        json.dumps({
            'deeplesion/mean_sens': 0.3,
            'time': 2.0
        }))
    (old / 'test' / '20250102_000000').mkdir()
    (old / 'test' / '20250102_000000' / '20250102_000000.json').write_text(
        json.dumps({
            'deeplesion/mean_sens': 0.42,
            'note': 'x'
        }))
    assert read_test_metrics(str(old / 'test')) == {
        'deeplesion/mean_sens': 0.42
    }  # the newest, numbers only
    res = runner.run_one(StudyRun('old', DEMO, str(old)))
    assert res.ok and res.reused and res.metrics['deeplesion/mean_sens'] == \
        0.42
    new = tmp_path / 'new'
    new.mkdir()
    (new / 'study_result.json').write_text(
        json.dumps(
            dict(metrics={'deeplesion/mean_sens': 0.5}, checkpoint='b.pth')))
    res = runner.run_one(StudyRun('new', DEMO, str(new)))
    assert res.metrics == {'deeplesion/mean_sens': 0.5}
    assert res.checkpoint == 'b.pth'
    run = StudyRun('new', DEMO, str(new))
    (new / 'study_result.json').write_text(
        json.dumps(
            dict(
                metrics={'deeplesion/mean_sens': 0.5},
                fingerprint=runner.fingerprint(run))))
    assert runner.run_one(run).reused
    # saved for another config or other options: not read back, run again
    other = StudyRun('new', DEMO, str(new), cfg_options=['a=1'])
    res = runner.run_one(other)
    assert not res.ok and 'training exited with' in res.error
    (new / 'study_result.json').write_text(
        json.dumps(dict(metrics={'dice/mean': 0.5})))
    res = runner.run_one(StudyRun('new', DEMO, str(new)))
    assert not res.ok
    assert "lack ['deeplesion/mean_sens']; they have ['dice/mean']" in \
        res.error
    # not finished and the training script is missing: a failed run
    res = runner.run_one(StudyRun('none', DEMO, str(tmp_path / 'none')))
    assert not res.ok and 'training exited with' in res.error
    with pytest.raises(FileNotFoundError, match='no test metrics log'):
        read_test_metrics(str(tmp_path / 'none'))
