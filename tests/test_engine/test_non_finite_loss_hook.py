"""NonFiniteLossHook: stops a run at the first NaN/Inf loss, by itself and
inside a Runner."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from cspr_det.engine import NonFiniteLossError, NonFiniteLossHook


def _runner(it=6, epoch=1):
    return SimpleNamespace(iter=it, epoch=epoch)


def test_finite_or_missing_loss_passes_unchanged():
    hook = NonFiniteLossHook()
    outputs = dict(loss=torch.tensor(1.5), loss_cls=torch.tensor(1.0))
    assert hook.after_train_iter(_runner(), 0, outputs=outputs) is None
    assert set(outputs) == {'loss', 'loss_cls'}
    assert float(outputs['loss']) == 1.5
    # no total loss (e.g. a custom train_step): nothing to check, no error
    assert hook.after_train_iter(
        _runner(), 0, outputs=dict(loss_cls=torch.tensor(float('nan')))) \
        is None
    assert hook.after_train_iter(_runner(), 0, outputs=None) is None


class _ScaledInput(BaseModel):
    """Loss = weight * mean(input); a NaN in the data gives a NaN loss."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        loss = (self.weight * torch.stack(inputs).float()).mean()
        return dict(loss=loss)


def _train(tmp_path, values):
    runner = Runner(
        model=_ScaledInput(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=[dict(inputs=torch.tensor([v])) for v in values],
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=1,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        custom_hooks=[dict(type='cspr_det.NonFiniteLossHook')],
        default_hooks=dict(checkpoint=None, logger=None),
        log_level='WARNING')
    runner.train()
    return runner


def test_runner_stops_at_the_first_non_finite_iteration(tmp_path):
    assert _train(tmp_path / 'ok', [1.0, 2.0, 3.0, 4.0]).iter == 4
    with pytest.raises(NonFiniteLossError, match=r'iteration 3 \(epoch 1\)'):
        _train(tmp_path / 'nan', [1.0, 2.0, float('nan'), 4.0])


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_loss_names_iteration(bad):
    hook = NonFiniteLossHook()
    outputs = dict(loss=torch.tensor(bad), loss_cls=torch.tensor(0.3))
    with pytest.raises(
            NonFiniteLossError, match=r'iteration 7 \(epoch 2\)') as info:
        hook.after_train_iter(_runner(6, 1), 0, outputs=outputs)
    assert 'loss_cls=0.3' in str(info.value)


def test_interval_and_bad_argument():
    hook = NonFiniteLossHook(interval=2)
    nan = dict(loss=torch.tensor(float('nan')))
    # iteration 1 (runner.iter=0) is not checked with interval 2, 2 is
    assert hook.after_train_iter(_runner(0), 0, outputs=nan) is None
    with pytest.raises(NonFiniteLossError, match='iteration 2 '):
        hook.after_train_iter(_runner(1), 0, outputs=nan)
    with pytest.raises(ValueError, match='interval'):
        NonFiniteLossHook(interval=0)
