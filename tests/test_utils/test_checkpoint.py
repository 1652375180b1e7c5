"""Save -> resume -> load_from with mmengine's Runner under the installed torch
(torch >= 2.6 defaults to ``weights_only=True`` in ``torch.load``)."""
import pickle

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

from cspr_det.utils.checkpoint import load_local_checkpoint


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

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
        return 8

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return dict(inputs=x, labels=torch.tensor(2.0 * idx + 1.0))


def make_runner(work_dir, max_epochs, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmengine',
        **kwargs)


def test_torch_default_load_rejects_mmengine_checkpoint(tmp_path):
    """The trap exists under this torch: its default load refuses the meta."""
    runner = make_runner(tmp_path, max_epochs=1)
    runner.train()
    ckpt = tmp_path / 'epoch_1.pth'
    if tuple(int(v) for v in torch.__version__.split('.')[:2]) < (2, 6):
        pytest.skip('torch < 2.6 loads full pickles by default')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(str(ckpt), map_location='cpu')
    # our loader is what mmengine uses for local paths
    assert CheckpointLoader._schemes[''] is load_local_checkpoint
    assert 'meta' in load_local_checkpoint(str(ckpt))


def test_save_resume_load_from(tmp_path):
    work_dir = tmp_path / 'run'
    runner = make_runner(work_dir, max_epochs=2)
    runner.train()
    ckpt = work_dir / 'epoch_2.pth'
    assert ckpt.is_file()
    saved = load_checkpoint(nn.Module(), str(ckpt), strict=False)
    assert saved['meta']['epoch'] == 2
    assert saved['meta']['iter'] == 4

    # resume: continues from epoch 2 to 3 with the optimizer state restored
    resumed = make_runner(work_dir, max_epochs=3, resume=True, load_from=str(ckpt))
    resumed.train()
    assert resumed.epoch == 3
    assert resumed.iter == 6
    assert (work_dir / 'epoch_3.pth').is_file()

    # auto-resume finds the latest checkpoint in the work dir
    auto = make_runner(work_dir, max_epochs=3, resume=True)
    auto.train()  # nothing left to do
    assert auto.epoch == 3

    # load_from: weights only, training starts at epoch 0
    loaded = make_runner(tmp_path / 'other', max_epochs=1, load_from=str(ckpt))
    loaded.load_or_resume()
    expected = saved['state_dict']['linear.weight']
    assert torch.equal(loaded.model.linear.weight.detach(), expected)
    assert loaded.epoch == 0


def test_missing_checkpoint_message(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_local_checkpoint(str(tmp_path / 'nope.pth'))
