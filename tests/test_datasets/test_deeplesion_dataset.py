"""DeepLesionDataset + slice-stack pipeline on a tiny generated set."""
import json
import logging
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from cspr_det.datasets import DeepLesionDataset
from cspr_det.datasets.deeplesion_coco import convert_deeplesion_csv
from cspr_det.datasets.synthetic import make_synthetic_deeplesion
from cspr_det.registry import DATASETS

META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'flip', 'flip_direction', 'instances', 'slice_interval',
             'spacing', 'z_flip')


@pytest.fixture(autouse=True)
def _mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('dl'))
    make_synthetic_deeplesion(
        root,
        num_patients=4,
        image_size=64,
        seed=5,
        studies_per_patient=(1, 1),
        keys_per_series=(2, 3),
        split_fractions=(0.5, 0.25, 0.25),
        noisy_fraction=0.2,
        min_lesion_px=3,
        context_mm=12)
    convert_deeplesion_csv(
        osp.join(root, 'DL_info.csv'), osp.join(root, 'annotations'))
    return root


def _pipeline(num_slices=3, train=False):
    p = [
        dict(type='cspr_det.LoadDeepLesionSlices', num_slices=num_slices),
        dict(type='LoadAnnotations', with_bbox=True),
    ]
    if train:
        p += [
            dict(type='cspr_det.RandomZFlip', prob=0.5),
            dict(type='RandomFlip', prob=0.5)
        ]
    return p + [dict(type='PackDetInputs', meta_keys=META_KEYS)]


def test_data_list(data_root):
    ds = DeepLesionDataset(
        ann_file='annotations/deeplesion_train.json',
        data_root=data_root,
        lazy_init=False)
    assert ds.metainfo['classes'] == ('lesion', )
    assert ds.metainfo['lesion_types'][0] == 'bone'
    assert ds.metainfo['lesion_types'][7] == 'pelvis'
    info = ds.get_data_info(0)
    assert osp.isfile(info['img_path'])
    assert info['img_path'].startswith(osp.join(data_root, 'Images_png'))
    assert osp.isdir(info['series_dir'])
    assert osp.basename(info['img_path']) == f'{info["key_slice"]:03d}.png'
    for key in ('img_id', 'height', 'width', 'slice_interval', 'spacing',
                'slice_range', 'dicom_window'):
        assert key in info
    inst = info['instances'][0]
    assert set(inst) >= {
        'bbox', 'bbox_label', 'ignore_flag', 'lesion_type', 'noisy', 'recist',
        'diameters'
    }
    x1, y1, x2, y2 = inst['bbox']
    assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
    assert inst['bbox_label'] == 0 and inst['lesion_type'] == -1
    assert ds.get_cat_ids(0) == [0] * len(info['instances'])


def test_drop_noisy(data_root):
    kept, dropped = (DeepLesionDataset(
        ann_file=f'annotations/deeplesion_{s}.json',
        data_root=data_root,
        drop_noisy=d) for s, d in (('train', False), ('train', True)))
    n_kept = sum(len(d['instances']) for d in kept)
    n_noisy = sum(i['noisy'] for d in kept for i in d['instances'])
    n_dropped = sum(len(d['instances']) for d in dropped)
    assert n_noisy >= 1 and n_dropped == n_kept - n_noisy
    assert all(not i['noisy'] for d in dropped for i in d['instances'])
    assert all(d['instances'] for d in dropped)


def test_pipeline_through_registry(data_root):
    ds = DATASETS.build(
        dict(
            type='cspr_det.DeepLesionDataset',
            ann_file='annotations/deeplesion_val.json',
            data_root=data_root,
            data_prefix=dict(img='Images_png/'),
            pipeline=_pipeline(num_slices=3),
            test_mode=True))
    out = ds[0]
    info = ds.get_data_info(0)
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs.shape == (3, 64, 64) and inputs.dtype == torch.float32
    # centre channel = key slice, exact HU through the default window
    hu = cv2.imread(info['img_path'], cv2.IMREAD_UNCHANGED).astype(
        np.float32) - 32768
    expected = np.clip((hu + 1024) / 2074 * 255, 0, 255)
    np.testing.assert_allclose(inputs[1].numpy(), expected, atol=1e-3)
    np.testing.assert_allclose(
        sample.gt_instances.bboxes.numpy(),
        np.array([i['bbox'] for i in info['instances']], np.float32),
        atol=1e-4)
    assert sample.metainfo['slice_interval'] == info['slice_interval']
    assert sample.metainfo['spacing'] == info['spacing']
    assert sample.metainfo['instances'][0]['lesion_type'] >= 1


def test_train_pipeline_compose(data_root):
    ds = DeepLesionDataset(
        ann_file='annotations/deeplesion_train.json',
        data_root=data_root,
        pipeline=_pipeline(num_slices=9, train=True),
        filter_cfg=dict(filter_empty_gt=True))
    np.random.seed(0)
    flips = set()
    for i in range(len(ds)):
        out = ds[i]
        assert out['inputs'].shape == (9, 64, 64)
        flips.add(out['data_samples'].metainfo['z_flip'])
    assert flips == {True, False}
    # Compose works on a data_info directly as well
    info = ds.get_data_info(0)
    out = Compose(_pipeline(num_slices=1))(info)
    assert out['inputs'].shape == (1, 64, 64)


def test_missing_series_folder(data_root, tmp_path):
    ann = osp.join(data_root, 'annotations/deeplesion_train.json')
    ds = DeepLesionDataset(
        ann_file=ann,
        data_root=str(tmp_path),  # no images here
        pipeline=_pipeline(num_slices=3),
        test_mode=True)
    with pytest.raises(OSError, match='no readable slice'):
        ds[0]
    # skip_unreadable: training draws another sample instead of crashing
    pipeline = _pipeline(num_slices=3)
    pipeline[0]['skip_unreadable'] = True
    good = DeepLesionDataset(ann_file=ann, data_root=data_root)
    info = good.get_data_info(0)
    ds = DeepLesionDataset(
        ann_file=ann,
        data_root=data_root,
        pipeline=pipeline,
        serialize_data=False,
        max_refetch=50)
    # break one series completely by pointing it at a missing folder
    ds.data_list[0]['series_dir'] = str(tmp_path / 'gone')
    ds.data_list[0]['img_path'] = str(tmp_path / 'gone' / 'x.png')
    np.random.seed(0)
    with pytest.warns(UserWarning, match='skipping'):
        for _ in range(10):
            out = ds[0]
            assert out['data_samples'].img_id != info['img_id']


def test_missing_ann_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='deeplesion_x.json'):
        DeepLesionDataset(
            ann_file='deeplesion_x.json', data_root=str(tmp_path))


EDGE_ROW = osp.join(
    osp.dirname(__file__), '..', 'data', 'deeplesion', 'DL_info_edge_row.csv')


def _coco_file(path, boxes, size=(64, 64)):
    """A one-image COCO-style file with the given [x, y, w, h] boxes."""
    img = dict(
        id=7,
        file_name='000001_01_01/010.png',
        height=size[0],
        width=size[1],
        slice_interval=2.0,
        spacing=[0.8, 0.8, 2.0],
        slice_range=[5, 15],
        dicom_window=[-175, 275],
        key_slice=10,
        series='000001_01_01')
    anns = [
        dict(
            id=i + 1,
            image_id=7,
            category_id=1,
            bbox=b,
            noisy=0,
            lesion_type=2) for i, b in enumerate(boxes)
    ]
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=[img],
                annotations=anns,
                categories=[dict(id=1, name='lesion')]), f)
    return str(path)


def test_converted_edge_lesion_reaches_the_dataset_clipped(tmp_path):
    summary = convert_deeplesion_csv(EDGE_ROW, str(tmp_path))
    assert summary['clipped'] == 1
    assert summary['splits']['test']['lesions'] == 1
    ds = DeepLesionDataset(
        ann_file=str(tmp_path / 'deeplesion_test.json'),
        data_root=str(tmp_path),
        test_mode=True)
    assert len(ds) == 1
    (inst, ) = ds.get_data_info(0)['instances']
    assert inst['bbox'] == pytest.approx([488.818, 251.689, 512.0, 283.578])


def test_dataset_clips_boxes_past_the_edge(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(
        'cspr_det.datasets.deeplesion_dataset.print_log',
        lambda msg, **kw: logged.append((msg, kw.get('level'))))
    ann = _coco_file(tmp_path / 'a.json',
                     [[10, 20, 8, 6], [-2, 50, 10, 20], [60, 1, 10, 5]])
    ds = DeepLesionDataset(
        ann_file=ann, data_root=str(tmp_path), test_mode=True)
    boxes = [i['bbox'] for i in ds.get_data_info(0)['instances']]
    assert boxes == [[10, 20, 18, 26], [0, 50, 8, 64], [60, 1, 64, 6]]
    assert logged == [(f'{ann}: 2 boxes leave their image and were clipped '
                       'to it', logging.WARNING)]


@pytest.mark.parametrize('box,match', [
    ([70, 10, 5, 5], r'annotation 2 of image 000001_01_01/010\.png: box '
     r'\[70, 10, 75, 15\] lies entirely outside the 64x64 image'),
    ([10, 10, 0, 5], 'annotation 2 .*zero or negative size'),
    ([10, 10, 5], r'annotation 2 .*bbox must be \[x, y, w, h\]'),
    ([10, 'a', 5, 5], 'annotation 2 of image'),
])
def test_dataset_rejects_unusable_boxes(tmp_path, box, match):
    ann = _coco_file(tmp_path / 'a.json', [[10, 20, 8, 6], box])
    with pytest.raises(ValueError, match=match) as err:
        DeepLesionDataset(
            ann_file=ann, data_root=str(tmp_path), test_mode=True)
    assert 'a.json' in str(err.value)
