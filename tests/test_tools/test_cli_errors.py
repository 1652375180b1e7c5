"""tools/train.py and tools/test.py: bad input gives one clear line and a
non-zero exit, not a traceback."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_tool(*args, cwd=None):
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd or REPO,
                          capture_output=True,
                          text=True,
                          timeout=300)
    return proc.returncode, proc.stderr


def test_missing_config():
    code, err = run_tool('tools/train.py', 'configs/nope/missing.py')
    assert code == 2
    assert 'config file not found: configs/nope/missing.py' in err
    assert 'Traceback' not in err


def test_unknown_registry_type(tmp_path):
    cfg = tmp_path / 'bad.py'
    cfg.write_text(
        "_base_ = '" + str(REPO / 'configs/_base_/runtimes/detection.py') + "'\n"
        "model = dict(type='cspr_det.NoSuchDetector')\n"
        "train_dataloader = None\n")
    code, err = run_tool('tools/train.py', str(cfg), '--work-dir',
                         str(tmp_path / 'w'))
    assert code == 1
    assert 'NoSuchDetector' in err
    assert 'registry' in err
    assert 'Traceback' not in err


def test_missing_data_root(tmp_path):
    code, err = run_tool(
        'tools/train.py',
        'configs/deeplesion/'
        'faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py',
        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/no_data/')
    assert code == 2
    assert (f'data root of train_dataloader not found: {tmp_path}/no_data/'
            in err)


def test_test_tool_missing_checkpoint(tmp_path):
    code, err = run_tool(
        'tools/test.py',
        'configs/deeplesion/'
        'faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py',
        str(tmp_path / 'missing.pth'))
    assert code == 2
    assert 'checkpoint not found' in err and 'missing.pth' in err


def test_bad_argument_exits_nonzero():
    code, err = run_tool('tools/train.py')
    assert code == 2
    assert 'config' in err
