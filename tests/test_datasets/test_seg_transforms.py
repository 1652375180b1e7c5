"""3D segmentation transforms: exact shapes and values, same seed -> same
sample, ``self`` unchanged, the foreground-overlap probability of the
z-crop, and a training sample that reads only its window."""
import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from cspr_det.datasets.transforms import (HUWindow3D, LoadVolumeArrays,
                                          PackVolumeSegInputs, RandomCrop3D,
                                          RandomFlip3D, RandomScale3D,
                                          RandomZCrop3D)
from cspr_det.structures import VolumeSegDataSample


def _volume(d=40, h=24, w=20, fg=(30, 33)):
    rng = np.random.default_rng(0)
    img = rng.integers(-1000, 1000, size=(d, h, w)).astype(np.int16)
    seg = np.zeros((d, h, w), np.uint8)
    seg[fg[0]:fg[1] + 1, 5:15, 4:12] = 1
    seg[fg[0] + 1, 8:10, 6:8] = 2
    return img, seg


def _results(tmp_path=None, fg=(30, 33), lazy=False):
    img, seg = _volume(fg=fg)
    if tmp_path is not None:
        np.save(tmp_path / 'img.npy', img)
        np.save(tmp_path / 'seg.npy', seg)
        return dict(
            img_path=str(tmp_path / 'img.npy'),
            seg_map_path=str(tmp_path / 'seg.npy'),
            case_id='c0',
            fg_z_range=list(fg),
            class_z_ranges={1: list(fg)},
            spacing=(1.0, 0.8, 0.8))
    return dict(
        img=img,
        gt_seg=seg,
        fg_z_range=list(fg),
        case_id='c0',
        class_z_ranges={
            1: list(fg),
            2: [fg[0] + 1, fg[0] + 1]
        })


def _train_pipeline():
    return [
        dict(type='cspr_det.LoadVolumeArrays', lazy=True),
        dict(type='cspr_det.RandomZCrop3D', size=8, fg_prob=0.5),
        dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', )),
        dict(type='cspr_det.RandomScale3D', scale_range=(0.8, 1.2)),
        dict(type='cspr_det.RandomCrop3D', crop_size=(16, 16)),
        dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('x', )),
        dict(type='cspr_det.HUWindow3D', window=(-200, 250)),
        dict(type='cspr_det.PackVolumeSegInputs')
    ]


def _build(cfgs):
    from mmengine.registry import TRANSFORMS, init_default_scope
    init_default_scope('mmdet')
    return [TRANSFORMS.build(c) for c in cfgs]


def test_training_pipeline_shapes_seed_and_self(tmp_path):
    transforms = _build(_train_pipeline())
    pipeline = Compose(transforms)
    states = [copy.deepcopy(t.__dict__) for t in transforms]
    base = _results(tmp_path)
    outs = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        outs.append(pipeline(copy.deepcopy(base)))
    a, b, c = outs
    assert a['inputs'].shape == (1, 8, 16, 16)
    assert a['inputs'].dtype == torch.float32
    assert 0 <= float(a['inputs'].min()) and float(a['inputs'].max()) <= 255
    assert isinstance(a['data_samples'], VolumeSegDataSample)
    assert a['data_samples'].gt_seg.shape == (8, 16, 16)
    assert a['data_samples'].gt_seg.dtype == torch.int64
    assert a['data_samples'].img_shape == (8, 16, 16)
    assert a['data_samples'].case_id == 'c0'
    assert a['data_samples'].spacing == (1.0, 0.8, 0.8)
    # same seed, same sample; another seed, another sample
    assert torch.equal(a['inputs'], b['inputs'])
    assert torch.equal(a['data_samples'].gt_seg, b['data_samples'].gt_seg)
    assert a['data_samples'].metainfo == b['data_samples'].metainfo
    assert not (torch.equal(a['inputs'], c['inputs'])
                and a['data_samples'].z_crop == c['data_samples'].z_crop)
    # transforms keep no per-call state
    for t, s in zip(transforms, states):
        assert t.__dict__.keys() == s.keys()
        for k in s:
            assert repr(t.__dict__[k]) == repr(s[k])


def test_load_is_lazy_and_z_crop_reads_only_its_window(tmp_path):
    res = LoadVolumeArrays(lazy=True)(_results(tmp_path))
    assert isinstance(res['img'], np.memmap)
    assert isinstance(res['gt_seg'], np.memmap)
    assert res['img_shape'] == res['ori_shape'] == (40, 24, 20)
    np.random.seed(0)
    out = RandomZCrop3D(size=8, fg_prob=1.0)(res)
    assert type(out['img']) is np.ndarray  # copied window, not the map
    z0, z1 = out['z_crop']
    img, seg = _volume()
    np.testing.assert_array_equal(out['img'], img[z0:z1])
    np.testing.assert_array_equal(out['gt_seg'], seg[z0:z1])
    assert z0 <= 33 and z1 - 1 >= 30
    eager = LoadVolumeArrays(lazy=False)(_results(tmp_path))
    assert type(eager['img']) is np.ndarray


def test_load_errors_name_the_case(tmp_path):
    res = _results(tmp_path)
    res['seg_map_path'] = str(tmp_path / 'missing.npy')
    with pytest.raises(FileNotFoundError, match='c0: label array not found'):
        LoadVolumeArrays()(res)
    (tmp_path / 'bad.npy').write_bytes(b'\x93NUMPY garbage')
    res = _results(tmp_path)
    res['img_path'] = str(tmp_path / 'bad.npy')
    with pytest.raises(ValueError, match='c0: cannot read image array'):
        LoadVolumeArrays()(res)


@pytest.mark.parametrize('fg_prob', [0.0, 0.3, 1.0])
def test_z_crop_foreground_probability(fg_prob):
    # D = 40, window 8 -> 33 starts; the foreground (slices 30-33)
    # overlaps windows starting at 23..32: q = 10 / 33 by chance
    t = RandomZCrop3D(size=8, fg_prob=fg_prob)
    base = _results()
    np.random.seed(0)
    n = 3000
    hits = 0
    for _ in range(n):
        z0 = t.choose_start(base, 40)
        assert 0 <= z0 <= 32
        hits += 23 <= z0 <= 32
    q = 10 / 33
    expected = fg_prob + (1 - fg_prob) * q
    sd = np.sqrt(expected * (1 - expected) / n) + 1e-9
    assert abs(hits / n - expected) < 4 * sd + 1e-3


def test_z_crop_class_balanced_and_padding():
    t = RandomZCrop3D(size=4, fg_prob=1.0, class_balanced=True)
    base = _results()
    np.random.seed(1)
    starts = [t.choose_start(base, 40) for _ in range(400)]
    # class 2 sits on slice 31 only: windows 28-31 reach it
    assert all(27 <= s <= 33 for s in starts)
    assert any(s <= 29 for s in starts)
    small = dict(
        img=np.zeros((3, 4, 4), np.int16), gt_seg=np.ones((3, 4, 4), np.uint8))
    out = RandomZCrop3D(size=5, pad_val=-1024, seg_pad_val=255)(small)
    assert out['img'].shape == (5, 4, 4)
    assert (out['img'][3:] == -1024).all() and (out['gt_seg'][3:] == 255).all()
    assert (out['gt_seg'][:3] == 1).all() and out['z_crop'] == (0, 3)
    with pytest.raises(ValueError, match='fg_prob'):
        RandomZCrop3D(fg_prob=1.5)


def test_flip_axes_and_label_swap():
    img, seg = _volume()
    seg[0, 0, 0], seg[0, 0, 1] = 2, 3
    res = RandomFlip3D(
        prob=1.0, axes=('z', 'x'), swap_labels=((2, 3), ))(
            dict(img=img.copy(), gt_seg=seg.copy()))
    assert res['flip_3d'] == ('z', 'x')
    np.testing.assert_array_equal(res['img'], img[::-1, :, ::-1])
    lut = np.arange(256)
    lut[2], lut[3] = 3, 2
    np.testing.assert_array_equal(res['gt_seg'], lut[seg[::-1, :, ::-1]])
    res = RandomFlip3D(prob=0.0, axes=('z', ))(dict(img=img.copy()))
    assert res['flip_3d'] == () and np.array_equal(res['img'], img)
    with pytest.raises(ValueError, match='axes'):
        RandomFlip3D(axes=('q', ))


def test_scale_exact_shape_and_labels():
    img, seg = _volume()
    np.random.seed(0)
    t = RandomScale3D(scale_range=(1.5, 1.5))
    res = t(dict(img=img.copy(), gt_seg=seg.copy()))
    assert res['img'].shape == (40, 36, 30) == res['gt_seg'].shape
    assert res['img'].dtype == np.int16 and res['scale_factor'] == 1.5
    assert set(np.unique(res['gt_seg'])) <= {0, 1, 2}
    # nearest-neighbour labels: the box 5:15 x 4:12 scales to about
    # 7.5:22.5 x 6:18
    assert res['gt_seg'][31, 15, 12] == 1 and res['gt_seg'][31, 30, 25] == 0
    # constant image stays constant under linear interpolation
    flat = RandomScale3D(scale_range=(0.8, 0.8))(
        dict(img=np.full((3, 10, 10), 77, np.int16)))
    assert flat['img'].shape == (3, 8, 8) and (flat['img'] == 77).all()


def test_crop_exact_shape_and_padding():
    img, seg = _volume()
    np.random.seed(0)
    res = RandomCrop3D(crop_size=(16, 16))(dict(img=img, gt_seg=seg))
    y0, x0 = res['crop_offset']
    np.testing.assert_array_equal(res['img'], img[:, y0:y0 + 16, x0:x0 + 16])
    np.testing.assert_array_equal(res['gt_seg'], seg[:, y0:y0 + 16,
                                                     x0:x0 + 16])
    res = RandomCrop3D(crop_size=(30, 21))(dict(img=img, gt_seg=seg))
    assert res['img'].shape == (40, 30, 21)
    # height 24 -> 30: 3 rows of padding above and below (width 20 -> 21)
    assert (res['img'][:, :3] == -1024).all()
    assert (res['gt_seg'][:, -3:] == 255).all()
    assert res['crop_offset'] == (0, 0)  # the only window of that size
    np.testing.assert_array_equal(res['img'][:, 3:27, :20], img)
    assert (res['img'][:, :, 20] == -1024).all()


def test_hu_window_exact_values():
    img = np.array([[[-1024, -200, 25, 250, 3000]]], np.int16)
    out = HUWindow3D(window=(-200, 250))(dict(img=img))['img']
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [0, 0, 127.5, 255, 255])
    with pytest.raises(ValueError, match='window'):
        HUWindow3D(window=(10, 10))


def test_pack_maps_labels_through_lut():
    img, seg = _volume(d=4, h=6, w=5, fg=(1, 2))
    seg[0, 0, 0] = 255
    seg[1, 5, 4] = 2
    lut = np.full(256, 255, np.uint8)
    lut[:3] = [0, 1, 1]  # LiTS liver task: tumour merged into liver
    out = PackVolumeSegInputs()(
        dict(
            img=img.astype(np.float32),
            gt_seg=seg,
            label_lut=lut,
            case_id='v1',
            source=dict(size_xyz=[5, 6, 4])))
    gt = out['data_samples'].gt_seg
    assert out['inputs'].shape == (1, 4, 6, 5)
    assert gt.dtype == torch.int64
    assert set(gt.unique().tolist()) == {0, 1, 255}
    assert int(gt[1, 5, 4]) == 1 and int(gt[0, 0, 0]) == 255
    assert int(gt[1, 0, 0]) == 0
    assert out['data_samples'].source == dict(size_xyz=[5, 6, 4])
    with pytest.raises(ValueError, match='differs'):
        PackVolumeSegInputs()(dict(img=img, gt_seg=seg[:2]))
