"""cspr_det's checkpoint loading: the torch >= 2.6 loader that mmengine's
``load_from`` / ``--resume`` use for local files, and the strict check of a
checkpoint against a model (the resume path through ``tools/train.py`` is
run end to end in ``tests/test_tools/test_train_runs.py``)."""
import pickle

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from cspr_det.utils.checkpoint import (CheckpointCheckHook,
                                       CheckpointMismatchError,
                                       check_model_checkpoint,
                                       load_local_checkpoint,
                                       load_model_checkpoint)


class ToyModel(BaseModel):

    def __init__(self, width=2):
        super().__init__()
        self.linear = nn.Linear(width, 1)
        self.backbone = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))

    def forward(self, inputs, labels, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        labels = torch.stack(labels) if isinstance(labels, list) else labels
        out = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


class ToyDataset(torch.utils.data.Dataset):
    metainfo = dict()

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return dict(inputs=x, labels=torch.tensor(2.0 * idx + 1.0))


def test_mmengine_checkpoints_load_under_this_torch(tmp_path):
    """torch's default ``weights_only`` load refuses an mmengine checkpoint
    (its meta pickles mmengine objects); the loader cspr_det registers for
    local paths reads it, and mmengine's ``load_from`` goes through it."""
    runner = Runner(
        model=ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmengine')
    runner.train()
    ckpt = str(tmp_path / 'epoch_1.pth')
    assert tuple(int(v) for v in torch.__version__.split('.')[:2]) >= (2, 6)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, map_location='cpu')
    assert CheckpointLoader._schemes[''] is load_local_checkpoint
    loaded = load_local_checkpoint(ckpt)
    assert loaded['meta']['epoch'] == 1
    other = ToyModel()
    load_model_checkpoint(other, ckpt)
    torch.testing.assert_close(other.linear.weight,
                               runner.model.linear.weight)


def test_missing_checkpoint_message(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_local_checkpoint(str(tmp_path / 'nope.pth'))


def _mismatching_state():
    """The ToyModel's tensors with one missing, two unexpected and one
    shape-mismatched key, DDP-prefixed and wrapped like mmengine."""
    torch.manual_seed(0)
    state = ToyModel(width=3).state_dict()  # linear.weight (1, 3)
    del state['backbone.1.bias']
    state['extra.weight'] = torch.ones(1)
    state['zzz.bias'] = torch.ones(1)
    return {'state_dict': {f'module.{k}': v for k, v in state.items()}}


def test_strict_check_names_counts_and_first_keys():
    with pytest.raises(CheckpointMismatchError) as info:
        check_model_checkpoint(ToyModel(), _mismatching_state(), 'x.pth',
                               hint='use --non-strict')
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
    with pytest.raises(CheckpointMismatchError,
                       match=r'10 unexpected.*k0, k1, k2, \.\.\. \(7 more\)'):
        check_model_checkpoint(ToyModel(), dict(ToyModel().state_dict(),
                                                **state))


def test_non_strict_loads_the_matching_tensors(tmp_path):
    path = str(tmp_path / 'bad.pth')
    state = _mismatching_state()
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
    ckpt = dict(state_dict=model.state_dict(),
                meta=dict(backbone_arch=dict(type='Sequential',
                                             style='caffe')))
    assert check_model_checkpoint(model, ckpt)['arch'] == []  # no style
    ckpt['meta']['backbone_arch']['type'] = 'MP3DResNet'
    with pytest.raises(CheckpointMismatchError,
                       match="type: checkpoint 'MP3DResNet', model "
                       "'Sequential'"):
        check_model_checkpoint(model, ckpt)
    report = check_model_checkpoint(model, ckpt, check_arch=False)
    assert len(report['arch']) == 1


def test_hook_checks_before_mmengine_loads():
    """The hook refuses a mismatching checkpoint in
    ``after_load_checkpoint`` and hands mmengine the unwrapped state dict
    it checked (a ``{'model': ...}`` wrapper mmengine would not unwrap)."""

    class FakeRunner:
        model = ToyModel()

    with pytest.raises(CheckpointMismatchError, match='1 missing'):
        CheckpointCheckHook('bad.pth').after_load_checkpoint(
            FakeRunner(), _mismatching_state())
    good = {'model': {f'module.{k}': v
                      for k, v in ToyModel().state_dict().items()}}
    CheckpointCheckHook('good.pth').after_load_checkpoint(FakeRunner(), good)
    assert sorted(good['state_dict']) == sorted(FakeRunner.model.state_dict())
    lenient = _mismatching_state()
    CheckpointCheckHook('bad.pth', strict=False).after_load_checkpoint(
        FakeRunner(), lenient)
    assert 'extra.weight' in lenient['state_dict']  # mmengine skips it
