"""The data-efficiency study: patient-level subsets, training budgets, seed
aggregation, launcher pass-through, and one real run scored on the test
split through the shared study runner."""
import csv
import glob
import json
import math
import os.path as osp
import re
import sys

import numpy as np
import pytest
from mmengine.config import Config
from tool_loader import load_tool

from cspr_det.utils.study_runner import (RunResult, StudyRun, StudyRunner,
                                         aggregate)
from cspr_det.utils.training_budget import (budget_epochs,
                                            scale_epoch_schedule)

de = load_tool('tools/analysis_tools/data_efficiency.py')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')


def _coco(num_patients=20, images_per_patient=3):
    images, anns = [], []
    img_id = ann_id = 0
    for p in range(1, num_patients + 1):
        for s in range(images_per_patient):
            img_id += 1
            images.append(
                dict(id=img_id, file_name=f'{p:06d}_01_0{s + 1}/010.png'))
            if p % 5 != 0:  # every 5th patient has no annotation
                ann_id += 1
                anns.append(dict(id=ann_id, image_id=img_id,
                                 bbox=[1, 1, 4, 4]))
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='lesion')])


def _tiny_options(root, max_epochs=None, batch_size=2):
    opts = [f'{k}.dataset.data_root={root}/' for k in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.num_workers=0', f'{key}.persistent_workers=False']
    opts += [f'train_dataloader.batch_size={batch_size}',
             'default_hooks.logger.interval=1']
    if max_epochs is not None:  # a real run: short, at the native 64 px
        opts += [f'train_cfg.max_epochs={max_epochs}',
                 'param_scheduler.0.end=2',
                 'train_dataloader.dataset.pipeline.2.scales=[(64,64)]',
                 'val_dataloader.dataset.pipeline.1.scale=(64,64)',
                 'test_dataloader.dataset.pipeline.1.scale=(64,64)']
    return opts


def _trainable_images(path):
    """Images the demo training set keeps: at least one lesion that is not
    flagged noisy (drop_noisy=True, filter_empty_gt=True)."""
    with open(path) as f:
        coco = json.load(f)
    return len({a['image_id'] for a in coco['annotations']
                if not a.get('noisy', 0)})


def test_choose_patients_deterministic_nested():
    pats = [str(i) for i in range(100)]
    a = de.choose_patients(pats, 0.2, seed=0)
    assert a == de.choose_patients(list(reversed(pats)), 0.2, seed=0)
    assert len(a) == 20
    assert set(a) <= set(de.choose_patients(pats, 0.6, seed=0))
    assert a != de.choose_patients(pats, 0.2, seed=1)
    assert len(de.choose_patients(pats, 0.001, seed=0)) == 1
    assert len(de.choose_patients(pats, 1.0, seed=0)) == 100
    with pytest.raises(ValueError, match='fraction'):
        de.choose_patients(pats, 0.0, seed=0)


def test_subsample_coco_patient_level():
    ann = _coco()
    sub, info = de.subsample_coco(ann, 0.25, seed=0)
    assert info['patients_total'] == 16  # annotated patients only
    assert info['patients'] == 4
    pats = {de.patient_of(img, None) for img in sub['images']}
    assert len(pats) == 4
    # whole patients: all 3 images of every kept patient
    assert len(sub['images']) == 12 == info['images']
    kept_ids = {img['id'] for img in sub['images']}
    assert all(a['image_id'] in kept_ids for a in sub['annotations'])
    assert len(sub['annotations']) == 12
    assert sub['categories'] == ann['categories']
    _, info_full = de.subsample_coco(ann, 1.0, seed=0)
    assert info_full['patients'] == 16
    # the explicit patient field wins over the file name
    for img in ann['images']:
        img['patient'] = 7
    _, info7 = de.subsample_coco(ann, 1.0, seed=0)
    assert info7['patients'] == 1
    with pytest.raises(KeyError, match='patient'):
        de.patient_of(dict(file_name='no_patient.png'), None)


def test_only_files_the_dataset_reads_are_subsampled(tmp_path):
    """DeepLesionDataset reads COCO-style JSON only: DL_info.csv and
    mmengine data_list files are refused with the file named."""
    csv_file = tmp_path / 'DL_info.csv'
    csv_file.write_text('File_name,Patient_index\n')
    with pytest.raises(ValueError, match='DL_info.csv.*convert'):
        de.subsample_file(str(csv_file), str(tmp_path / 'o.json'), 0.5, 0)
    data_list = tmp_path / 'list.json'
    data_list.write_text(json.dumps(dict(metainfo={}, data_list=[])))
    with pytest.raises(ValueError, match='list.json: not COCO-style'):
        de.subsample_file(str(data_list), str(tmp_path / 'o.json'), 0.5, 0)
    assert not hasattr(de, 'subsample_csv_rows')
    assert not hasattr(de, 'subsample_data_list')


def test_budget_epochs():
    assert budget_epochs(24, 1000, 100, 'epochs') == 24
    assert budget_epochs(24, 1000, 100, 'iters') == 240
    # closest whole number of epochs: 24 * 1000 / 300 = 80, 24 * 7 / 3 = 56
    assert budget_epochs(24, 1000, 300, 'iters') == 80
    assert budget_epochs(24, 7, 3, 'iters') == 56
    assert budget_epochs(24, 1000, 1000, 'iters') == 24
    with pytest.raises(ValueError, match='budget must be one of'):
        budget_epochs(24, 10, 1, 'compute')
    with pytest.raises(ValueError, match='positive'):
        budget_epochs(24, 10, 0, 'iters')


def test_scale_epoch_schedule_keeps_the_shape_of_the_schedule():
    cfg = Config.fromfile(DEMO)
    out = scale_epoch_schedule(cfg, 240)
    assert out['old_epochs'] == 24 and out['new_epochs'] == 240
    assert cfg.train_cfg.max_epochs == 240
    assert cfg.train_cfg.val_interval == 20  # 12 validations, as at 24
    assert cfg.default_hooks.checkpoint.interval == 10
    warmup, steps = cfg.param_scheduler
    assert (warmup.by_epoch, warmup.begin, warmup.end) == (False, 0, 100)
    assert steps.milestones == [180, 220] and steps.end == 240
    # fewer epochs: rounded, never below one epoch between validations
    cfg = Config.fromfile(DEMO)
    scale_epoch_schedule(cfg, 6)
    assert cfg.param_scheduler[1].milestones == [4, 6]  # 4.5 -> 4, 5.5 -> 6
    assert cfg.train_cfg.val_interval == 1
    cfg = Config.fromfile(DEMO)
    assert scale_epoch_schedule(cfg, 24)['changed'] == []
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=100)
    with pytest.raises(ValueError, match='EpochBasedTrainLoop'):
        scale_epoch_schedule(cfg, 10)


def test_seeds_aggregate_to_mean_and_population_std(tmp_path):
    def res(fraction, init, seed, value):
        run = StudyRun(f'{fraction}{init}{seed}', 'c.py', 'w',
                       factors=dict(fraction=fraction, init=init, seed=seed))
        if value is None:
            return RunResult(run, error='RuntimeError: diverged')
        return RunResult(run, metrics={'m': value})

    results = [res(0.5, 'scratch', s, v) for s, v in
               enumerate([0.5, 0.7, 0.9])]
    results += [res(0.5, 'pretrained', 0, 0.8),
                res(0.5, 'pretrained', 1, None)]  # a failed seed
    results += [res(1.0, 'scratch', s, v) for s, v in enumerate([0.6, 0.8])]
    results += [res(1.0, 'pretrained', 0, 0.9)]
    rows = aggregate(results, ('fraction', 'init'), ['m'])
    scratch = next(r for r in rows
                   if (r['fraction'], r['init']) == (0.5, 'scratch'))
    assert scratch['n'] == 3
    assert scratch['m'] == pytest.approx(0.7)
    assert scratch['m_std'] == pytest.approx(math.sqrt(0.08 / 3))
    pre = next(r for r in rows
               if (r['fraction'], r['init']) == (0.5, 'pretrained'))
    assert pre['n'] == 1 and pre['m_values'] == [0.8]
    infos = [dict(fraction=f, epochs=e, total_iters=100, patients=p,
                  train_samples=10 * p) for f, e, p in ((0.5, 48, 2),
                                                        (1.0, 24, 4))]
    summary = de.summarize(results, infos, 'm', 'iters')
    assert [(r['fraction'], r['init']) for r in summary] == [
        (0.5, 'pretrained'), (0.5, 'scratch'), (1.0, 'pretrained'),
        (1.0, 'scratch')]
    assert summary[1]['values'] == '0.5;0.7;0.9'
    table = de.markdown(summary, 'm', 'iters')
    assert '| 50 | 2 | 20 | 48 | 100 | 0.800 (1) | 0.700 ± 0.163 (3) |' \
        in table
    # pre-trained 0.8 at 50 % >= scratch 0.7 at 100 %
    assert 'reaches the 100 % scratch mean (0.700): 50 %' in table
    drawn = de.plot(summary, 'm', 'title', str(tmp_path / 'p.png'))
    assert osp.getsize(tmp_path / 'p.png') > 0
    x, mean, std = drawn['scratch']
    np.testing.assert_allclose(x, [50, 100])
    np.testing.assert_allclose(mean, [0.7, 0.7])
    np.testing.assert_allclose(std, [math.sqrt(0.08 / 3), 0.1])
    np.testing.assert_allclose(drawn['pretrained'][2], [0, 0])  # one seed


def test_launcher_is_passed_through(monkeypatch):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '4,5,6,7')
    runner = StudyRunner('tools/train.py', 'tools/test.py',
                         launcher='pytorch', gpus=2, jobs=2,
                         master_port=29600)
    run = StudyRun('r', 'cfg.py', '/w/r', cfg_options=['a=1'])
    cmd = runner.train_command(run, slot=1)
    assert cmd[:10] == [sys.executable, '-m', 'torch.distributed.run',
                        '--nnodes', '1', '--nproc_per_node', '2',
                        '--master_port', '29601',
                        osp.abspath('tools/train.py')]
    assert cmd[10:] == ['cfg.py', '--work-dir', '/w/r', '--launcher',
                        'pytorch', '--cfg-options', 'a=1']
    test = runner.test_command(run, '/w/r/best.pth', slot=0)
    assert test[8:10] == ['29600', osp.abspath('tools/test.py')]
    assert test[10:] == ['cfg.py', '/w/r/best.pth', '--work-dir',
                         '/w/r/test', '--launcher', 'pytorch',
                         '--cfg-options', 'a=1']
    assert runner.env(0)['CUDA_VISIBLE_DEVICES'] == '4,5'
    assert runner.env(1)['CUDA_VISIBLE_DEVICES'] == '6,7'
    single = StudyRunner('tools/train.py', 'tools/test.py')
    assert single.train_command(run)[:2] == [
        sys.executable, osp.abspath('tools/train.py')]
    assert '--launcher' not in single.train_command(run)
    with pytest.raises(ValueError, match='--gpus 2 needs --launcher pytorch'):
        StudyRunner('t', 't', gpus=2)
    with pytest.raises(ValueError, match='needs 6 devices'):
        StudyRunner('t', 't', launcher='pytorch', gpus=2, jobs=3)


def test_dry_run_plans_the_iteration_budget(tiny_deeplesion, tmp_path):
    """Equal iterations: the half-data runs train proportionally more epochs
    (and scaled milestones / validation interval); every run keeps the test
    split of the config; the launcher reaches the planned commands."""
    ckpt = tmp_path / 'pre.pth'
    ckpt.write_bytes(b'x')
    work = tmp_path / 'work'
    argv = [DEMO, '--pretrained', str(ckpt), '--fractions', '0.5', '1.0',
            '--work-dir', str(work), '--dry-run', '--budget', 'iters',
            '--seeds', '0', '1', '--exclude', 'collapse',
            '--adapt-in-channels', r'^conv1\.weight$', '--launcher',
            'pytorch', '--gpus', '2', '--cfg-options'
            ] + _tiny_options(tiny_deeplesion)
    assert de.main(argv) == 0
    with open(work / 'data_efficiency_runs.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['fraction'], r['init'], r['seed']) for r in rows] == [
        (f, i, s) for f in ('0.5', '1.0') for i in ('pretrained', 'scratch')
        for s in ('0', '1')]
    assert all(r['status'] == 'planned' for r in rows)
    assert 'torch.distributed.run --nnodes 1 --nproc_per_node 2' in \
        rows[0]['command']
    assert rows[0]['command'].endswith('--launcher pytorch')
    ann = osp.join(tiny_deeplesion, 'annotations')
    n_full = _trainable_images(osp.join(ann, 'deeplesion_train.json'))
    n_half = _trainable_images(work / 'frac_0.5' / 'train_subset.json')
    assert 0 < n_half < n_full
    epochs_half = round(24 * n_full / n_half)
    half, full = rows[0], rows[-1]
    assert int(half['train_samples']) == n_half
    assert int(full['train_samples']) == n_full
    assert (int(half['epochs']), int(full['epochs'])) == (epochs_half, 24)
    assert int(half['iters_per_epoch']) == math.ceil(n_half / (2 * 2))
    cfg = Config.fromfile(str(work / 'frac_0.5' / 'pretrained_seed1.py'))
    assert cfg.train_cfg.max_epochs == epochs_half
    assert cfg.param_scheduler[1].milestones == [
        round(m * epochs_half / 24) for m in (18, 22)]
    assert cfg.randomness.seed == 1
    assert cfg.train_dataloader.dataset.ann_file == str(
        work / 'frac_0.5' / 'train_subset.json')
    assert cfg.test_dataloader.dataset.ann_file == \
        'annotations/deeplesion_test.json'
    init = cfg.model.backbone.init_cfg
    assert (init.checkpoint, init.prefix, init.exclude,
            init.adapt_in_channels) == (str(ckpt), 'backbone.',
                                        ['collapse'], [r'^conv1\.weight$'])
    scratch = Config.fromfile(str(work / 'frac_1' / 'scratch_seed0.py'))
    assert scratch.model.backbone.init_cfg is None
    assert scratch.train_cfg.max_epochs == 24
    with pytest.raises(ValueError, match='--adapt-in-channels needs'):
        de.backbone_init(str(ckpt), 'Pretrained', 'backbone.',
                         adapt_in_channels=['conv1'])
    assert de.main([DEMO, '--seed', '1', '--dry-run']) == 2


def test_runner_scores_the_best_checkpoint_on_the_test_split(
        tiny_deeplesion, tmp_path):
    """One real 1-epoch run: tools/train.py on the patient subset, then
    tools/test.py on its best checkpoint, scored on the test annotations."""
    work = tmp_path / 'work'
    argv = [DEMO, '--fractions', '0.5', '--work-dir', str(work),
            '--cfg-options'] + _tiny_options(tiny_deeplesion, 1, 4)
    assert de.main(argv) == 0
    run_dir = work / 'frac_0.5' / 'scratch_seed0'
    with open(run_dir / 'study_result.json') as f:
        result = json.load(f)
    best = glob.glob(str(run_dir / 'best_deeplesion_mean_sens_epoch_1.pth'))
    assert len(best) == 1 and result['checkpoint'] == best[0]
    assert result['test_command'][-4:] == [
        str(run_dir) + '.py', best[0], '--work-dir',
        str(run_dir / 'test')]
    # scored on the test split: its images, not the validation split's
    ann = osp.join(tiny_deeplesion, 'annotations')
    n_test = _trainable_images(osp.join(ann, 'deeplesion_test.json'))
    n_val = _trainable_images(osp.join(ann, 'deeplesion_val.json'))
    assert n_test != n_val
    with open(run_dir / 'test' / 'froc.json') as f:
        froc = json.load(f)
    assert froc['num_images'] == n_test
    assert froc['metrics']['mean_sens'] == pytest.approx(
        result['metrics']['deeplesion/mean_sens'])
    assert froc['metrics']['ap50'] == pytest.approx(
        result['metrics']['deeplesion/ap50'])
    # trained on the subset: its file in the logged config, ceil(n / 4)
    # iterations in the epoch
    n_sub = _trainable_images(work / 'frac_0.5' / 'train_subset.json')
    log = open(glob.glob(str(run_dir / '*' / '*.log'))[-1]).read()
    subset = re.escape(str(work / 'frac_0.5' / 'train_subset.json'))
    assert re.search(rf"ann_file=\s*'{subset}'", log)
    per_epoch = math.ceil(n_sub / 4)
    assert re.search(rf'Epoch\(train\)\s+\[1\]\[{per_epoch}/{per_epoch}\]',
                     log)
    with open(work / 'data_efficiency.csv') as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 1 and summary[0]['n'] == '1'
    assert float(summary[0]['mean']) == pytest.approx(
        result['metrics']['deeplesion/mean_sens'])
    assert osp.isfile(work / 'data_efficiency.png')
    # planned again, same configs: --skip-finished reads the run back
    logged = osp.getmtime(run_dir / 'train_stdout.log')
    assert de.main(argv + ['--skip-finished']) == 0
    assert osp.getmtime(run_dir / 'train_stdout.log') == logged
