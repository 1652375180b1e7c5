from types import SimpleNamespace

import pytest
import torch

from cspr_det.engine import NonFiniteLossError, NonFiniteLossHook


def _runner(it=6, epoch=1):
    return SimpleNamespace(iter=it, epoch=epoch)


def test_finite_loss_passes():
    hook = NonFiniteLossHook()
    hook.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(1.5)))


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_loss_names_iteration(bad):
    hook = NonFiniteLossHook()
    outputs = dict(loss=torch.tensor(bad), loss_cls=torch.tensor(0.3))
    with pytest.raises(NonFiniteLossError, match=r'iteration 7 \(epoch 2\)') as info:
        hook.after_train_iter(_runner(6, 1), 0, outputs=outputs)
    assert 'loss_cls=0.3' in str(info.value)


def test_interval_and_bad_argument():
    hook = NonFiniteLossHook(interval=2)
    # iteration 1 (runner.iter=0) is not checked with interval 2
    hook.after_train_iter(_runner(0), 0, outputs=dict(loss=torch.tensor(float('nan'))))
    with pytest.raises(NonFiniteLossError):
        hook.after_train_iter(_runner(1), 0, outputs=dict(loss=torch.tensor(float('nan'))))
    with pytest.raises(ValueError, match='interval'):
        NonFiniteLossHook(interval=0)
