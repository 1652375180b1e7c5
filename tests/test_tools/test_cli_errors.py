"""tools/train.py and tools/test.py: bad input gives one clear line and a
non-zero exit, not a traceback; a bug keeps its traceback."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.utils import UserInputError

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
    cfg.write_text("_base_ = '" +
                   str(REPO / 'configs/_base_/runtimes/detection.py') + "'\n"
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
        'tools/train.py', 'configs/deeplesion/'
        'faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py',
        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/no_data/')
    assert code == 2
    assert (f'data root of train_dataloader not found: {tmp_path}/no_data/'
            in err)


def test_test_tool_missing_checkpoint(tmp_path):
    code, err = run_tool(
        'tools/test.py', 'configs/deeplesion/'
        'faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py',
        str(tmp_path / 'missing.pth'))
    assert code == 2
    assert 'checkpoint not found' in err and 'missing.pth' in err


def test_bad_argument_exits_nonzero():
    code, err = run_tool('tools/train.py')
    assert code == 2
    assert 'config' in err


def test_a_bug_in_code_keeps_its_traceback(tmp_path):
    """A KeyError raised by code (here a registered model whose constructor
    has a bug) is not bad input: the tool shows the traceback."""
    (tmp_path / 'buggy_model.py').write_text(
        'from mmengine.model import BaseModel\n'
        'from cspr_det.registry import MODELS\n\n\n'
        '@MODELS.register_module()\n'
        'class BuggyModel(BaseModel):\n\n'
        '    def __init__(self):\n'
        '        super().__init__()\n'
        "        self.sizes = {}['depth']\n\n"
        '    def forward(self, *args, **kwargs):\n'
        '        return {}\n')
    cfg = tmp_path / 'buggy.py'
    cfg.write_text("_base_ = '" +
                   str(REPO / 'configs/_base_/runtimes/detection.py') + "'\n"
                   "custom_imports = dict(imports=['buggy_model'])\n"
                   "model = dict(type='cspr_det.BuggyModel')\n"
                   "train_dataloader = None\n")
    proc = subprocess.run([
        sys.executable, 'tools/train.py',
        str(cfg), '--work-dir',
        str(tmp_path / 'w')
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=dict(
                              os.environ,
                              PYTHONPATH=os.pathsep.join(
                                  [str(tmp_path), str(REPO)])))
    assert proc.returncode != 0
    assert 'Traceback' in proc.stderr
    assert "self.sizes = {}['depth']" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "KeyError: 'depth'"


def test_run_cli_sorts_user_errors_from_bugs(capsys):

    def raise_(exc):

        def main():
            raise exc

        return main

    for exc in (KeyError('depth'), TypeError('bad operand')):
        with pytest.raises(type(exc)):
            run_cli(raise_(exc))
    for exc, code in ((CLIError('no such file: x'),
                       2), (UserInputError('x.csv row 3: no spacing'), 1),
                      (FileNotFoundError('x.nii.gz not found'), 1)):
        with pytest.raises(SystemExit) as info:
            run_cli(raise_(exc))
        assert info.value.code == code
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and str(exc) in err
