"""tools/test.py loads its checkpoint strictly (and ``load_from`` checks a
converted checkpoint's backbone architecture): a wrong checkpoint stops the
run with one line instead of evaluating a random network."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from cspr_det.cli.errors import run_cli
from cspr_det.models.utils import CheckpointMismatchError, describe_backbone
from cspr_det.registry import MODELS
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')
MP3D63 = osp.join(REPO, 'configs', 'deeplesion',
                  'faster-rcnn_mp3d63-gtm_fpn_8xb2-24e_deeplesion-9slice.py')

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
def mp3d63_state(tmp_path_factory):
    """A saved MP3D-63 detector (slimmed to base width 8 to stay small):
    the wrong model for the demo config."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(MP3D63)
    cfg.model.backbone.base_channels = 8
    cfg.model.backbone.norm_cfg.num_groups = 8
    cfg.model.neck.in_channels = [32, 64, 128, 256]
    path = str(tmp_path_factory.mktemp('ckpt') / 'mp3d63.pth')
    torch.save(
        dict(
            state_dict=MODELS.build(cfg.model).state_dict(),
            meta=dict(epoch=24)), path)
    return path


@pytest.fixture(scope='module')
def caffe_record(tmp_path_factory):
    """The demo detector's own tensors, recorded as converted for a
    caffe-style backbone with a (3, 3, 3) stem pool."""
    init_default_scope('mmdet')
    model = MODELS.build(Config.fromfile(DEMO).model)
    arch = dict(
        describe_backbone(model.backbone),
        style='caffe',
        stem_pool_kernel=(3, 3, 3))
    path = str(tmp_path_factory.mktemp('ckpt') / 'caffe.pth')
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(backbone_arch=arch)),
        path)
    return path


def test_test_tool_refuses_a_mismatching_checkpoint(tiny_deeplesion, tmp_path,
                                                    mp3d63_state, capsys):
    """The command line's error path (``run_cli``), in-process."""
    args = test_tool.parse_args(
        [DEMO, mp3d63_state, '--work-dir',
         str(tmp_path)] + _options(tiny_deeplesion))
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: test_tool.main(args))
    assert info.value.code == 1
    out, err = capsys.readouterr()
    assert 'Traceback' not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f'error: {mp3d63_state} does not match FasterRCNN: ')
    # the demo backbone has 112 tensors, the MP3D-63 one 334: counts of
    # each kind, then the first keys of each
    assert ' missing, ' in last and ' unexpected, ' in last
    assert ' shape-mismatched keys (missing: backbone.' in last
    assert '; unexpected: backbone.' in last
    assert '; shape-mismatched: backbone.conv1.weight: checkpoint ' \
        '(8, 1, 1, 7, 7) vs model (16, 2, 1, 7, 7)' in last
    assert last.endswith('run with --non-strict to evaluate the matching '
                         'tensors anyway')
    assert 'Epoch(test)' not in out  # nothing evaluated


def test_non_strict_evaluates_with_the_summary_as_a_warning(
        tiny_deeplesion, tmp_path, mp3d63_state):
    work = str(tmp_path / 'non_strict')
    args = test_tool.parse_args(
        [DEMO, mp3d63_state, '--work-dir', work, '--non-strict'] +
        _options(tiny_deeplesion))
    assert test_tool.main(args) == 0
    log = open(sorted(glob.glob(osp.join(work, '*', '*.log')))[-1]).read()
    assert f'WARNING - {mp3d63_state} does not match FasterRCNN: ' in log
    assert '(loading the matching tensors only)' in log
    assert osp.isfile(osp.join(work, 'froc.json'))


def test_recorded_architecture_refused_by_test_tool_and_load_from(
        tiny_deeplesion, tmp_path, caffe_record):
    args = test_tool.parse_args(
        [DEMO, caffe_record, '--work-dir',
         str(tmp_path / 't')] + _options(tiny_deeplesion))
    with pytest.raises(CheckpointMismatchError) as info:
        test_tool.main(args)
    msg = str(info.value)
    assert msg.startswith(f'{caffe_record} was converted for another '
                          "backbone architecture: style: checkpoint 'caffe', "
                          "model 'pytorch'; stem_pool_kernel: checkpoint "
                          '(3, 3, 3), model (1, 3, 3). ')
    # fine-tuning from it (load_from through tools/train.py) stops the same
    # way, before the first iteration
    work = str(tmp_path / 'train')
    args = train_tool.parse_args([DEMO, '--work-dir', work] +
                                 _options(tiny_deeplesion) +
                                 [f'load_from={caffe_record}'])
    with pytest.raises(CheckpointMismatchError, match='style: checkpoint'):
        train_tool.main(args)
    assert not glob.glob(osp.join(work, '*.pth'))
