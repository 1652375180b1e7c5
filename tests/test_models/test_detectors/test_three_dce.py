"""cspr_det.ThreeDCE: slice groups through one shared backbone and FPN, the
RPN on the central group only, the R-CNN on the fusion of all groups."""
import logging

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

C = 16  # FPN width
SIZE = 64
STRIDES = (4, 8, 16, 32, 64)


def _config(num_slices=9, norm_eval=True, fusion=None, **overrides):
    box_coder = dict(
        type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[1.] * 4)
    assigner = dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.5,
        neg_iou_thr=0.3,
        min_pos_iou=0.3,
        ignore_iof_thr=-1)
    num_groups = num_slices // 3
    cfg = dict(
        type='cspr_det.ThreeDCE',
        num_slices=num_slices,
        group_size=3,
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[128.],
            std=[50.],
            bgr_to_rgb=False,
            pad_size_divisor=32),
        backbone=dict(
            type='ResNet',
            depth=18,
            base_channels=8,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=norm_eval),
        neck=dict(
            type='FPN',
            in_channels=[8, 16, 32, 64],
            out_channels=C,
            num_outs=5),
        fusion=fusion or dict(
            type='cspr_det.ThreeDCEFusion',
            in_channels=[num_groups * C] * 4,
            out_channels=C,
            shared=True),
        rpn_head=dict(
            type='RPNHead',
            in_channels=C,
            feat_channels=C,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[4],
                ratios=[0.5, 1.0, 2.0],
                strides=STRIDES),
            bbox_coder=box_coder,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True),
            loss_bbox=dict(type='L1Loss')),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=C,
                featmap_strides=list(STRIDES[:4])),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=C,
                fc_out_channels=32,
                roi_feat_size=7,
                num_classes=1,
                bbox_coder=box_coder,
                loss_cls=dict(type='CrossEntropyLoss'),
                loss_bbox=dict(type='L1Loss'))),
        train_cfg=dict(
            rpn=dict(
                assigner=assigner,
                sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            rpn_proposal=dict(
                nms_pre=200,
                max_per_img=100,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                assigner=assigner,
                sampler=dict(
                    type='RandomSampler',
                    num=64,
                    pos_fraction=0.25,
                    add_gt_as_proposals=True),
                pos_weight=-1,
                debug=False)),
        test_cfg=dict(
            rpn=dict(
                nms_pre=200,
                max_per_img=100,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                score_thr=0.0,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=10)))
    cfg.update(overrides)
    return cfg


def _build(**kwargs):
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(ConfigDict(_config(**kwargs)))


def _samples(n=2):
    from mmdet.structures import DetDataSample
    meta = dict(
        img_shape=(SIZE, SIZE),
        pad_shape=(SIZE, SIZE),
        ori_shape=(SIZE, SIZE),
        batch_input_shape=(SIZE, SIZE),
        scale_factor=(1., 1.))
    samples = []
    for _ in range(n):
        ds = DetDataSample(metainfo=meta)
        ds.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 30., 28.]]),
            labels=torch.tensor([0]))
        samples.append(ds)
    return samples


def test_per_group_features_central_rpn_maps_and_fusion():
    model = _build().eval()
    x = torch.randn(2, 9, SIZE, SIZE)
    with torch.no_grad():
        feats = model.extract_feat(x)
        assert [tuple(f.shape) for f in feats
                ] == [(2, 3, C, SIZE // s, SIZE // s) for s in STRIDES]
        # group g == the shared backbone + FPN on slices 3g..3g+2 alone
        for g in range(3):
            ref = model.neck(model.backbone(x[:, 3 * g:3 * g + 3]))
            for level, r in zip(feats, ref):
                torch.testing.assert_close(level[:, g], r)
        rpn_feats, rcnn_feats = model.split_features(feats)
        assert len(rpn_feats) == 5
        for level, r in zip(feats, rpn_feats):
            assert torch.equal(r, level[:, 1])  # the central group only
        assert [tuple(f.shape) for f in rcnn_feats
                ] == [(2, C, SIZE // s, SIZE // s) for s in STRIDES[:4]]
        # the fusion sees the groups concatenated group-major: 0, 1, 2
        conv = model.fusion.fusions[0]
        for level, fused in zip(feats, rcnn_feats):
            cat = torch.cat([level[:, g] for g in range(3)], dim=1)
            torch.testing.assert_close(fused, conv(cat))


def test_heads_receive_the_central_group_and_the_fusion():
    model = _build().eval()
    seen = {}

    def spy(name):

        def hook(module, args):
            seen[name] = args[0]

        return hook

    model.rpn_head.register_forward_pre_hook(spy('rpn'))
    model.roi_head.bbox_roi_extractor.register_forward_pre_hook(spy('roi'))
    x = torch.randn(2, 9, SIZE, SIZE)
    with torch.no_grad():
        rpn_feats, rcnn_feats = model.split_features(model.extract_feat(x))
        results = model.predict(x, _samples())
    assert len(seen['rpn']) == 5 and len(seen['roi']) == 4
    for got, want in zip(seen['rpn'], rpn_feats):
        torch.testing.assert_close(got, want)
    for got, want in zip(seen['roi'], rcnn_feats):
        torch.testing.assert_close(got, want)
    assert len(results) == 2
    assert results[0].pred_instances.bboxes.shape[1] == 4
    with torch.no_grad():
        raw = model(x, _samples(), mode='tensor')
    cls_score, bbox_pred = raw[0]  # the RoI head's raw outputs
    assert cls_score.shape[1] == 2 and bbox_pred.shape[1] == 4


def _summed(losses, rpn):
    total = 0
    for key, value in losses.items():
        if 'loss' not in key or key.startswith('loss_rpn') != rpn:
            continue
        total = total + (sum(value) if isinstance(value, list) else value)
    return total


def test_non_central_groups_reach_the_rcnn_loss_but_not_the_rpn_loss():
    model = _build().train()
    x = torch.randn(2, 9, SIZE, SIZE, requires_grad=True)
    losses = model.loss(x, _samples())
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls',
            'loss_bbox'} <= set(losses)
    rpn_grad, = torch.autograd.grad(
        _summed(losses, rpn=True), x, retain_graph=True)
    rcnn_grad, = torch.autograd.grad(_summed(losses, rpn=False), x)
    per_group = lambda g: g.abs().reshape(2, 3, 3, SIZE, SIZE).sum(  # noqa
        dim=(0, 2, 3, 4))
    rpn, rcnn = per_group(rpn_grad), per_group(rcnn_grad)
    assert rpn[1] > 0  # the central group (slices 3..5) drives the RPN
    assert rpn[0] == 0 and rpn[2] == 0  # exactly: no path from other groups
    assert (rcnn > 0).all()  # every group reaches the R-CNN through fusion


def test_batch_statistics_bn_is_flagged():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        _build(norm_eval=False)
        flagged = [r.getMessage() for r in records]
        records.clear()
        _build(norm_eval=True)
        quiet = [r.getMessage() for r in records]
    finally:
        logger.removeHandler(handler)
    assert any('norm_eval' in m for m in flagged)
    assert not any('norm_eval' in m for m in quiet)


def test_bad_configurations_raise_clear_errors():
    with pytest.raises(ValueError, match='multiple of group_size'):
        _build(num_slices=10)
    with pytest.raises(ValueError, match='odd number'):
        _build(
            num_slices=6,
            fusion=dict(
                type='cspr_det.ThreeDCEFusion',
                in_channels=[2 * C] * 4,
                out_channels=C))
    with pytest.raises(ValueError, match=r'num_groups x neck out_channels'):
        _build(
            fusion=dict(
                type='cspr_det.ThreeDCEFusion',
                in_channels=[C] * 4,
                out_channels=C))
    with pytest.raises(ValueError, match='RoI extractor reads 4'):
        _build(
            fusion=dict(
                type='cspr_det.ThreeDCEFusion',
                in_channels=[3 * C] * 5,
                out_channels=C))
    with pytest.raises(ValueError, match=r'\(N, 9, H, W\)'):
        _build().extract_feat(torch.randn(1, 27, SIZE, SIZE))


def test_shared_fusion_has_one_conv():
    from cspr_det.registry import MODELS
    shared = MODELS.build(
        dict(
            type='cspr_det.ThreeDCEFusion',
            in_channels=[12, 12],
            out_channels=4,
            shared=True))
    assert len(shared.fusions) == 1
    x = torch.randn(1, 12, 4, 4)
    a, b = shared((x, x))
    torch.testing.assert_close(a, b)  # the same conv at both levels
    with pytest.raises(ValueError, match='one width at every level'):
        MODELS.build(
            dict(
                type='cspr_det.ThreeDCEFusion',
                in_channels=[12, 24],
                out_channels=4,
                shared=True))


def test_three_dce_config_trains_a_few_iterations(tiny_deeplesion, tmp_path):
    """The shipped 3DCE config, slimmed (ResNet-18 of width 8, 64 px, no
    ImageNet download), trains one epoch and validates with the FROC metric
    through mmengine's Runner; the frozen stem and the frozen BN statistics
    stay as they were."""
    import json
    import os.path as osp

    from mmengine.config import Config
    from mmengine.runner import Runner
    repo = osp.dirname(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    cfg = Config.fromfile(
        osp.join(repo, 'configs', 'deeplesion',
                 'faster-rcnn_3dce-r50_fpn_8xb2-24e_deeplesion-27slice.py'))
    cfg.work_dir = str(tmp_path / 'work')
    model = cfg.model
    model.backbone.update(depth=18, base_channels=8, init_cfg=None)
    model.neck.update(in_channels=[8, 16, 32, 64], out_channels=C)
    model.fusion.in_channels = [9 * C] * 4
    model.fusion.out_channels = C
    model.rpn_head.update(in_channels=C, feat_channels=C)
    model.roi_head.bbox_roi_extractor.out_channels = C
    model.roi_head.bbox_head.update(in_channels=C, fc_out_channels=32)
    model.train_cfg.rcnn.sampler.num = 64
    cfg.train_dataloader.dataset.pipeline[2].scales = [(SIZE, SIZE)]
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = tiny_deeplesion + '/'
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        if key != 'train_dataloader':
            loader.dataset.pipeline[1].scale = (SIZE, SIZE)
    cfg.optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
        clip_grad=dict(max_norm=35, norm_type=2))
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = None  # saving is tested elsewhere; slow
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'

    runner = Runner.from_cfg(cfg)
    net = runner.model
    assert type(net).__name__ == 'ThreeDCE' and net.num_groups == 9
    net.init_weights()  # as runner.train() would, before the snapshot
    frozen = {
        'stem': net.backbone.conv1.weight.detach().clone(),
        'bn_mean': net.backbone.layer3[0].bn1.running_mean.clone(),
    }
    trained = {
        # the shortcut conv (residual branches start at zero:
        # zero_init_residual, so their convs get no gradient at first)
        'layer3': net.backbone.layer3[0].downsample[0].weight.detach().clone(),
        'fusion': net.fusion.fusions[0].conv.weight.detach().clone(),
    }
    runner.train()
    with open(
            osp.join(tiny_deeplesion, 'annotations',
                     'deeplesion_train.json')) as f:
        num_train = len(json.load(f)['images'])
    assert runner.iter == -(-num_train // 2) > 0
    assert torch.equal(net.backbone.conv1.weight, frozen['stem'])
    assert torch.equal(net.backbone.layer3[0].bn1.running_mean,
                       frozen['bn_mean'])
    assert not torch.equal(net.backbone.layer3[0].downsample[0].weight,
                           trained['layer3'])
    assert not torch.equal(net.fusion.fusions[0].conv.weight,
                           trained['fusion'])
    # the epoch ended with a validation through the FROC metric
    assert 'val/deeplesion/mean_sens' in runner.message_hub.log_scalars
