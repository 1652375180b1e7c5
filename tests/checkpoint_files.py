"""Checkpoint files for the loading tests: a toy mmengine model and data
set (a real Runner run writes a real checkpoint in seconds), a malicious
checkpoint whose unpickling would create a marker file, and an "old-format"
checkpoint whose ``meta`` holds an object outside the allow-list."""
import argparse

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

#: The global the malicious payload needs (named in every refusal).
PAYLOAD_GLOBAL = 'builtins.exec'


class ToyModel(BaseModel):
    """A linear model with a ``backbone`` (for the architecture check)."""

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
    metainfo = dict(classes=('lesion', ))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return dict(inputs=x, labels=torch.tensor(2.0 * idx + 1.0))


def mismatching_state():
    """The ToyModel's tensors with one missing, two unexpected and one
    shape-mismatched key, DDP-prefixed and wrapped like mmengine."""
    torch.manual_seed(0)
    state = ToyModel(width=3).state_dict()  # linear.weight (1, 3)
    del state['backbone.1.bias']
    state['extra.weight'] = torch.ones(1)
    state['zzz.bias'] = torch.ones(1)
    return {'state_dict': {f'module.{k}': v for k, v in state.items()}}


def toy_runner(work_dir, max_epochs=1, **kwargs):
    """An mmengine Runner on :class:`ToyModel` that saves every epoch."""
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmengine',
        randomness=dict(seed=0),
        **kwargs)


class MarkerPayload:
    """Unpickling this creates ``path`` (through ``exec``): what a crafted
    ``.pth`` could do with any code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f'open({self.path!r}, "w").close()', ))


def save_malicious(path, marker, state_dict=None):
    """A checkpoint (mmengine layout) whose ``meta`` carries
    :class:`MarkerPayload`; ``state_dict`` defaults to a toy tensor."""
    state_dict = state_dict if state_dict is not None else {
        'w': torch.zeros(1)
    }
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(epoch=1, hook=MarkerPayload(marker))), str(path))
    return str(path)


def save_old_format(path, state_dict):
    """A checkpoint as older training scripts wrote it: its ``meta`` holds
    the script's ``argparse.Namespace`` (outside the allow-list, harmless)."""
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(epoch=3, args=argparse.Namespace(lr=0.1))), str(path))
    return str(path)
