"""The data-efficiency study: patient-level subsets through the dataset
arguments (the same patients as the former COCO-rewriting tool), training
budgets, seed aggregation, launcher pass-through, and one real run scored on
the test split through the shared study runner."""
import csv
import glob
import json
import math
import os.path as osp
import re
import sys

import mmengine.config.config as mmengine_config
import numpy as np
import pytest
from mmengine.config import Config

from cspr_det.cli import study_steps
from cspr_det.cli.study_runner import (TEST_STEP, TRAIN_STEP, RunResult,
                                       StudyRun, StudyRunner, aggregate)
from cspr_det.cli.training_budget import budget_epochs, scale_epoch_schedule
from cspr_det.datasets import DeepLesionDataset
from cspr_det.datasets.patient_subsets import choose_patients
from tool_loader import load_tool

de = load_tool('tools/analysis_tools/data_efficiency.py')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')

# ---------------------------------------------------------------------------
# The selection of the former detection study tool, which wrote the patient
# subset as a new COCO file (tools/analysis_tools/data_efficiency.py up to
# this change: patient_of and subsample_coco, verbatim in behaviour). The
# README tables were made with it; DeepLesionDataset(patient_fraction=...)
# must keep the same patients and images for the same seed.
_OLD_SERIES_RE = re.compile(r'(?:^|[/\\])(\d{6})_\d{2}_\d{2}(?:[/\\_]|$)')


def _old_patient_of(record, patient_key):
    keys = [patient_key] if patient_key else []
    keys += ['patient', 'patient_id', 'Patient_index', 'patient_index']
    for key in keys:
        if key in record and record[key] not in (None, ''):
            return str(int(record[key])) if str(
                record[key]).isdigit() else str(record[key])
    for key in ('file_name', 'img_path', 'series'):
        value = record.get(key)
        if isinstance(value, str):
            m = _OLD_SERIES_RE.search(value)
            if m:
                return str(int(m.group(1)))
    raise KeyError(f'no patient id in record {str(record)[:200]}')


def _old_subsample_coco(ann, fraction, seed, patient_key=None):
    """(kept patient ids, kept image records) of the former tool."""
    image_patient = {
        img['id']: _old_patient_of(img, patient_key)
        for img in ann['images']
    }
    annotated = {
        image_patient[a['image_id']]
        for a in ann['annotations'] if a['image_id'] in image_patient
    }
    keep = set(choose_patients(sorted(annotated), fraction, seed))
    images = [img for img in ann['images'] if image_patient[img['id']] in keep]
    return keep, images


# ---------------------------------------------------------------------------


def _coco(num_patients=20, images_per_patient=3, patient_field=None):
    """A COCO-style DeepLesion file: every 5th patient has no annotation;
    the patient is named by the series in the file name, or by
    ``patient_field(p)`` in an image field ``patient`` when given."""
    images, anns = [], []
    img_id = ann_id = 0
    for p in range(1, num_patients + 1):
        for s in range(images_per_patient):
            img_id += 1
            img = dict(
                id=img_id,
                file_name=f'{p:06d}_01_0{s + 1}/010.png',
                height=64,
                width=64,
                key_slice=10,
                slice_interval=2.5,
                spacing=[0.8, 0.8, 2.5],
                slice_range=[1, 20],
                dicom_window=[-1024, 1050])
            if patient_field is not None:
                img['patient'] = patient_field(p)
            images.append(img)
            if p % 5 != 0:  # every 5th patient has no annotation
                ann_id += 1
                anns.append(
                    dict(
                        id=ann_id,
                        image_id=img_id,
                        bbox=[1, 1, 4, 4],
                        noisy=int(p % 7 == 0)))
    return dict(
        images=images,
        annotations=anns,
        categories=[dict(id=1, name='lesion')])


def _dataset(path, **kwargs):
    # not serialized: mmengine's gc.collect() would take most of the time
    return DeepLesionDataset(
        ann_file=str(path),
        data_prefix=dict(img=''),
        pipeline=[],
        serialize_data=False,
        **kwargs)


def _write(tmp_path, name, ann):
    path = tmp_path / name
    path.write_text(json.dumps(ann))
    return path


def _tiny_options(root, max_epochs=None, batch_size=2):
    opts = [
        f'{k}.dataset.data_root={root}/'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.num_workers=0', f'{key}.persistent_workers=False']
    opts += [
        f'train_dataloader.batch_size={batch_size}',
        'default_hooks.logger.interval=1'
    ]
    if max_epochs is not None:  # a real run: short, at the native 64 px
        opts += [
            f'train_cfg.max_epochs={max_epochs}', 'param_scheduler.0.end=2',
            'train_dataloader.dataset.pipeline.2.scales=[(64,64)]',
            'val_dataloader.dataset.pipeline.1.scale=(64,64)',
            'test_dataloader.dataset.pipeline.1.scale=(64,64)'
        ]
    return opts


def _trainable_images(coco_or_path, images=None):
    """Images the demo training set keeps: at least one lesion that is not
    flagged noisy (drop_noisy=True, filter_empty_gt=True); only those of
    ``images`` when given."""
    coco = coco_or_path
    if not isinstance(coco, dict):
        with open(coco_or_path) as f:
            coco = json.load(f)
    ids = None if images is None else {img['id'] for img in images}
    return len({
        a['image_id']
        for a in coco['annotations']
        if not a.get('noisy', 0) and (ids is None or a['image_id'] in ids)
    })


def _trainable_patients(coco, images):
    """Patients of the trainable images (see above) among ``images``: the
    patients the study counts (those with training samples)."""
    by_id = {img['id']: img for img in images}
    return {
        _old_patient_of(by_id[a['image_id']], None)
        for a in coco['annotations']
        if not a.get('noisy', 0) and a['image_id'] in by_id
    }


def test_choose_patients_deterministic_nested():
    pats = [str(i) for i in range(100)]
    a = choose_patients(pats, 0.2, seed=0)
    assert a == choose_patients(list(reversed(pats)), 0.2, seed=0)
    assert len(a) == 20
    assert set(a) <= set(choose_patients(pats, 0.6, seed=0))
    assert a != choose_patients(pats, 0.2, seed=1)
    assert len(choose_patients(pats, 0.001, seed=0)) == 1
    assert len(choose_patients(pats, 1.0, seed=0)) == 100
    with pytest.raises(ValueError, match='fraction'):
        choose_patients(pats, 0.0, seed=0)


def test_deeplesion_patient_fraction_is_patient_level(tmp_path):
    ann = _coco()
    path = _write(tmp_path, 'train.json', ann)
    ds = _dataset(path, patient_fraction=0.25)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    pats = {info['patient_id'] for info in infos}
    assert len(pats) == 4  # ceil(0.25 * 16 annotated patients)
    assert all(int(p) % 5 != 0 for p in pats)  # annotated patients only
    # whole patients: all 3 images of every kept patient, with their boxes
    assert len(ds) == 12
    assert sum(len(info['instances']) for info in infos) == 12
    # nested: the 25 % patients are among the 50 % ones, for one seed
    half = _dataset(path, patient_fraction=0.5)
    half_pats = {half.get_data_info(i)['patient_id'] for i in range(len(half))}
    assert len(half_pats) == 8 and pats < half_pats
    other = _dataset(path, patient_fraction=0.25, patient_fraction_seed=1)
    assert {other.get_data_info(i)['patient_id']
            for i in range(len(other))} != pats
    # 1.0 (the default): the whole file
    full = _dataset(path)
    assert len(full) == 60
    assert len({full.get_data_info(i)['patient_id']
                for i in range(len(full))}) == 20
    # the explicit patient field wins over the file name
    for img in ann['images']:
        img['patient'] = 7
    one = _dataset(_write(tmp_path, 'one.json', ann), patient_fraction=0.5)
    assert len(one) == 60
    assert {one.get_data_info(i)['patient_id'] for i in range(60)} == {'7'}
    # patient_key names another field
    for img in ann['images']:
        img['case'] = img['file_name'][:6]
    keyed = _dataset(
        _write(tmp_path, 'keyed.json', ann),
        patient_fraction=0.25,
        patient_key='case')
    assert {keyed.get_data_info(i)['patient_id']
            for i in range(len(keyed))} == pats
    # no patient anywhere: refused when subsampling, None otherwise
    bare = dict(
        ann,
        images=[
            dict(img, file_name=f'img{img["id"]}.png') for img in ann['images']
        ])
    for img in bare['images']:
        del img['patient']
    bare_path = _write(tmp_path, 'bare.json', bare)
    with pytest.raises(KeyError, match='bare.json: no patient id'):
        _dataset(bare_path, patient_fraction=0.5)
    assert _dataset(bare_path).get_data_info(0)['patient_id'] is None
    with pytest.raises(ValueError, match='patient_fraction must be in'):
        _dataset(path, patient_fraction=0.0)


@pytest.mark.parametrize('naming', ['file_name', 'int', 'padded'])
def test_deeplesion_selects_the_patients_of_the_former_tool(tmp_path, naming):
    """Same seed, same patients and images as the COCO-rewriting tool, for
    patients named by the series, by an int field and by a zero-padded
    string field (both normalised to the unpadded number)."""
    field = dict(
        file_name=None,
        int=lambda p: 100 + 3 * p,
        padded=lambda p: f'{100 + 3 * p:06d}')[naming]
    ann = _coco(num_patients=37, patient_field=field)
    path = _write(tmp_path, 'train.json', ann)
    for seed in (0, 1, 7):
        previous = set()
        for fraction in (0.1, 0.2, 0.25, 0.4, 0.6, 0.9):
            keep, images = _old_subsample_coco(ann, fraction, seed)
            ds = _dataset(
                path, patient_fraction=fraction, patient_fraction_seed=seed)
            infos = [ds.get_data_info(i) for i in range(len(ds))]
            assert {i['patient_id'] for i in infos} == keep
            assert [i['img_id']
                    for i in infos] == [img['id'] for img in images]
            assert previous <= keep  # nested
            previous = keep
        # 1.0: every annotated patient, as before; the images of patients
        # without any annotation stay in the file (the converter writes
        # none: every image is a key slice with a lesion)
        keep, images = _old_subsample_coco(ann, 1.0, seed)
        full = _dataset(path, patient_fraction=1.0)
        annotated = [
            full.get_data_info(i) for i in range(len(full))
            if full.get_data_info(i)['instances']
        ]
        assert {i['patient_id'] for i in annotated} == keep
        assert [i['img_id']
                for i in annotated] == [img['id'] for img in images]


def test_converted_deeplesion_selection_matches_the_former_tool(
        tiny_deeplesion):
    """On the converter's own output (tools/dataset_converters/deeplesion.py
    via convert_deeplesion_csv), every split and fraction: the former
    tool's patients and images, 1.0 included."""
    ann_dir = osp.join(tiny_deeplesion, 'annotations')
    for split in ('train', 'val', 'test'):
        path = osp.join(ann_dir, f'deeplesion_{split}.json')
        with open(path) as f:
            ann = json.load(f)
        for seed in (0, 3):
            for fraction in (0.3, 0.5, 1.0):
                keep, images = _old_subsample_coco(ann, fraction, seed)
                ds = _dataset(
                    path,
                    patient_fraction=fraction,
                    patient_fraction_seed=seed)
                infos = [ds.get_data_info(i) for i in range(len(ds))]
                assert {i['patient_id'] for i in infos} == keep
                assert [i['img_id']
                        for i in infos] == [img['id'] for img in images]


def test_files_the_dataset_does_not_read_are_refused(tmp_path):
    """The study no longer rewrites annotation files; DeepLesionDataset
    reads COCO-style JSON only: DL_info.csv and mmengine data_list files
    are refused with the file named."""
    csv_file = tmp_path / 'DL_info.csv'
    csv_file.write_text('File_name,Patient_index\n')
    with pytest.raises(ValueError, match='DL_info.csv.*convert'):
        _dataset(csv_file, patient_fraction=0.5)
    data_list = tmp_path / 'list.json'
    data_list.write_text(json.dumps(dict(metainfo={}, data_list=[])))
    with pytest.raises(KeyError, match="list.json has no 'images'"):
        _dataset(data_list, patient_fraction=0.5)
    for gone in ('subsample_coco', 'subsample_file', 'subsample_csv_rows',
                 'subsample_data_list'):
        assert not hasattr(de, gone)


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
        run = StudyRun(
            f'{fraction}{init}{seed}',
            'c.py',
            'w',
            factors=dict(fraction=fraction, init=init, seed=seed))
        if value is None:
            return RunResult(run, error='RuntimeError: diverged')
        return RunResult(run, metrics={'m': value})

    results = [
        res(0.5, 'scratch', s, v) for s, v in enumerate([0.5, 0.7, 0.9])
    ]
    results += [
        res(0.5, 'pretrained', 0, 0.8),
        res(0.5, 'pretrained', 1, None)
    ]  # a failed seed
    results += [res(1.0, 'scratch', s, v) for s, v in enumerate([0.6, 0.8])]
    results += [res(1.0, 'pretrained', 0, 0.9)]
    rows = aggregate(results, ('fraction', 'init'), ['m'])
    scratch = next(
        r for r in rows if (r['fraction'], r['init']) == (0.5, 'scratch'))
    assert scratch['n'] == 3
    assert scratch['m'] == pytest.approx(0.7)
    assert scratch['m_std'] == pytest.approx(math.sqrt(0.08 / 3))
    pre = next(
        r for r in rows if (r['fraction'], r['init']) == (0.5, 'pretrained'))
    assert pre['n'] == 1 and pre['m_values'] == [0.8]
    infos = [
        dict(
            fraction=f,
            epochs=e,
            total_iters=100,
            patients=p,
            train_samples=10 * p) for f, e, p in ((0.5, 48, 2), (1.0, 24, 4))
    ]
    summary = de.summarize(results, infos, 'm', 'iters')
    assert [(r['fraction'], r['init'])
            for r in summary] == [(0.5, 'pretrained'), (0.5, 'scratch'),
                                  (1.0, 'pretrained'), (1.0, 'scratch')]
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
    """The steps are Python (``-m cspr_det.cli.study_steps train|test``),
    under torchrun with --launcher pytorch; a script path still runs as a
    script."""
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '4,5,6,7')
    runner = StudyRunner(launcher='pytorch', gpus=2, jobs=2, master_port=29600)
    run = StudyRun('r', 'cfg.py', '/w/r', cfg_options=['a=1'])
    cmd = runner.train_command(run, slot=1)
    assert cmd[:12] == [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes', '1',
        '--nproc_per_node', '2', '--master_port', '29601', '-m',
        'cspr_det.cli.study_steps', 'train'
    ]
    assert cmd[12:] == [
        'cfg.py', '--work-dir', '/w/r', '--launcher', 'pytorch',
        '--cfg-options', 'a=1'
    ]
    test = runner.test_command(run, '/w/r/best.pth', slot=0)
    assert test[8:12] == ['29600', '-m', 'cspr_det.cli.study_steps', 'test']
    assert test[12:] == [
        'cfg.py', '/w/r/best.pth', '--work-dir', '/w/r/test', '--launcher',
        'pytorch', '--cfg-options', 'a=1'
    ]
    assert runner.env(0)['CUDA_VISIBLE_DEVICES'] == '4,5'
    assert runner.env(1)['CUDA_VISIBLE_DEVICES'] == '6,7'
    # the steps import the cspr_det that this process imported
    import cspr_det
    assert runner.env(0)['PYTHONPATH'].split(osp.pathsep)[0] == osp.dirname(
        osp.dirname(osp.abspath(cspr_det.__file__)))
    single = StudyRunner()
    assert single.train_command(run)[:4] == [sys.executable] + list(TRAIN_STEP)
    assert single.test_command(
        run, 'b.pth')[:4] == [sys.executable] + list(TEST_STEP)
    assert '--launcher' not in single.train_command(run)
    script = StudyRunner('tools/train.py', 'tools/test.py')
    assert script.train_command(run)[:2] == [
        sys.executable, osp.abspath('tools/train.py')
    ]
    with pytest.raises(ValueError, match='--gpus 2 needs --launcher pytorch'):
        StudyRunner(gpus=2)
    with pytest.raises(ValueError, match='needs 6 devices'):
        StudyRunner(launcher='pytorch', gpus=2, jobs=3)
    # in-process: the package's steps, one job, no launcher
    assert StudyRunner(
        in_process=True).train_command(run)[1:4] == list(TRAIN_STEP)
    with pytest.raises(ValueError, match='no launcher and one job'):
        StudyRunner(in_process=True, jobs=2)
    with pytest.raises(ValueError, match='no launcher and one job'):
        StudyRunner(in_process=True, launcher='pytorch')
    with pytest.raises(ValueError, match='default steps'):
        StudyRunner('tools/train.py', 'tools/test.py', in_process=True)


def test_study_steps_report_bad_input_in_one_line(tmp_path, capsys):
    """python -m cspr_det.cli.study_steps: a missing checkpoint or config
    ends the step with one line on stderr and exit status 2."""
    with pytest.raises(SystemExit) as exit_:
        study_steps.main([
            'test', DEMO,
            str(tmp_path / 'none.pth'), '--work-dir',
            str(tmp_path / 'w')
        ])
    assert exit_.value.code == 2
    # (library warnings of the config loading may come before it)
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == \
        f'error: checkpoint not found: {tmp_path / "none.pth"}'
    assert 'Traceback' not in err
    with pytest.raises(SystemExit) as exit_:
        study_steps.main([
            'train',
            str(tmp_path / 'none.py'), '--work-dir',
            str(tmp_path / 'w')
        ])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == \
        f'error: config file not found: {tmp_path / "none.py"}'
    assert 'Traceback' not in err
    assert not osp.exists(tmp_path / 'w')


def _train_json(root):
    with open(osp.join(root, 'annotations', 'deeplesion_train.json')) as f:
        return json.load(f)


def test_dry_run_plans_the_iteration_budget(tiny_deeplesion, tmp_path, capsys):
    """Equal iterations: the half-data runs train proportionally more epochs
    (and scaled milestones / validation interval); the subset is the
    dataset's patient_fraction (the annotation file stays), with the former
    tool's patients; every run keeps the test split of the config; the
    launcher reaches the planned commands."""
    ckpt = tmp_path / 'pre.pth'
    ckpt.write_bytes(b'x')
    work = tmp_path / 'work'
    argv = [
        DEMO, '--pretrained',
        str(ckpt), '--fractions', '0.5', '1.0', '--work-dir',
        str(work), '--dry-run', '--budget', 'iters', '--seeds', '0', '1',
        '--exclude', 'collapse', '--adapt-in-channels', r'^conv1\.weight$',
        '--launcher', 'pytorch', '--gpus', '2', '--cfg-options'
    ] + _tiny_options(tiny_deeplesion)
    assert de.main(argv) == 0
    out = capsys.readouterr().out
    assert '8 runs planned' in out
    with open(work / 'data_efficiency_runs.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['fraction'], r['init'], r['seed'])
            for r in rows] == [(f, i, s) for f in ('0.5', '1.0')
                               for i in ('pretrained', 'scratch')
                               for s in ('0', '1')]
    assert all(r['status'] == 'planned' for r in rows)
    assert 'torch.distributed.run --nnodes 1 --nproc_per_node 2 ' \
        '--master_port 29500 -m cspr_det.cli.study_steps train' in \
        rows[0]['command']
    assert rows[0]['command'].endswith('--launcher pytorch')
    ann = _train_json(tiny_deeplesion)
    keep, images = _old_subsample_coco(ann, 0.5, 0)
    n_full = _trainable_images(ann)
    n_half = _trainable_images(ann, images)
    assert 0 < n_half < n_full
    patients = len(_trainable_patients(ann, images))
    total = len(_trainable_patients(ann, ann['images']))
    assert 0 < patients <= len(keep)
    assert f'fraction 0.5: {patients}/{total} training patients, ' \
        f'{n_half} images' in out
    epochs_half = round(24 * n_full / n_half)
    half, full = rows[0], rows[-1]
    assert int(half['train_samples']) == n_half
    assert int(full['train_samples']) == n_full
    assert (int(half['patients']), int(full['patients'])) == (patients, total)
    assert (int(half['epochs']), int(full['epochs'])) == (epochs_half, 24)
    assert int(half['iters_per_epoch']) == math.ceil(n_half / (2 * 2))
    cfg = Config.fromfile(str(work / 'frac_0.5' / 'pretrained_seed1.py'))
    assert cfg.train_cfg.max_epochs == epochs_half
    assert cfg.param_scheduler[1].milestones == [
        round(m * epochs_half / 24) for m in (18, 22)
    ]
    assert cfg.randomness.seed == 1
    train = cfg.train_dataloader.dataset
    assert train.ann_file == 'annotations/deeplesion_train.json'
    assert (train.patient_fraction, train.patient_fraction_seed) == (0.5, 0)
    assert not osp.exists(work / 'frac_0.5' / 'train_subset.json')
    assert cfg.test_dataloader.dataset.ann_file == \
        'annotations/deeplesion_test.json'
    assert 'patient_fraction' not in cfg.test_dataloader.dataset
    init = cfg.model.backbone.init_cfg
    assert (init.checkpoint, init.prefix, init.exclude,
            init.adapt_in_channels) == (str(ckpt), 'backbone.', ['collapse'],
                                        [r'^conv1\.weight$'])
    scratch = Config.fromfile(str(work / 'frac_1' / 'scratch_seed0.py'))
    assert scratch.model.backbone.init_cfg is None
    assert scratch.train_cfg.max_epochs == 24
    with pytest.raises(ValueError, match='--adapt-in-channels needs'):
        de.backbone_init(
            str(ckpt), 'Pretrained', 'backbone.', adapt_in_channels=['conv1'])
    assert de.main([DEMO, '--seed', '1', '--dry-run']) == 2
    # the subset seed reaches the dataset
    assert de.main(argv[:1] + [
        '--fractions', '0.5', '--subset-seed', '3', '--work-dir',
        str(tmp_path / 'w3'), '--dry-run', '--cfg-options'
    ] + _tiny_options(tiny_deeplesion)) == 0
    seeded = Config.fromfile(
        str(tmp_path / 'w3' / 'frac_0.5' / 'scratch_seed0.py'))
    assert seeded.train_dataloader.dataset.patient_fraction_seed == 3


def test_configs_the_study_cannot_subset_are_refused(tmp_path, capsys):
    """One line on stderr, exit status 2, nothing planned: a training set
    without patients (the VDT pre-training images), --patient-key for a
    non-DeepLesion config."""
    vdt = osp.join(REPO, 'configs', 'pretrain',
                   'vdt_mp3d18ba-gtm-c16_1xb64-cosine-3e_fashion-mnist.py')
    work = tmp_path / 'w'
    assert de.main([vdt, '--dry-run', '--work-dir', str(work)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: the config trains on "
                              "'cspr_det.ImageFolderDataset'; the study "
                              'needs one of cspr_det.DeepLesionDataset, '
                              'cspr_det.LIDCNoduleDataset, '
                              'cspr_det.BaseVolumeSegDataset')
    lidc = osp.join(REPO, 'configs', 'classification', 'lidc',
                    'resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py')
    assert de.main(
        [lidc, '--patient-key', 'pid', '--dry-run', '--work-dir',
         str(work)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'error: --patient-key is for DeepLesion configs; this one trains '
        'on LIDCNoduleDataset')
    assert not osp.exists(work)


def test_runner_scores_the_best_checkpoint_on_the_test_split(
        tiny_deeplesion, tmp_path, monkeypatch):
    """One real 1-epoch run: the training step on the patient subset, then
    the test step on its best checkpoint, scored on the test annotations
    (both in this process, --in-process; the LIDC study test runs the
    steps in their own processes)."""
    # mmengine formats every config it logs or dumps with yapf (about half
    # of this short run); the text is not under test, its content is kept
    monkeypatch.setattr(mmengine_config, 'FormatCode', lambda text, **kwargs:
                        (text, False))
    work = tmp_path / 'work'
    argv = [
        DEMO, '--fractions', '0.5', '--work-dir',
        str(work), '--in-process', '--cfg-options'
    ] + _tiny_options(tiny_deeplesion, 1, 4)
    assert de.main(argv) == 0
    run_dir = work / 'frac_0.5' / 'scratch_seed0'
    with open(run_dir / 'study_result.json') as f:
        result = json.load(f)
    best = glob.glob(str(run_dir / 'best_deeplesion_mean_sens_epoch_1.pth'))
    assert len(best) == 1 and result['checkpoint'] == best[0]
    assert result['train_command'][1:4] == list(TRAIN_STEP)
    assert result['test_command'][1:4] == list(TEST_STEP)
    assert result['test_command'][-4:] == [
        str(run_dir) + '.py', best[0], '--work-dir',
        str(run_dir / 'test')
    ]
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
    # trained on the subset: the fraction in the logged config, the
    # former tool's patients in the dataset's log line, ceil(n / 4)
    # iterations in the epoch
    train = _train_json(tiny_deeplesion)
    keep, images = _old_subsample_coco(train, 0.5, 0)
    n_sub = _trainable_images(train, images)
    log = open(glob.glob(str(run_dir / '*' / '*.log'))[-1]).read()
    assert re.search(r'patient_fraction=0\.5', log)
    n_annotated = len(_old_subsample_coco(train, 1.0, 0)[0])
    assert f'patient fraction 0.5 (seed 0): {len(keep)} of {n_annotated} ' \
        f'annotated patients, {len(images)} of {len(train["images"])} ' \
        'images' in log
    per_epoch = math.ceil(n_sub / 4)
    assert re.search(rf'Epoch\(train\)\s+\[1\]\[{per_epoch}/{per_epoch}\]',
                     log)
    with open(work / 'data_efficiency.csv') as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 1 and summary[0]['n'] == '1'
    assert float(summary[0]['mean']) == pytest.approx(
        result['metrics']['deeplesion/mean_sens'])
    patients = len(_trainable_patients(train, images))
    assert int(summary[0]['patients']) == patients
    table = (work / 'data_efficiency.md').read_text()
    assert '| patients (%) | patients | images | epochs | iterations | ' \
        'scratch |' in table
    assert f'| 50 | {patients} | {n_sub} | 1 | {per_epoch} | ' \
        f'{result["metrics"]["deeplesion/mean_sens"]:.3f} (1) |' in table
    assert osp.getsize(work / 'data_efficiency.png') > 0
    # planned again, same configs: --skip-finished reads the run back
    saved = osp.getmtime(run_dir / 'study_result.json')
    logs = sorted(glob.glob(str(run_dir / '*' / '*.log')))
    assert de.main(argv + ['--skip-finished']) == 0
    assert osp.getmtime(run_dir / 'study_result.json') == saved
    assert sorted(glob.glob(str(run_dir / '*' / '*.log'))) == logs
