"""Every 3D segmentation config builds: its model runs a training step and a
prediction on a small volume, its datasets load a sample of a tiny synthetic
LiTS/BTCV through the configured pipelines, its schedule is the reference
one, pre-trained encoders load from real checkpoint layouts, and a few
Runner iterations (train, validate, test with the NIfTI writer) run for each
config family."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cspr_det.structures import VolumeSegDataSample
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'segmentation', 'lits', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'segmentation', 'btcv', '*.py')))
IDS = [osp.basename(p) for p in SEG_CONFIGS]


def _cfg(name):
    return Config.fromfile([p for p in SEG_CONFIGS
                            if osp.basename(p) == name][0])


def test_there_are_configs():
    names = set(IDS)
    for dataset, sched in (('lits-liver', '8xb2-3281i'), ('btcv',
                                                          '8xb1-39000i')):
        for enc in ('resnet3d18', 'resnet3d18-vdt', 'resnet3d18-inflated',
                    'mp3d63-vdt'):
            assert f'unet3d_{enc}_{sched}_{dataset}.py' in names
    assert 'unet3d_resnet3d18_8xb2-3281i_lits-liver-tumour.py' in names
    assert 'unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py' in names
    assert 'unet3d_resnet3d18-c16-vdt_1xb2-800i_synthetic-lits-liver.py' in \
        names


# configs that differ from another one only by the encoder initialisation
SAME_MODEL_AS = {
    '-vdt_8xb2-3281i_lits-liver.py':
    '_8xb2-3281i_lits-liver.py',
    '-inflated_8xb2-3281i_lits-liver.py':
    '_8xb2-3281i_lits-liver.py',
    '-vdt_8xb1-39000i_btcv.py':
    '_8xb1-39000i_btcv.py',
    '-inflated_8xb1-39000i_btcv.py':
    '_8xb1-39000i_btcv.py',
    '-c16-vdt_1xb2-800i_synthetic-lits-liver.py':
    '-c16_1xb2-800i_synthetic-lits-liver.py',
}


def _reference(name):
    """The config ``name`` shares its model with (except the encoder's
    init_cfg), or None."""
    for suffix, ref in SAME_MODEL_AS.items():
        if name.startswith('unet3d_resnet3d18') and name.endswith(suffix):
            return name[:-len(suffix)] + ref
    return None


def _same_model(cfg,
                ref_name,
                keys=('backbone', 'neck', 'decode_head', 'data_preprocessor',
                      'test_cfg')):
    ref = _cfg(ref_name).model
    for key in keys:
        a, b = cfg.model[key].to_dict(), ref[key].to_dict()
        if key == 'backbone':
            a.pop('init_cfg', None)
            b.pop('init_cfg', None)
        assert a == b, key


@pytest.mark.parametrize('path', SEG_CONFIGS, ids=IDS)
def test_model_builds(path):
    """Every config's model builds (on the meta device: full-width 3D
    networks cost seconds of CPU per forward; the Runner tests below train
    and test each family at reduced width, the demo runs at its own)."""
    from mmdet.registry import MODELS
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    assert 'cspr_det' in cfg.custom_imports['imports']
    assert cfg.model.type == 'cspr_det.VolumeSegmentor'
    init_default_scope('mmdet')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    num_classes = cfg.model.decode_head.num_classes
    dataset = cfg.train_dataloader.dataset
    expected = 14 if 'BTCV' in dataset.type else \
        3 if dataset.get('task') == 'liver_tumour' else 2
    assert num_classes == expected
    assert model.decode_head.conv_seg.out_channels == num_classes
    assert model.backbone.stem_skip
    name = osp.basename(path)
    ref = _reference(name)
    if ref is not None:
        # same network as its scratch config; only the encoder init differs
        assert cfg.model.backbone.init_cfg['type'] == \
            'cspr_det.PretrainedBackbone'
        _same_model(cfg, ref)
    # post-processing: LiTS keeps the largest foreground component, BTCV
    # the largest component of every organ
    assert cfg.model.test_cfg.largest_component == (
        'per_class' if 'BTCV' in dataset.type else 'foreground')
    if name == 'unet3d_mp3d63-vdt_8xb1-39000i_btcv.py':
        lits = 'unet3d_mp3d63-vdt_8xb2-3281i_lits-liver.py'
        _same_model(cfg, lits, ('backbone', 'neck', 'data_preprocessor'))
        # the same sliding windows; only the post-processing differs
        a = cfg.model.test_cfg.to_dict()
        b = _cfg(lits).model.test_cfg.to_dict()
        assert (a.pop('largest_component'),
                b.pop('largest_component')) == ('per_class', 'foreground')
        assert a == b
        _same_model(cfg, 'unet3d_resnet3d18_8xb1-39000i_btcv.py',
                    ('decode_head', ))


def test_demo_model_runs():
    """The demo network (trained on CPU by make demo-seg) at its real width:
    a training step reaches the encoder, a sliding-window prediction has the
    input's shape."""
    from mmdet.registry import MODELS
    cfg = _cfg('unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py')
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    shape = (16, 16, 16)
    samples = []
    for _ in range(2):  # batch 2: BatchNorm of 1x1x1 maps needs 2 values
        sample = VolumeSegDataSample(
            metainfo=dict(
                img_shape=shape, ori_shape=shape, spacing=(1.0, 1.0, 1.0)))
        sample.gt_seg = torch.randint(0, 2, shape)
        samples.append(sample)
    data = dict(
        inputs=[torch.rand(1, *shape) * 255 for _ in samples],
        data_samples=samples)
    data = model.data_preprocessor(data, True)
    assert data['inputs'].shape == (2, 1) + shape
    model.train()
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.backbone.parameters())
    model.eval()
    model.test_cfg.update(window=(16, 16, 16), stride=(8, 8, 8))
    with torch.no_grad():
        pred = model(**data, mode='predict')
    assert pred[0].pred_seg.shape == shape
    assert int(pred[0].pred_seg.max()) < 2


def _crop_shape(cfg):
    z = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'cspr_det.RandomZCrop3D'
    ][0]['size']
    h, w = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'cspr_det.RandomCrop3D'
    ][0]['crop_size']
    return (z, h, w)


@pytest.mark.parametrize('path', SEG_CONFIGS, ids=IDS)
def test_datasets_build_and_load(path, tmp_path_factory):
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(path)
    init_default_scope('mmdet')
    btcv = 'BTCV' in cfg.train_dataloader.dataset.type
    data = tiny_seg_dataset(tmp_path_factory, 'btcv' if btcv else 'lits')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg[key] is None:  # BTCV: no validation split
            assert btcv and key == 'val_dataloader'
            continue
        ds_cfg = copy.deepcopy(cfg[key].dataset)
        assert not osp.isabs(ds_cfg.data_root)  # no machine paths
        ds_cfg.data_root = data['converted']
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
        np.random.seed(0)
        item = dataset[0]
        sample = item['data_samples']
        if key == 'train_dataloader':
            assert item['inputs'].shape == (1, ) + _crop_shape(cfg)
        else:
            assert tuple(item['inputs'].shape[1:]) == sample.ori_shape
            assert 'source' in sample.metainfo
        assert sample.gt_seg.shape == item['inputs'].shape[1:]
        assert int(sample.gt_seg[sample.gt_seg != 255].max()) < \
            cfg.model.decode_head.num_classes
    assert cfg.test_evaluator['type'] == 'cspr_det.VolumeDiceMetric'


@pytest.mark.parametrize('path', SEG_CONFIGS, ids=IDS)
def test_schedules(path):
    cfg = Config.fromfile(path)
    opt = cfg.optim_wrapper.optimizer
    poly = cfg.param_scheduler[-1]
    assert poly.type == 'PolyLR' and poly.power == 0.9
    assert poly.end == cfg.train_cfg.max_iters
    name = osp.basename(path)
    if 'synthetic' in name:
        assert cfg.optim_wrapper.type == 'OptimWrapper'  # CPU demo
        return
    # reference schedules: fp16 with dynamic loss scale (GPU)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    if 'lits' in name:
        assert (opt.type, opt.lr, opt.weight_decay) == ('Adam', 1e-4, 1e-4)
        assert cfg.train_cfg.max_iters == 3281
        assert cfg.train_dataloader.batch_size == 2
        assert cfg.auto_scale_lr.base_batch_size == 16
        assert cfg.train_cfg.val_interval == 820
        assert cfg.val_dataloader.dataset.split == 'val'
    else:
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == \
            ('SGD', 0.02, 0.9, 5e-4)
        assert cfg.train_cfg.max_iters == 39000
        assert cfg.train_dataloader.batch_size == 1
        assert cfg.auto_scale_lr.base_batch_size == 8
        # no validation split: no validation loop, no "best" on test cases
        assert cfg.val_cfg is None and cfg.val_dataloader is None
        assert cfg.test_dataloader.dataset.split == 'test'
    assert _crop_shape(cfg) == (32, 256, 256)
    assert cfg.model.test_cfg.window == (32, 256, 256)
    assert cfg.model.test_cfg.stride == (12, 128, 128)


def _encoder_tensors(model):
    return {k: v.clone() for k, v in model.backbone.state_dict().items()}


def test_pretrained_encoders_load(tmp_path):
    """A VDT pre-training checkpoint (the README's Fashion-MNIST run, into
    the demo U-Net) and an inflated 2D ResNet-18 (into the BTCV StdUNet)
    load every encoder tensor."""
    from mmdet.models.backbones import ResNet
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    torch.manual_seed(0)
    # the Fashion-MNIST VDT pre-training of the README (16 base channels)
    pre = Config.fromfile(
        osp.join(REPO, 'configs', 'pretrain',
                 'vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py'))
    vdt = MODELS.build(pre.model)
    vdt_ckpt = str(tmp_path / 'vdt.pth')
    torch.save(dict(state_dict=vdt.state_dict()), vdt_ckpt)
    resnet = ResNet(depth=18)  # torchvision key layout
    torch.save(dict(state_dict=resnet.state_dict()), str(tmp_path / 'r18.pth'))
    infl_ckpt = str(tmp_path / 'r3d18_inflated.pth')
    tool = load_tool('tools/model_converters/inflate_2d_resnet.py')
    assert tool.main([
        str(tmp_path / 'r18.pth'), infl_ckpt, '--arch', 'resnet3d', '--depth',
        '18'
    ]) == 0
    for name, ckpt in (
        ('unet3d_resnet3d18-c16-vdt_1xb2-800i_synthetic-lits-liver.py',
         vdt_ckpt), ('unet3d_resnet3d18-inflated_8xb1-39000i_btcv.py',
                     infl_ckpt)):
        cfg = _cfg(name)
        cfg.model.backbone.init_cfg.checkpoint = ckpt
        model = MODELS.build(cfg.model)
        model.init_weights()
        source = torch.load(ckpt, weights_only=False)['state_dict']
        loaded = _encoder_tensors(model)
        for key, value in loaded.items():
            if 'num_batches_tracked' in key:
                continue
            assert torch.equal(value, source['backbone.' + key]), (name, key)


def _runner_cfg(name, data, work_dir, slide):
    """The config with tiny data, a narrow network, CPU optimiser, 2
    iterations and the NIfTI writer on the test loop."""
    cfg = _cfg(name)
    cfg.log_level = 'WARNING'
    cfg.work_dir = work_dir
    mp3d = cfg.model.backbone.type == 'cspr_det.MP3DResNet'
    if mp3d:
        cfg.model.backbone.base_channels = 16
        cfg.model.backbone.norm_cfg = dict(type='GN', num_groups=8)
        cfg.model.backbone.init_cfg = None
        cfg.model.neck.in_channels = (16, 64, 128, 256, 512)
    else:
        cfg.model.backbone.base_channels = 8
        cfg.model.neck.in_channels = (8, 8, 16, 32, 64)
    cfg.model.neck.channels = (8, 8, 16, 32, 64)
    cfg.model.decode_head.in_channels = 8
    cfg.model.decode_head.channels = 8
    # sliding windows for the first family, whole volumes for the others
    cfg.model.test_cfg.update(
        mode='slide' if slide else 'whole',
        window=(16, 32, 32),
        stride=(16, 32, 32))
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] == 'cspr_det.RandomZCrop3D':
            t['size'] = 16
        if t['type'] == 'cspr_det.RandomCrop3D':
            t['crop_size'] = (32, 32)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        if loader is None:
            continue
        loader.dataset.data_root = data['converted']
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = 1
        loader.dataset.serialize_data = False  # no gc.collect per dataset
    if not torch.cuda.is_available():  # AmpOptimWrapper needs CUDA
        cfg.optim_wrapper = dict(
            type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer)
    # validate once in the sliding-window family only
    cfg.train_cfg.update(max_iters=2, val_interval=2 if slide else 3)
    cfg.param_scheduler[-1].end = 2
    cfg.param_scheduler = [cfg.param_scheduler[-1]]
    cfg.param_scheduler[0].begin = 0
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    # the runtime writes the test predictions as NIfTI
    assert dict(type='cspr_det.SegPredictionWriterHook') in cfg.custom_hooks
    return cfg


# the families: StdUNet on LiTS (sliding windows, validation), on BTCV
# (14 classes, multi-organ loss) and the MP3D-63 encoder; the synthetic demo
# config is the LiTS family at demo size (run by make demo-seg)
@pytest.mark.parametrize('name,dataset,slide', [
    ('unet3d_resnet3d18_8xb2-3281i_lits-liver.py', 'lits', True),
    ('unet3d_mp3d63-vdt_8xb2-3281i_lits-liver.py', 'lits', False),
    ('unet3d_resnet3d18_8xb1-39000i_btcv.py', 'btcv', False),
])
def test_runner_iterations(name, dataset, slide, tmp_path_factory, tmp_path,
                           monkeypatch):
    from mmengine.runner import Runner

    # the Runner logs and dumps the config through yapf (seconds of CPU per
    # run); unformatted text is enough here
    monkeypatch.setattr('mmengine.config.config.FormatCode',
                        lambda text, **kwargs: (text, None))
    data = tiny_seg_dataset(tmp_path_factory, dataset)
    cfg = _runner_cfg(name, data, str(tmp_path / 'work'), slide)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))
    metrics = runner.test()
    assert 0.0 <= metrics['seg/mDice'] <= 1.0
    pred_dir = osp.join(cfg.work_dir, 'predictions')
    index = __import__('json').load(
        open(osp.join(data['converted'], 'index.json')))
    tests = [c for c in index['cases'] if c['split'] == 'test']
    for case in tests:
        pred = sitk.ReadImage(osp.join(pred_dir, case['case_id'] + '.nii.gz'))
        assert list(pred.GetSize()) == case['source']['size_xyz']
        np.testing.assert_allclose(
            pred.GetDirection(), case['source']['direction'], atol=1e-6)
