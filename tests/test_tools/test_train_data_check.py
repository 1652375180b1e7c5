"""tools/train.py checks the training and validation data before the first
iteration: a truncated array, an index entry without its file or a missing
PNG stop the run with one line naming them (non-zero exit; a corrupt npz:
tests/test_lidc/test_lidc_data_check.py); ``--skip-data-check`` leaves the
check out."""
import glob
import json
import os
import os.path as osp
import shutil

import pytest

from cspr_det.cli.errors import run_cli
from seg_fixtures import tiny_seg_dataset
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
train_tool = load_tool('tools/train.py')
LITS = 'configs/segmentation/lits/' \
    'unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py'
DEEPLESION = 'configs/deeplesion/' \
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py'


def train_args(config, root, work, *extra):
    opts = [
        f'{split}_dataloader.{key}' for split in ('train', 'val')
        for key in ('num_workers=0', 'persistent_workers=False')
    ]
    opts += [
        f'{split}_dataloader.dataset.data_root={root}/'
        for split in ('train', 'val')
    ]
    return train_tool.parse_args(
        [osp.join(REPO, config), '--work-dir', work, *extra, '--cfg-options'] +
        opts)


def fails_at_start_up(args, capsys):
    """Run the tool's command line in-process; return its error line."""
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: train_tool.main(args))
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert 'Traceback' not in err
    lines = err.strip().splitlines()
    assert 'Epoch(train)' not in out + err  # stopped before training
    assert not glob.glob(osp.join(args.work_dir, '*.pth'))
    return lines[-1]


def _truncate(path):
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])


def test_truncated_array_and_missing_case(tmp_path_factory, tmp_path, capsys):
    lits = tiny_seg_dataset(tmp_path_factory, 'lits')
    root = str(tmp_path / 'lits')
    shutil.copytree(lits['converted'], root)
    split = json.load(open(lits['split']))
    # the training set skips a case without arrays when it is built (the
    # check still reports it); the validation set builds with a truncated
    # array
    gone, cut = split['train'][0], split['val'][0]
    os.remove(osp.join(root, 'images', gone + '.npy'))
    _truncate(osp.join(root, 'images', cut + '.npy'))
    line = fails_at_start_up(
        train_args(LITS, root, str(tmp_path / 'w')), capsys)
    assert line.startswith(
        f'error: data check failed: train LiTSDataset: 1 of '
        f'{len(split["train"])} cases: {gone} (image '
        f'{osp.join(root, "images", gone + ".npy")}: not found) | val '
        f'LiTSDataset: 1 of {len(split["val"])} cases: {cut} (image '
        f'{osp.join(root, "images", cut + ".npy")}: truncated: ')
    assert line.endswith('(fix or convert the data again, or train with '
                         '--skip-data-check)')


def test_missing_png(tiny_deeplesion, tmp_path, capsys):
    root = str(tmp_path / 'dl')
    shutil.copytree(tiny_deeplesion, root)
    ann = json.load(open(osp.join(root, 'annotations', 'deeplesion_val.json')))
    key = ann['images'][0]['file_name']
    os.remove(osp.join(root, 'Images_png', key))
    line = fails_at_start_up(
        train_args(DEEPLESION, root, str(tmp_path / 'w')), capsys)
    assert line.startswith('error: data check failed: val '
                           'DeepLesionDataset: 1 of ')
    assert f'key slices: {key} (not found)' in line
    assert 'train DeepLesionDataset' not in line


def test_skip_data_check_leaves_the_check_out(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(train_tool, 'run_with_runner',
                        lambda cfg, *a, **k: seen.append(cfg))
    for extra in ((), ('--skip-data-check', )):
        args = train_args(LITS, str(tmp_path), str(tmp_path / 'w'), *extra)
        assert train_tool.main(args) == 0
    types = [[h['type'] for h in cfg.get('custom_hooks', [])] for cfg in seen]
    assert 'cspr_det.DataCheckHook' in types[0]
    assert 'cspr_det.DataCheckHook' not in types[1]
