"""PretrainedBackbone's ``bn_stats`` option (keep / reset the loaded
BatchNorm running statistics) and why it cannot change training."""
import os.path as osp

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from cspr_det.models.utils import PretrainedBackbone, load_pretrained_backbone
from cspr_det.registry import MODELS

TINY = dict(type='cspr_det.ResNet3D', depth=18, base_channels=4)


def _ckpt(tmp_path):
    torch.manual_seed(0)
    src = MODELS.build(TINY)
    for m in src.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(1, 2)
            m.running_var.uniform_(3, 4)
            m.num_batches_tracked.fill_(7)
    path = osp.join(str(tmp_path), 'pre.pth')
    torch.save(
        dict(state_dict={
            f'backbone.{k}': v
            for k, v in src.state_dict().items()
        }), path)
    return path, src


def test_keep_loads_the_statistics(tmp_path):
    path, src = _ckpt(tmp_path)
    dst = MODELS.build(TINY)
    report = load_pretrained_backbone(dst, path)
    assert report['bn_reset'] == []
    torch.testing.assert_close(dst.norm1.running_mean, src.norm1.running_mean)


def test_reset_keeps_weights_and_affine_but_not_statistics(tmp_path, capsys):
    path, src = _ckpt(tmp_path)
    dst = MODELS.build(TINY)
    report = PretrainedBackbone(path, bn_stats='reset')(dst)
    bns = [n for n, m in dst.named_modules() if isinstance(m, _BatchNorm)]
    assert sorted(report['bn_reset']) == sorted(bns) and len(bns) > 10
    for name, m in dst.named_modules():
        if isinstance(m, _BatchNorm):
            assert torch.equal(m.running_mean,
                               torch.zeros_like(m.running_mean))
            assert torch.equal(m.running_var, torch.ones_like(m.running_var))
            assert int(m.num_batches_tracked) == 0
            torch.testing.assert_close(m.weight,
                                       src.get_submodule(name).weight)
    torch.testing.assert_close(dst.conv1.weight, src.conv1.weight)


def test_reset_only_touches_loaded_layers(tmp_path):
    path, _ = _ckpt(tmp_path)
    dst = MODELS.build(TINY)
    with torch.no_grad():
        dst.norm1.running_mean.fill_(5.0)
    report = load_pretrained_backbone(
        dst, path, exclude=[r'^norm1\.'], bn_stats='reset')
    assert 'norm1' not in report['bn_reset']
    assert torch.all(dst.norm1.running_mean == 5.0)


def test_bad_choice_is_refused(tmp_path):
    with pytest.raises(ValueError, match='bn_stats must be one of'):
        PretrainedBackbone('x.pth', bn_stats='re-estimate')


def test_training_forward_ignores_running_statistics(tmp_path):
    """In training mode BatchNorm normalises with the batch statistics: the
    loaded or reset running statistics give the same outputs and
    gradients, which is why the study's kept / reset cells train alike."""
    path, _ = _ckpt(tmp_path)
    outs = []
    for choice in ('keep', 'reset'):
        model = MODELS.build(TINY)
        load_pretrained_backbone(model, path, bn_stats=choice)
        model.train()
        x = torch.linspace(-1, 1, 2 * 16 * 32 * 32).reshape(2, 1, 16, 32, 32)
        out = model(x)[-1]
        out.square().mean().backward()
        outs.append((out.detach(), model.conv1.weight.grad.clone()))
    torch.testing.assert_close(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[0][1], outs[1][1])
