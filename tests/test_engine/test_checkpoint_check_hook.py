"""CheckpointCheckHook: the strict check inside mmengine's ``load_from``."""
import pytest

from cspr_det.engine.hooks import CheckpointCheckHook
from cspr_det.models.utils import CheckpointMismatchError
from cspr_det.registry import HOOKS
from checkpoint_files import ToyModel, mismatching_state


def test_hook_checks_before_mmengine_loads():
    """The hook refuses a mismatching checkpoint in
    ``after_load_checkpoint`` and hands mmengine the unwrapped state dict
    it checked (a ``{'model': ...}`` wrapper mmengine would not unwrap)."""

    class FakeRunner:
        model = ToyModel()

    with pytest.raises(CheckpointMismatchError, match='1 missing'):
        CheckpointCheckHook('bad.pth').after_load_checkpoint(
            FakeRunner(), mismatching_state())
    good = {
        'model': {
            f'module.{k}': v
            for k, v in ToyModel().state_dict().items()
        }
    }
    CheckpointCheckHook('good.pth').after_load_checkpoint(FakeRunner(), good)
    assert sorted(good['state_dict']) == sorted(FakeRunner.model.state_dict())
    lenient = mismatching_state()
    CheckpointCheckHook(
        'bad.pth', strict=False).after_load_checkpoint(FakeRunner(), lenient)
    assert 'extra.weight' in lenient['state_dict']  # mmengine skips it


def test_hook_is_registered_for_configs():
    """A config can list it in ``custom_hooks``."""
    hook = HOOKS.build(
        dict(
            type='cspr_det.CheckpointCheckHook', source='x.pth', strict=False))
    assert isinstance(hook, CheckpointCheckHook) and not hook.strict
    assert hook.priority == 'VERY_HIGH'
