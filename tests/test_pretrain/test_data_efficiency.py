import csv
import json

import pytest
from tool_loader import load_tool

de = load_tool('tools/analysis_tools/data_efficiency.py')


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
    full, info_full = de.subsample_coco(ann, 1.0, seed=0)
    assert info_full['patients'] == 16
    # the explicit patient field wins over the file name
    for img in ann['images']:
        img['patient'] = 7
    _, info7 = de.subsample_coco(ann, 1.0, seed=0)
    assert info7['patients'] == 1


def test_subsample_csv_and_data_list(tmp_path):
    rows = [dict(File_name=f'{p:06d}_01_01_010.png', Patient_index=str(p),
                 Train_Val_Test='1' if p <= 10 else '3')
            for p in range(1, 15)]
    kept, info = de.subsample_csv_rows(rows, 0.5, seed=0)
    assert info['patients'] == 5 and info['patients_total'] == 10
    assert sum(r['Train_Val_Test'] == '3' for r in kept) == 4
    data = dict(metainfo={}, data_list=[
        dict(img_path=f'x/{p:06d}_01_01/001.png',
             instances=[dict(bbox=[0, 0, 1, 1])] if p % 2 else [])
        for p in range(10)])
    sub, info = de.subsample_data_list(data, 0.4, seed=0)
    assert info['patients_total'] == 5 and info['patients'] == 2
    with pytest.raises(KeyError, match='patient'):
        de.patient_of(dict(file_name='no_patient.png'), None)


def test_subsample_file_and_dry_run(tmp_path):
    ann_dir = tmp_path / 'data'
    ann_dir.mkdir()
    with open(ann_dir / 'train.json', 'w') as f:
        json.dump(_coco(), f)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "model = dict(type='X', backbone=dict(type='Y'))\n"
        "train_dataloader = dict(dataset=dict(type='RepeatDataset', times=2,"
        f" dataset=dict(type='Z', data_root='{ann_dir}/', "
        "ann_file='train.json')))\n")
    work = tmp_path / 'work'
    ckpt = tmp_path / 'pre.pth'
    ckpt.write_bytes(b'x')
    assert de.main([str(cfg), '--pretrained', str(ckpt), '--fractions',
                    '0.5', '1.0', '--work-dir', str(work), '--dry-run',
                    '--exclude', 'collapse',
                    '--adapt-in-channels', r'^conv1\.weight$']) == 0
    with open(work / 'data_efficiency.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['fraction'], r['init']) for r in rows] == [
        ('0.5', 'pretrained'), ('0.5', 'scratch'), ('1.0', 'pretrained'),
        ('1.0', 'scratch')]
    assert rows[0]['patients'] == '8'
    from mmengine.config import Config
    run_cfg = Config.fromfile(str(work / 'frac_0.5' / 'pretrained' /
                                  'config.py'))
    inner = run_cfg.train_dataloader.dataset.dataset
    assert inner.ann_file == str(work / 'frac_0.5' / 'train_subset.json')
    assert run_cfg.model.backbone.init_cfg.checkpoint == str(ckpt)
    assert run_cfg.model.backbone.init_cfg.prefix == 'backbone.'
    assert run_cfg.model.backbone.init_cfg.exclude == ['collapse']
    assert run_cfg.model.backbone.init_cfg.adapt_in_channels == [
        r'^conv1\.weight$']
    with pytest.raises(ValueError, match='--adapt-in-channels needs'):
        de.backbone_init(str(ckpt), 'Pretrained', 'backbone.',
                         adapt_in_channels=['conv1'])
    scratch = Config.fromfile(str(work / 'frac_0.5' / 'scratch' /
                                  'config.py'))
    assert scratch.model.backbone.init_cfg is None
    with open(inner.ann_file) as f:
        assert len(json.load(f)['images']) == 24


def test_read_last_metric(tmp_path):
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        '{"loss": 1.0, "step": 1}\n'
        '{"deeplesion/mean_sens": 0.25, "step": 1}\n'
        '{"deeplesion/mean_sens": 0.5, "step": 2}\n')
    assert de.read_last_metric(str(tmp_path / 'run'),
                               'deeplesion/mean_sens') == 0.5
    assert de.read_last_metric(str(tmp_path / 'run'), 'other') is None
