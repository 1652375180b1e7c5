import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

from cspr_det.datasets.transforms import (LoadImageVDT, PackVDTInputs,
                                          RandomResizedCropVDT,
                                          RandomSlicePermute, ResizeShortEdge)


def _png(tmp_path, arr, name='x.png'):
    path = osp.join(str(tmp_path), name)
    assert cv2.imwrite(path, arr)
    return path


def test_load_rgb_order_and_shape(tmp_path):
    bgr = np.zeros((5, 7, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # B, G, R
    out = LoadImageVDT()(dict(img_path=_png(tmp_path, bgr)))
    assert out['img'].shape == (5, 7, 3)
    assert out['img'].dtype == np.uint8
    # slices are R, G, B
    assert out['img'][0, 0].tolist() == [30, 20, 10]
    assert out['img_shape'] == (5, 7) and out['ori_shape'] == (5, 7)


def test_load_grayscale_replicated(tmp_path):
    gray = np.arange(35, dtype=np.uint8).reshape(5, 7)
    out = LoadImageVDT(to_float32=True)(dict(img_path=_png(tmp_path, gray)))
    assert out['img'].shape == (5, 7, 3)
    assert out['img'].dtype == np.float32
    for s in range(3):
        np.testing.assert_array_equal(out['img'][..., s], gray)


def test_load_rgba_drops_alpha(tmp_path):
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., :3] = (1, 2, 3)
    bgra[..., 3] = 255
    out = LoadImageVDT()(dict(img_path=_png(tmp_path, bgra)))
    assert out['img'][0, 0].tolist() == [3, 2, 1]


def test_load_errors(tmp_path):
    bad = osp.join(str(tmp_path), 'broken.png')
    with open(bad, 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(IOError, match='broken.png'):
        LoadImageVDT()(dict(img_path=bad))
    with pytest.raises(IOError, match='missing.png'):
        LoadImageVDT()(dict(img_path=osp.join(str(tmp_path), 'missing.png')))
    img16 = np.full((4, 4), 1000, np.uint16)
    with pytest.raises(ValueError, match='8-bit'):
        LoadImageVDT()(dict(img_path=_png(tmp_path, img16, 'a16.png')))


def _stack():
    # slice s is constant s*10 + position so every slice is distinguishable
    img = np.zeros((6, 8, 3), np.uint8)
    for s in range(3):
        img[..., s] = s * 50 + np.arange(8, dtype=np.uint8)[None]
    return img


def test_slice_permute_really_permutes():
    img = _stack()
    transform = RandomSlicePermute()
    orders = set()
    np.random.seed(0)
    for _ in range(60):
        out = transform(dict(img=img.copy()))
        order = out['slice_order']
        assert sorted(order) == [0, 1, 2]
        for i, src in enumerate(order):
            np.testing.assert_array_equal(out['img'][..., i], img[..., src])
        orders.add(tuple(order))
    # all 6 permutations of 3 slices occur in 60 draws
    assert len(orders) == 6
    # prob=0 never permutes
    out = RandomSlicePermute(prob=0.0)(dict(img=img.copy()))
    assert out['slice_order'] == [0, 1, 2]
    np.testing.assert_array_equal(out['img'], img)
    with pytest.raises(ValueError, match='prob'):
        RandomSlicePermute(prob=1.5)


def test_slice_permute_deterministic_and_stateless():
    img = _stack()
    transform = RandomSlicePermute()
    before = copy.deepcopy(transform.__dict__)

    def run(seed):
        set_random_seed(seed)
        return [
            transform(dict(img=img.copy()))['slice_order'] for _ in range(10)
        ]

    assert run(3) == run(3)
    assert run(3) != run(4)
    assert transform.__dict__ == before


def test_random_resized_crop_and_resize_short_edge():
    img = np.random.RandomState(0).randint(0, 255,
                                           (40, 60, 3)).astype(np.uint8)
    crop = RandomResizedCropVDT(scale=(16, 24))
    np.random.seed(1)
    a = crop(dict(img=img.copy()))
    np.random.seed(1)
    b = crop(dict(img=img.copy()))
    assert a['img'].shape == (16, 24, 3)
    assert a['img_shape'] == (16, 24)
    np.testing.assert_array_equal(a['img'], b['img'])
    x1, y1, x2, y2 = a['crop_bbox']
    assert 0 <= x1 < x2 <= 60 and 0 <= y1 < y2 <= 40
    # a crop of a constant-per-slice stack keeps every slice's value
    const = np.zeros((30, 30, 3), np.uint8)
    const[..., 1] = 7
    out = RandomResizedCropVDT(scale=8)(dict(img=const))
    assert out['img'].shape == (8, 8, 3)
    assert (out['img'][..., 1] == 7).all() and (out['img'][..., 0] == 0).all()
    with pytest.raises(ValueError, match='crop_ratio_range'):
        RandomResizedCropVDT(crop_ratio_range=(0.5, 2.0))

    res = ResizeShortEdge(scale=20)(dict(img=img.copy()))
    assert res['img'].shape == (20, 30, 3)
    tall = ResizeShortEdge(scale=10)(dict(img=img.transpose(1, 0, 2).copy()))
    assert tall['img'].shape == (15, 10, 3)


def test_pack_inputs():
    img = _stack()
    out = PackVDTInputs()(
        dict(img=img, gt_label=2, img_path='a.png', slice_order=[2, 0, 1]))
    assert out['inputs'].shape == (3, 6, 8)
    assert out['inputs'].dtype == torch.uint8
    assert torch.equal(out['inputs'][1], torch.from_numpy(img[..., 1]))
    sample = out['data_samples']
    assert sample.gt_label.tolist() == [2]
    assert sample.img_path == 'a.png'
    assert sample.slice_order == [2, 0, 1]
    # test-time sample without label
    assert 'gt_label' not in PackVDTInputs()(dict(img=img))['data_samples']


def test_config_pipelines_shapes_and_seed(tmp_path):
    """The ImageNet config pipelines give (3, 224, 224) inputs; training
    output is reproducible under mmengine's seed."""
    from mmengine.config import Config
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        osp.join(
            osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets',
            'imagenet_vdt.py'))
    rgb = np.random.RandomState(0).randint(0, 255,
                                           (300, 260, 3)).astype(np.uint8)
    path = _png(tmp_path, rgb)
    train = Compose(cfg.train_pipeline)
    test = Compose(cfg.test_pipeline)

    def run(seed):
        set_random_seed(seed)
        return train(dict(img_path=path, gt_label=1))

    a, b = run(0), run(0)
    assert a['inputs'].shape == (3, 224, 224)
    assert torch.equal(a['inputs'], b['inputs'])
    assert a['data_samples'].slice_order == b['data_samples'].slice_order
    t = test(dict(img_path=path, gt_label=1))
    assert t['inputs'].shape == (3, 224, 224)
    assert 'slice_order' not in t['data_samples']
