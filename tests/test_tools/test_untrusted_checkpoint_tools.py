"""tools/train.py (``load_from`` and ``--resume``) and tools/test.py refuse
a checkpoint whose unpickling would run code, in one line naming the
refused global and the file, before anything runs; ``--trust-checkpoint``
loads an old-format checkpoint."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cspr_det.cli.errors import run_cli
from cspr_det.registry import MODELS
from checkpoint_files import PAYLOAD_GLOBAL, save_malicious, save_old_format
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')

test_tool = load_tool('tools/test.py')
train_tool = load_tool('tools/train.py')


def _options(root):
    opts = [
        f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
        for key in ('num_workers=0', 'persistent_workers=False')
    ]
    opts += [
        f'{split}_dataloader.dataset.data_root={root}/'
        for split in ('train', 'val', 'test')
    ]
    return ['--cfg-options'] + opts + ['train_cfg.max_epochs=1']


@pytest.fixture(scope='module')
def demo_state():
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(DEMO).model).state_dict()


def _refused(main, capsys, path, marker):
    with pytest.raises(SystemExit) as info:
        run_cli(main)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f'error: refused to load checkpoint {path}: it '
                           f'needs {PAYLOAD_GLOBAL}, ')
    assert 'if you trust this file, load it with --trust-checkpoint' in last
    assert not marker.exists()


def test_train_and_test_refuse_a_malicious_checkpoint(tiny_deeplesion,
                                                      tmp_path, demo_state,
                                                      capsys):
    marker = tmp_path / 'marker'
    path = save_malicious(tmp_path / 'evil.pth', marker, demo_state)
    opts = _options(tiny_deeplesion)
    work = str(tmp_path / 'load_from')
    args = train_tool.parse_args([DEMO, '--work-dir', work] + opts +
                                 [f'load_from={path}'])
    _refused(lambda: train_tool.main(args), capsys, path, marker)
    assert not glob.glob(osp.join(work, '*.pth'))
    work = str(tmp_path / 'resume')
    args = train_tool.parse_args([DEMO, '--work-dir', work, '--resume', path] +
                                 opts)
    _refused(lambda: train_tool.main(args), capsys, path, marker)
    assert not glob.glob(osp.join(work, '*.pth'))
    args = test_tool.parse_args(
        [DEMO, path, '--work-dir',
         str(tmp_path / 'test')] + opts)
    _refused(lambda: test_tool.main(args), capsys, path, marker)
    assert not osp.exists(tmp_path / 'test' / 'froc.json')


def test_trust_checkpoint_tests_an_old_format_checkpoint(
        tiny_deeplesion, tmp_path, demo_state, capsys):
    path = save_old_format(tmp_path / 'old.pth', demo_state)
    opts = _options(tiny_deeplesion)
    work = str(tmp_path / 'test')
    args = test_tool.parse_args([DEMO, path, '--work-dir', work] + opts)
    with pytest.raises(SystemExit):
        run_cli(lambda: test_tool.main(args))
    assert 'argparse.Namespace' in capsys.readouterr().err
    args = test_tool.parse_args(
        [DEMO, path, '--work-dir', work, '--trust-checkpoint'] + opts)
    assert test_tool.main(args) == 0
    assert osp.isfile(osp.join(work, 'froc.json'))
