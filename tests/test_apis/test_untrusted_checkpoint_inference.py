"""init_detector and tools/infer_ct.py refuse a checkpoint whose unpickling
would run code (the marker never appears); ``trust_checkpoint=True`` /
``--trust-checkpoint`` load an old-format checkpoint."""
import os

import pytest
import torch

from cspr_det.apis import init_detector
from cspr_det.cli.errors import run_cli
from cspr_det.utils.checkpoint_loading import UnsafeCheckpointError
from checkpoint_files import PAYLOAD_GLOBAL, save_malicious, save_old_format
from ct_fixtures import DEMO, FAST_OPTIONS, synthetic_hu, write_nifti_rotated
from tool_loader import load_tool

tool = load_tool('tools/infer_ct.py')
OPTIONS = ['--cfg-options'] + [f'{k}={v}' for k, v in FAST_OPTIONS.items()]


@pytest.fixture(scope='module')
def demo_state(random_detector):
    return torch.load(random_detector, weights_only=True)['state_dict']


def test_init_detector_refuses_and_trusts(demo_state, tmp_path):
    marker = tmp_path / 'marker'
    evil = save_malicious(tmp_path / 'evil.pth', marker, demo_state)
    with pytest.raises(UnsafeCheckpointError, match=PAYLOAD_GLOBAL):
        init_detector(DEMO, evil, cfg_options=FAST_OPTIONS)
    assert not marker.exists()
    old = save_old_format(tmp_path / 'old.pth', demo_state)
    with pytest.raises(UnsafeCheckpointError, match='argparse.Namespace'):
        init_detector(DEMO, old, cfg_options=FAST_OPTIONS)
    model = init_detector(
        DEMO, old, cfg_options=FAST_OPTIONS, trust_checkpoint=True)
    torch.testing.assert_close(model.state_dict()['backbone.conv1.weight'],
                               demo_state['backbone.conv1.weight'])


def test_infer_ct_refuses_and_writes_nothing(demo_state, tmp_path, capsys):
    marker = tmp_path / 'marker'
    evil = save_malicious(tmp_path / 'evil.pth', marker, demo_state)
    nii = write_nifti_rotated(
        str(tmp_path / 'scan.nii.gz'), synthetic_hu(depth=2))
    out = tmp_path / 'out'
    args = tool.parse_args(
        [DEMO, evil, nii, '--out-dir',
         str(out), '--no-progress'] + OPTIONS)
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: tool.main(args))
    assert info.value.code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f'error: refused to load checkpoint {evil}: it '
                           f'needs {PAYLOAD_GLOBAL}, ')
    assert '--trust-checkpoint' in last
    assert not marker.exists()
    assert not out.exists() or not os.listdir(out)
    old = save_old_format(tmp_path / 'old.pth', demo_state)
    args = tool.parse_args([
        DEMO, old, nii, '--out-dir',
        str(out), '--no-progress', '--trust-checkpoint'
    ] + OPTIONS)
    assert tool.main(args) == 0
    assert (out / 'results.json').exists()
