"""SyncBN backbones inside a real 2-process gloo group on CPU.

Without a process group torch's ``SyncBatchNorm`` is plain BatchNorm (see
test_p3d_backbones.py); inside one it synchronises batch statistics, which
torch only does for GPU tensors. What this package has to get right, and
what is checked here with two processes:

- ``norm_cfg=dict(type='SyncBN')`` puts ``SyncBatchNorm`` in every norm
  position and its state dict is interchangeable with the ``BN3d`` one;
- with ``norm_eval=True`` (the usual fine-tuning setting) the backbone trains
  inside the group, on CPU too, and equals the BN3d network;
- statistics synchronisation in training is torch's GPU-only path: on CPU it
  is refused with torch's error, so CPU multi-process training uses GN (or
  ``norm_eval=True``).
"""
import os.path as osp

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.modules.batchnorm import _BatchNorm

# imported here, once: the forked workers inherit it
from cspr_det.models.backbones import MP3DResNet

WORLD_SIZE = 2


def _build(norm_type: str, norm_eval: bool) -> MP3DResNet:
    torch.manual_seed(0)
    return MP3DResNet(
        '18ba',
        base_channels=4,
        num_slices=3,
        collapse='gtm',
        norm_eval=norm_eval,
        norm_cfg=dict(type=norm_type, requires_grad=True))


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import pytest

    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=WORLD_SIZE)
    try:
        sync = _build('SyncBN', norm_eval=True)
        norms = [m for m in sync.modules() if isinstance(m, _BatchNorm)]
        assert norms and all(
            isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
        # running statistics that differ from the defaults, equal on ranks
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for m in norms:
                m.running_mean.copy_(
                    torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(
                    torch.rand(m.num_features, generator=g) + 0.5)
        plain = _build('BN3d', norm_eval=True)
        plain.load_state_dict(sync.state_dict(), strict=True)

        # each rank has its own data, as under DistributedSampler
        x = torch.randn(
            2, 3, 32, 32, generator=torch.Generator().manual_seed(10 + rank))
        xs, xp = x.clone().requires_grad_(), x.clone().requires_grad_()
        sync.train()
        plain.train()
        assert not any(m.training for m in norms)  # norm_eval held
        out_s, out_p = sync(xs), plain(xp)
        for a, b in zip(out_s, out_p):
            torch.testing.assert_close(a, b)
        sum(o.sum() for o in out_s).backward()
        sum(o.sum() for o in out_p).backward()
        torch.testing.assert_close(xs.grad, xp.grad)
        torch.testing.assert_close(sync.conv1.weight.grad,
                                   plain.conv1.weight.grad)
        # gradients are averaged across ranks as DDP does: a collective that
        # really ran in this group
        grad = sync.conv1.weight.grad.clone()
        dist.all_reduce(grad)
        others = grad - sync.conv1.weight.grad
        assert not torch.allclose(others, sync.conv1.weight.grad)

        # training statistics would be synchronised: CPU tensors are refused
        live = _build('SyncBN', norm_eval=False).train()
        with pytest.raises(
                ValueError, match='expected input tensor to be on '
                'GPU'):
            live(x)
        torch.save(
            dict(rank=rank, outs=[o.detach() for o in out_s]),
            osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_syncbn_backbone_in_two_process_gloo_group(tmp_path):
    # fork: the children inherit the imported stack (spawn would re-import
    # torch, mmcv and mmdet in each child, most of this test's time)
    mp.start_processes(
        _worker,
        args=(str(tmp_path / 'pg_init'), str(tmp_path)),
        nprocs=WORLD_SIZE,
        join=True,
        start_method='fork')
    results = [
        torch.load(tmp_path / f'rank{r}.pth') for r in range(WORLD_SIZE)
    ]
    assert [r['rank'] for r in results] == [0, 1]
    # different data per rank: the two processes did not compute one thing
    assert not torch.allclose(results[0]['outs'][3], results[1]['outs'][3])
    assert results[0]['outs'][3].shape == (2, 32, 1, 1)
