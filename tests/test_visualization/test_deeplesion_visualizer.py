"""DeepLesionVisualizer: HU window, ground truth and predictions in two
colours; tools/test.py --show-dir; the visualisation hook during
validation."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from cspr_det.registry import VISUALIZERS
from cspr_det.visualization import (DeepLesionVisualizer, crop_around,
                                    enable_test_visualization, hu_to_rgb,
                                    montage, use_deeplesion_visualizer)
from ct_fixtures import DEMO, FAST_OPTIONS
from tool_loader import load_tool

test_tool = load_tool('tools/test.py')
GREEN, RED = (0, 255, 0), (255, 40, 40)


def _sample(tmp_path):
    folder = tmp_path / '000002_01_03'
    folder.mkdir()
    hu = np.full((64, 64), 40, np.int32)
    hu[:, :8] = -1000
    path = str(folder / '007.png')
    assert cv2.imwrite(path, (hu + 32768).astype(np.uint16))
    sample = DetDataSample()
    sample.set_metainfo(
        dict(
            img_path=path,
            ori_shape=(64, 64),
            instances=[dict(bbox=[10, 10, 30, 30], ignore_flag=0)]))
    pred = InstanceData()
    pred.bboxes = torch.tensor([[36., 36., 56., 56.], [12., 40., 24., 52.]])
    pred.scores = torch.tensor([0.9, 0.1])
    pred.labels = torch.tensor([0, 0])
    sample.pred_instances = pred
    return sample


def _rgb_at(img_bgr, x, y):
    return tuple(int(v) for v in img_bgr[y, x, ::-1])


def test_add_datasample_draws_hu_gt_and_predictions(tmp_path):
    vis = VISUALIZERS.build(
        dict(
            type='cspr_det.DeepLesionVisualizer',
            name='vis_unit_test',
            line_width=1))
    assert isinstance(vis, DeepLesionVisualizer)
    sample = _sample(tmp_path)
    # the hook hands over an 8-bit decode of the 16-bit PNG: ignored
    vis.add_datasample(
        'test_img',
        np.zeros((64, 64, 3), np.uint8),
        sample,
        out_file=str(tmp_path / 'show' / '007.png'),
        pred_score_thr=0.3)
    out = cv2.imread(str(tmp_path / 'show' / '000002_01_03_007.png'))
    assert out is not None
    drawn = vis.get_image()
    band = drawn.shape[0] - 512
    assert drawn.shape[1] == 512 and band > 0  # 64 px slice x 8, caption
    np.testing.assert_array_equal(out[..., ::-1], drawn)
    # soft-tissue window: 40 HU -> (40 + 175) / 450 * 255, -1000 HU -> 0
    assert _rgb_at(out, 300, band + 20) == (121, 121, 121)
    assert _rgb_at(out, 10, band + 300) == (0, 0, 0)
    # ground truth (10..30 px -> 80..240 in the drawing) green, the 0.9
    # prediction (36..56 -> 288..448) red, the 0.1 prediction not drawn
    assert _rgb_at(out, 160, band + 80) == GREEN
    assert _rgb_at(out, 368, band + 448) == RED
    assert _rgb_at(out, 96, band + 380) == (121, 121, 121)
    # without out_file the image goes to the backends (none here)
    vis.add_datasample('val_img', None, sample, draw_gt=False)
    assert vis.get_image().shape == drawn.shape


def test_drawing_helpers():
    rgb = hu_to_rgb(np.array([[-175.0, 275.0, 50.0]]))
    assert rgb.shape == (1, 3, 3) and rgb[0, :, 0].tolist() == [0, 255, 127]
    with pytest.raises(ValueError, match='window'):
        hu_to_rgb(np.zeros((2, 2)), (10, 10))
    img = np.full((20, 20, 3), 7, np.uint8)
    crop = crop_around(img, [15, 15, 19, 19], 1.0, min_px=10)
    assert crop.shape == (16, 16, 3)  # 4 px box, 1.5 box sides around
    assert crop[0, 0, 0] == 7 and crop[-1, -1, 0] == 0  # padded past edge
    grid = montage([img, img, img], columns=2, tile_size=16)
    assert grid.shape == (32, 32, 3) and grid[20, 20, 0] == 0


def _data_options(root):
    opts = {
        f'{split}_dataloader.{k}': v
        for split in ('train', 'val', 'test')
        for k, v in (('num_workers', 0), ('persistent_workers', False),
                     ('dataset.data_root', f'{root}/'))
    }
    opts.update(FAST_OPTIONS)
    return opts


def test_show_dir(tiny_deeplesion, vis_detector, tmp_path):
    show = tmp_path / 'show'
    opts = [f'{k}={v}' for k, v in _data_options(tiny_deeplesion).items()]
    args = test_tool.parse_args([
        DEMO, vis_detector, '--work-dir',
        str(tmp_path / 'work'), '--show-dir',
        str(show), '--show-score-thr', '0.2', '--cfg-options'
    ] + opts)
    assert test_tool.main(args) == 0
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_data_options(tiny_deeplesion))
    init_default_scope('mmdet')
    dataset = Runner.build_dataloader(cfg.test_dataloader).dataset
    expected = sorted(f'{osp.basename(osp.dirname(p))}_{osp.basename(p)}'
                      for p in (dataset.get_data_info(i)['img_path']
                                for i in range(len(dataset))))
    drawn = sorted(osp.basename(p) for p in glob.glob(str(show / '*.png')))
    assert drawn == expected and len(drawn) == len(dataset)
    assert cv2.imread(str(show / drawn[0])).shape[1] >= 512


def test_enable_test_visualization_config():
    cfg = Config(
        dict(
            default_hooks=dict(
                visualization=dict(type='DetVisualizationHook')),
            visualizer=dict(
                type='DetLocalVisualizer',
                name='visualizer',
                vis_backends=[dict(type='LocalVisBackend')])))
    out = enable_test_visualization(cfg, 'rel/dir', 0.5)
    hook = cfg.default_hooks.visualization
    assert out == osp.abspath('rel/dir') and hook.test_out_dir == out
    assert hook.draw and hook.interval == 1 and hook.score_thr == 0.5
    assert cfg.visualizer.type == 'cspr_det.DeepLesionVisualizer'
    with pytest.raises(ValueError, match='show-score-thr'):
        enable_test_visualization(cfg, 'x', 1.5)


def test_visualization_hook_during_validation(tiny_deeplesion, tmp_path):
    """One training epoch with the hook switched on: the validation after it
    draws through the DeepLesion visualiser into the local backend."""
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(_data_options(tiny_deeplesion))
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 2,
        'train_dataloader.dataset.indices': 2,
        'val_dataloader.dataset.indices': 2,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1
    })
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.visualization = dict(
        type='DetVisualizationHook', draw=True, interval=1, score_thr=0.1)
    use_deeplesion_visualizer(cfg)
    cfg.visualizer.name = 'val_hook_visualizer'
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.visualizer, DeepLesionVisualizer)
    runner.train()
    images = glob.glob(
        osp.join(cfg.work_dir, '*', 'vis_data', 'vis_image', 'val_img_*.png'))
    assert len(images) == 2  # every validation iteration (interval=1)
    img = cv2.imread(images[0])
    assert img is not None and img.shape[1] >= 512
