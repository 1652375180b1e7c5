"""The one checkpoint loader: ``weights_only`` loading with the allow-list
of the globals mmengine checkpoints need, refusal of everything else in one
line, and trust that is explicit and scoped."""
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from cspr_det.utils import UserInputError, checkpoint_loading
# yapf: disable
from cspr_det.utils.checkpoint_loading import (UnsafeCheckpointError,
                                               checkpoint_safe_global_names,
                                               checkpoint_safe_globals,
                                               checkpoint_trusted,
                                               history_buffer_getattr,
                                               load_local_checkpoint,
                                               trusted_checkpoints)
# yapf: enable
from checkpoint_files import (PAYLOAD_GLOBAL, ToyModel, save_malicious,
                              save_old_format, toy_runner)


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory):
    """A checkpoint written by a real mmengine Runner (1 epoch, message hub
    with logged scalars, optimizer and scheduler state)."""
    work = tmp_path_factory.mktemp('runner')
    toy_runner(work).train()
    return str(work / 'epoch_1.pth')


def test_runner_checkpoint_loads_with_the_allow_list(runner_checkpoint):
    assert tuple(int(v) for v in torch.__version__.split('.')[:2]) >= (2, 6)
    with pytest.raises(pickle.UnpicklingError):  # torch's own default
        torch.load(runner_checkpoint, map_location='cpu')
    assert CheckpointLoader._schemes[''] is load_local_checkpoint
    loaded = load_local_checkpoint(runner_checkpoint)
    assert loaded['meta']['epoch'] == 1
    buffers = loaded['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert np.isfinite(buffers['train/loss'].statistics('mean'))
    assert 'optimizer' in loaded and 'param_schedulers' in loaded
    # what the file needs beyond torch's defaults is exactly on the list
    needed = set(
        torch.serialization.get_unsafe_globals_in_checkpoint(
            runner_checkpoint))
    assert needed and needed <= set(checkpoint_safe_global_names())
    # the allow-list was added for the call only
    assert not set(torch.serialization.get_safe_globals()) & set(
        checkpoint_safe_globals())


def test_resumed_run_loads(runner_checkpoint, tmp_path):
    runner = toy_runner(
        tmp_path, max_epochs=2, load_from=runner_checkpoint, resume=True)
    runner.train()
    assert runner.epoch == 2
    assert load_local_checkpoint(str(tmp_path /
                                     'epoch_2.pth'))['meta']['epoch'] == 2


def test_meta_with_config_and_numpy_loads(tmp_path):
    """What mmengine / mmdet checkpoints keep in ``meta``: Config,
    ConfigDict, numpy scalars, dtypes and arrays."""
    path = str(tmp_path / 'meta.pth')
    meta = dict(
        cfg=Config(dict(model=dict(type='X', depth=18))),
        sub=ConfigDict(a=1),
        best=np.float64(0.75),
        step=np.int64(3),
        dtype=np.dtype('float32'),
        arr=np.arange(4, dtype=np.int16),
        flag=np.bool_(True))
    torch.save(dict(state_dict=ToyModel().state_dict(), meta=meta), path)
    loaded = load_local_checkpoint(path)['meta']
    assert loaded['cfg'].model.depth == 18 and loaded['sub'].a == 1
    assert loaded['best'] == 0.75 and loaded['step'] == 3
    assert loaded['dtype'] == np.float32 and bool(loaded['flag'])
    np.testing.assert_array_equal(loaded['arr'], np.arange(4))


def test_malicious_checkpoint_is_refused_everywhere(tmp_path):
    marker = tmp_path / 'marker'
    path = save_malicious(tmp_path / 'evil.pth', marker,
                          ToyModel().state_dict())
    for load in (lambda: load_local_checkpoint(path),
                 lambda: CheckpointLoader.load_checkpoint(path),
                 lambda: load_checkpoint(ToyModel(), path)):  # load_from
        with pytest.raises(UnsafeCheckpointError) as info:
            load()
        assert not marker.exists()
    msg = str(info.value)
    assert isinstance(info.value, UserInputError)
    assert '\n' not in msg
    assert msg.startswith(f'refused to load checkpoint {path}: it needs '
                          f'{PAYLOAD_GLOBAL}, ')
    assert '--trust-checkpoint' in msg and 'trust_checkpoint=True' in msg
    assert info.value.refused == [PAYLOAD_GLOBAL]


def test_the_payload_is_real(tmp_path):
    """Trusted, the same file runs its code: the refusals above are what
    keeps the marker away."""
    marker = tmp_path / 'marker'
    path = save_malicious(tmp_path / 'evil.pth', marker)
    with trusted_checkpoints():
        load_local_checkpoint(path)
    assert marker.exists()


def test_trust_is_explicit_and_scoped(tmp_path):
    path = save_old_format(tmp_path / 'old.pth', ToyModel().state_dict())
    with pytest.raises(UnsafeCheckpointError, match='argparse.Namespace'):
        load_local_checkpoint(path)
    assert not checkpoint_trusted()
    with trusted_checkpoints():
        assert load_local_checkpoint(path)['meta']['args'].lr == 0.1
        with trusted_checkpoints(False):  # an inner default keeps it
            assert checkpoint_trusted()
    with trusted_checkpoints(False):
        with pytest.raises(UnsafeCheckpointError):
            load_local_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):  # the scope has ended
        CheckpointLoader.load_checkpoint(path)
    assert load_local_checkpoint(path, trust=True)['meta']['epoch'] == 3


class _ReachConfigFromfile:

    def __reduce__(self):
        return (getattr, (Config, 'fromfile'))


def test_getattr_reaches_only_the_history_buffer_statistics(tmp_path):
    assert history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError):
        history_buffer_getattr(HistoryBuffer, '__init__')
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(meta=dict(x=_ReachConfigFromfile())), path)
    with pytest.raises(
            UnsafeCheckpointError,
            match=r'needs mmengine\.config\.config\.Config\.'
            'fromfile'):
        load_local_checkpoint(path)


def test_missing_checkpoint_message(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_local_checkpoint(str(tmp_path / 'nope.pth'))
    assert not osp.exists(tmp_path / 'nope.pth')


def test_downloaded_checkpoints_go_through_the_allow_list(
        tmp_path, monkeypatch):
    """``http(s)://`` and ``torchvision://`` names: the downloaded file is
    loaded by the same loader (mmengine's own would not check it)."""
    marker = tmp_path / 'marker'
    evil = save_malicious(tmp_path / 'evil.pth', marker)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setattr(
        checkpoint_loading,
        'download_url_to_file',
        lambda url, dst, progress=False: shutil.copy(evil, dst))
    cached = str(tmp_path / 'torch' / 'hub' / 'checkpoints' / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError) as info:
        CheckpointLoader.load_checkpoint('https://example.org/zoo/evil.pth')
    assert f'refused to load checkpoint {cached}: ' in str(info.value)
    monkeypatch.setattr(checkpoint_loading, 'get_torchvision_models',
                        lambda: dict(resnet_x='https://example.org/evil.pth'))
    with pytest.raises(UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint('torchvision://resnet_x')
    assert not marker.exists()
