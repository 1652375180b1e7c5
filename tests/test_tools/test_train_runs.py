"""End-to-end runs of tools/train.py on a tiny synthetic DeepLesion: resume,
a non-finite loss stopping the run, and 2-process CPU (gloo) DDP training."""
import glob
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import torch

from cspr_det.utils.checkpoint_loading import (checkpoint_safe_global_names,
                                               load_local_checkpoint)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    REPO, 'configs', 'deeplesion',
    'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py')


def _options(root, max_epochs=1):
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}/',
        f'val_dataloader.dataset.data_root={root}/',
        f'test_dataloader.dataset.data_root={root}/',
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'train_cfg.max_epochs={max_epochs}',
        'default_hooks.logger.interval=1',
    ]


def _run(args, env=None, timeout=600):
    full_env = dict(os.environ, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    return subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env)


def test_resume_continues_an_interrupted_run(tiny_deeplesion, tmp_path):
    work = str(tmp_path / 'work')
    first = _run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work] +
        _options(tiny_deeplesion, max_epochs=1))
    assert first.returncode == 0, first.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    best = glob.glob(osp.join(work, 'best_deeplesion_mean_sens_epoch_*.pth'))
    assert len(best) == 1  # the best mean FROC checkpoint is kept
    second = _run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
        '--resume'
    ] + _options(tiny_deeplesion, max_epochs=2))
    assert second.returncode == 0, second.stderr[-3000:]
    logs = sorted(glob.glob(osp.join(work, '*', '*.log')))
    text = open(logs[-1]).read()
    assert 'resumed epoch: 1' in text
    assert not re.search(r'Epoch\(train\)\s+\[1\]', text)  # not trained again
    assert re.search(r'Epoch\(train\)\s+\[2\]', text)
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    # the demo checkpoint needs nothing outside the allow-list (resume and
    # the test below load it through the same loader)
    ckpt = osp.join(work, 'epoch_2.pth')
    needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(ckpt))
    assert needed <= set(checkpoint_safe_global_names()), needed
    assert load_local_checkpoint(ckpt)['meta']['epoch'] == 2

    # tools/test.py: FROC report files and a raw-detection dump that the
    # re-scoring tool turns into the same numbers
    test_dir = str(tmp_path / 'test')
    dump = osp.join(test_dir, 'detections.json')
    tested = _run([
        sys.executable, 'tools/test.py', CONFIG,
        osp.join(work, 'epoch_2.pth'), '--work-dir', test_dir,
        '--dump-detections', dump
    ] + _options(tiny_deeplesion))
    assert tested.returncode == 0, tested.stderr[-3000:]
    for name in ('froc.json', 'froc.csv', 'froc_curve.png'):
        assert osp.isfile(osp.join(test_dir, name))
    with open(osp.join(test_dir, 'froc.json')) as f:
        report = json.load(f)
    with open(dump) as f:
        dumped = json.load(f)
    assert len(dumped['images']) == report['num_images_input']
    rescored = _run([
        sys.executable, 'tools/analysis_tools/rescore_detections.py', dump,
        '--out-dir',
        str(tmp_path / 'rescored')
    ])
    assert rescored.returncode == 0, rescored.stderr[-3000:]
    with open(tmp_path / 'rescored' / 'froc.json') as f:
        again = json.load(f)
    assert again['metrics']['mean_sens'] == report['metrics']['mean_sens']
    assert again['num_lesions'] == report['num_lesions']


def test_non_finite_loss_stops_with_a_clear_message(tiny_deeplesion, tmp_path):
    proc = _run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path / 'nan')
    ] + _options(tiny_deeplesion) + [
        'optim_wrapper.optimizer.lr=1e12', 'optim_wrapper.clip_grad=None',
        'param_scheduler=[]'
    ])
    assert proc.returncode == 3, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: non-finite loss')
    assert 'at iteration ' in last
    assert 'Traceback' not in proc.stderr


def test_two_process_cpu_ddp(tiny_deeplesion, tmp_path):
    work = str(tmp_path / 'ddp')
    proc = _run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port', '29533', 'tools/train.py', CONFIG, '--launcher',
        'pytorch', '--work-dir', work
    ] + _options(tiny_deeplesion, max_epochs=1))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    logs = sorted(glob.glob(osp.join(work, '*', '*.log')))
    text = open(logs[-1]).read()
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text  # mmengine's name for the world size
    assert "dist_cfg: {'backend': 'gloo'}" in text
    # the sampler splits the epoch between the 2 processes: each runs
    # ceil(ceil(n / 2) / 2) iterations of batch 2 over the n training images
    with open(
            osp.join(tiny_deeplesion, 'annotations',
                     'deeplesion_train.json')) as f:
        n = len(json.load(f)['images'])
    per_rank = math.ceil(math.ceil(n / 2) / 2)
    assert n >= 4
    assert re.search(rf'Epoch\(train\)\s+\[1\]\[{per_rank}/{per_rank}\]', text)
    assert 'Epoch(val)' in text
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
