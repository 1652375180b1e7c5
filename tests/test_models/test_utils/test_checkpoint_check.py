"""The strict check of a checkpoint against a model
(:func:`check_model_checkpoint`, :func:`load_model_checkpoint`)."""
import pytest
import torch

from cspr_det.models.utils import (CheckpointMismatchError,
                                   check_model_checkpoint,
                                   load_model_checkpoint)
from checkpoint_files import ToyModel, mismatching_state, toy_runner


def test_loads_a_runner_checkpoint(tmp_path):
    runner = toy_runner(tmp_path)
    runner.train()
    other = ToyModel()
    ckpt = load_model_checkpoint(other, str(tmp_path / 'epoch_1.pth'))
    assert ckpt['meta']['epoch'] == 1
    torch.testing.assert_close(other.linear.weight, runner.model.linear.weight)


def test_strict_check_names_counts_and_first_keys():
    with pytest.raises(CheckpointMismatchError) as info:
        check_model_checkpoint(
            ToyModel(), mismatching_state(), 'x.pth', hint='use --non-strict')
    msg = str(info.value)
    assert '\n' not in msg
    assert msg.startswith('x.pth does not match ToyModel: 1 missing, 2 '
                          'unexpected, 1 shape-mismatched keys')
    assert 'missing: backbone.1.bias' in msg
    assert 'unexpected: extra.weight, zzz.bias' in msg
    assert ('shape-mismatched: linear.weight: checkpoint (1, 3) vs model '
            '(1, 2)') in msg
    assert msg.endswith('; use --non-strict')


def test_summary_lists_only_the_first_keys():
    state = {f'k{i}': torch.ones(1) for i in range(10)}
    with pytest.raises(
            CheckpointMismatchError,
            match=r'10 unexpected.*k0, k1, k2, \.\.\. \(7 more\)'):
        check_model_checkpoint(ToyModel(),
                               dict(ToyModel().state_dict(), **state))


def test_non_strict_loads_the_matching_tensors(tmp_path):
    path = str(tmp_path / 'bad.pth')
    state = mismatching_state()
    torch.save(state, path)
    model = ToyModel()
    before = model.linear.weight.detach().clone()
    with pytest.raises(CheckpointMismatchError):
        load_model_checkpoint(model, path)
    torch.testing.assert_close(model.linear.weight, before)  # untouched
    load_model_checkpoint(model, path, strict=False)
    src = state['state_dict']
    torch.testing.assert_close(model.backbone[0].weight,
                               src['module.backbone.0.weight'])
    torch.testing.assert_close(model.linear.weight, before)  # shape differs


def test_recorded_backbone_architecture_is_checked():
    model = ToyModel()
    ckpt = dict(
        state_dict=model.state_dict(),
        meta=dict(backbone_arch=dict(type='Sequential', style='caffe')))
    assert check_model_checkpoint(model, ckpt)['arch'] == []  # no style
    ckpt['meta']['backbone_arch']['type'] = 'MP3DResNet'
    with pytest.raises(
            CheckpointMismatchError,
            match="type: checkpoint 'MP3DResNet', model "
            "'Sequential'"):
        check_model_checkpoint(model, ckpt)
    report = check_model_checkpoint(model, ckpt, check_arch=False)
    assert len(report['arch']) == 1
