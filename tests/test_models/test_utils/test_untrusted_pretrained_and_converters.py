"""Pre-training initialisers and the converters refuse a checkpoint whose
unpickling would run code (its marker file never appears), and load an
old-format file they are told to trust."""
import pytest
import torch

from cspr_det.models.utils import PretrainedBackbone, convert_mp3d
from cspr_det.registry import MODELS
from cspr_det.utils.checkpoint_loading import (UnsafeCheckpointError,
                                               load_local_checkpoint)
from checkpoint_files import PAYLOAD_GLOBAL, save_malicious, save_old_format
from legacy_checkpoints import legacy_cspr_r3d, legacy_mp3d
from tool_loader import load_tool

R3D = dict(type='cspr_det.ResNet3D', depth=18, base_channels=8)
TOOLS = {
    'convert_mp3d': 'tools/model_converters/convert_mp3d.py',
    'convert_cspr_resnet3d': 'tools/model_converters/convert_cspr_resnet3d.py',
    'inflate_2d_resnet': 'tools/model_converters/inflate_2d_resnet.py',
    'extract_backbone': 'tools/misc/extract_backbone.py',
}


def _backbone_state():
    torch.manual_seed(1)
    return {
        f'backbone.{k}': v
        for k, v in MODELS.build(R3D).state_dict().items()
    }


def _assert_refusal(text, path):
    assert text.startswith(f'refused to load checkpoint {path}: it needs '
                           f'{PAYLOAD_GLOBAL}, ')
    assert '\n' not in text.strip() and '--trust-checkpoint' in text


@pytest.mark.parametrize('init', ['cspr_det.PretrainedBackbone', 'Pretrained'])
def test_init_cfg_refuses_a_malicious_checkpoint(init, tmp_path):
    marker = tmp_path / 'marker'
    path = save_malicious(tmp_path / 'evil.pth', marker, _backbone_state())
    model = MODELS.build(
        dict(
            R3D, init_cfg=dict(type=init, checkpoint=path,
                               prefix='backbone.')))
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    _assert_refusal(str(info.value), path)
    assert not marker.exists()


def test_pretrained_backbone_trusts_only_when_told(tmp_path):
    state = _backbone_state()
    path = save_old_format(tmp_path / 'old.pth', state)
    module = MODELS.build(R3D)
    with pytest.raises(UnsafeCheckpointError, match='argparse.Namespace'):
        PretrainedBackbone(path)(module)
    report = PretrainedBackbone(path, trust_checkpoint=True)(module)
    assert len(report['loaded']) == len(module.state_dict())
    torch.testing.assert_close(module.conv1.weight,
                               state['backbone.conv1.weight'])
    # the same through a config
    built = MODELS.build(
        dict(
            R3D,
            init_cfg=dict(
                type='cspr_det.PretrainedBackbone',
                checkpoint=path,
                trust_checkpoint=True)))
    built.init_weights()
    torch.testing.assert_close(built.conv1.weight,
                               state['backbone.conv1.weight'])


@pytest.mark.parametrize('name', sorted(TOOLS))
def test_converters_refuse_a_malicious_checkpoint(name, tmp_path, capsys):
    marker = tmp_path / 'marker'
    state = legacy_mp3d('basic', (2, 2, 2, 2)) if name == 'convert_mp3d' \
        else legacy_cspr_r3d() if name == 'convert_cspr_resnet3d' \
        else _backbone_state()
    path = save_malicious(tmp_path / 'evil.pth', marker, state)
    dst = tmp_path / 'out.pth'
    args = [path, str(dst)]
    if name == 'inflate_2d_resnet':
        args += ['--arch', 'resnet3d', '--depth', '18']
    assert load_tool(TOOLS[name]).main(args) == 1
    err = capsys.readouterr().err.strip()
    _assert_refusal(err[len('error: '):], path)
    assert not marker.exists() and not dst.exists()


def test_converter_functions_refuse_and_trust(tmp_path):
    marker = tmp_path / 'marker'
    legacy = legacy_mp3d('basic', (2, 2, 2, 2))
    path = save_malicious(tmp_path / 'evil.pth', marker, legacy)
    with pytest.raises(UnsafeCheckpointError):
        convert_mp3d(path)
    assert not marker.exists()
    old = save_old_format(tmp_path / 'old.pth', legacy)
    with pytest.raises(UnsafeCheckpointError):
        convert_mp3d(old)
    backbone, _ = convert_mp3d(old, trust_checkpoint=True)
    assert 'layer1.0.conv1.conv_s.weight' in backbone


@pytest.mark.parametrize(
    'name', ['convert_mp3d', 'convert_cspr_resnet3d', 'extract_backbone'])
def test_trust_checkpoint_converts_an_old_format_file(name, tmp_path):
    state = legacy_mp3d('basic', (2, 2, 2, 2)) if name == 'convert_mp3d' \
        else legacy_cspr_r3d() if name == 'convert_cspr_resnet3d' \
        else _backbone_state()
    path = save_old_format(tmp_path / 'old.pth', state)
    dst = tmp_path / 'out.pth'
    tool = load_tool(TOOLS[name])
    assert tool.main([path, str(dst)]) == 1 and not dst.exists()
    assert tool.main([path, str(dst), '--trust-checkpoint']) == 0
    # what the tools write loads without trust
    assert load_local_checkpoint(str(dst))['state_dict']
