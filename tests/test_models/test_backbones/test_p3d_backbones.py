"""P3DResNet and MP3DResNet: shapes, freezing, errors, config building."""
import copy

import pytest
import torch

from cspr_det.models.backbones import MP3DResNet, P3DResNet
from cspr_det.registry import MODELS

SIZE = 32


def _x(n, s, size=SIZE):
    return torch.randn(n, s, size, size)


@pytest.mark.parametrize('depth,chans', [(63, [32, 64, 128, 256]),
                                         ('18ba', [8, 16, 32, 64])])
@pytest.mark.parametrize('s', [1, 3, 9, 27])
def test_mp3d_shapes(depth, chans, s):
    m = MP3DResNet(depth, base_channels=8, num_slices=s).eval()
    with torch.no_grad():
        outs = m(_x(1, s))
    assert [tuple(o.shape)
            for o in outs] == [(1, c, SIZE // 2**(i + 2), SIZE // 2**(i + 2))
                               for i, c in enumerate(chans)]
    assert m.out_channels == chans


@pytest.mark.parametrize('s', [1, 3, 9, 27])
def test_p3d_shapes_and_depth_schedule(s):
    m = P3DResNet(63, base_channels=8, num_slices=s)
    depths = []
    for i in range(1, 5):
        getattr(m, f'layer{i}').register_forward_hook(
            lambda mod, inp, out: depths.append(out.size(2)))
    with torch.no_grad():
        outs = m(_x(2, s))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 8, 8), (2, 64, 4, 4),
                                              (2, 128, 2, 2), (2, 256, 1, 1)]
    expected = {
        1: [1, 1, 1, 1],
        3: [3, 1, 1, 1],
        9: [9, 5, 3, 1],
        27: [27, 13, 7, 3]
    }[s]
    assert depths == expected


def test_mp3d_keeps_depth_and_none_collapse_is_5d():
    m = MP3DResNet(
        '18ba',
        base_channels=8,
        num_slices=5,
        collapse='none',
        out_indices=(1, 3))
    outs = m(_x(1, 5))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 5, 4, 4),
                                              (1, 64, 5, 1, 1)]


def test_p3d_centre_slice_output():
    m = P3DResNet('18ba', base_channels=8, num_slices=3, out_indices=(0, ))
    m.eval()
    feats = {}
    m.layer1.register_forward_hook(lambda mod, i, o: feats.update(l1=o))
    out = m(_x(1, 3))[0]
    torch.testing.assert_close(out, feats['l1'][:, :, 1])


def test_scaled_widths_and_stem_channels():
    m = MP3DResNet(
        63, base_channels=16, stem_channels=8, num_slices=3, collapse='mean')
    assert m.conv1.out_channels == 8
    assert m.out_channels == [64, 128, 256, 512]
    m = P3DResNet('34ba', base_channels=4, num_slices=3)
    assert m.out_channels == [4, 8, 16, 32]
    assert [len(getattr(m, f'layer{i}')) for i in range(1, 5)] == [3, 4, 6, 3]


def test_multi_window_input_and_5d_input():
    m = MP3DResNet('18ba', in_channels=2, base_channels=8, num_slices=3)
    assert m.conv1.weight.shape[1] == 2
    a = m(_x(2, 6))
    assert a[0].shape == (2, 8, 8, 8)
    m.eval()
    x = _x(1, 6)
    torch.testing.assert_close(m(x)[3], m(x.view(1, 2, 3, SIZE, SIZE))[3])
    with pytest.raises(ValueError, match='do not split'):
        m(_x(1, 5))


def test_errors():
    with pytest.raises(KeyError, match='invalid depth 50'):
        MP3DResNet(50)
    with pytest.raises(ValueError, match='collapse must be one of'):
        MP3DResNet(63, collapse='max')
    with pytest.raises(ValueError, match='needs num_slices'):
        MP3DResNet(63, num_slices=None, collapse='gtm')
    with pytest.raises(ValueError, match='out_indices'):
        P3DResNet(63, out_indices=(4, ))
    m = MP3DResNet('18ba', base_channels=8, num_slices=9)
    with pytest.raises(ValueError, match='num_slices=9 but the input has 5'):
        m(_x(1, 5))
    with pytest.raises(ValueError, match='expected a'):
        m(torch.randn(9, SIZE, SIZE))


def test_gradient_reaches_input():
    for m in (MP3DResNet('18ba', base_channels=8, num_slices=3),
              P3DResNet(63, base_channels=8, num_slices=3)):
        x = _x(2, 3).requires_grad_()
        sum(o.sum() for o in m(x)).backward()
        assert x.grad is not None and x.grad.abs().sum() > 0


def test_frozen_stages_stay_frozen():
    torch.manual_seed(0)
    m = MP3DResNet('18ba', base_channels=8, num_slices=3, frozen_stages=1)
    m.train()
    assert not m.norm1.training and not m.layer1[0].conv1.norm_s.training
    assert m.layer2[0].conv1.norm_s.training
    frozen = {
        k: v.clone()
        for k, v in m.state_dict().items()
        if k.startswith(('conv1.', 'norm1.', 'layer1.'))
    }
    assert all(not p.requires_grad for n, p in m.named_parameters()
               if n.startswith(('conv1.', 'norm1.', 'layer1.')))
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad],
                          lr=0.1)
    before_l2 = m.layer2[0].conv1.conv_s.weight.clone()
    sum(o.sum() for o in m(_x(2, 3))).backward()
    opt.step()
    for k, v in m.state_dict().items():
        if k in frozen:
            torch.testing.assert_close(v, frozen[k], msg=k)
    assert not torch.equal(before_l2, m.layer2[0].conv1.conv_s.weight)


def test_norm_eval_keeps_bn_in_eval():
    m = P3DResNet(63, base_channels=8, num_slices=3, norm_eval=True)
    m.train()
    bns = [
        mod for mod in m.modules()
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)
    ]
    assert bns and all(not b.training for b in bns)
    stats = m.norm1.running_mean.clone()
    m(_x(2, 3))
    torch.testing.assert_close(m.norm1.running_mean, stats)


def test_with_cp_same_output_and_grad():
    torch.manual_seed(0)
    a = MP3DResNet('18ba', base_channels=8, num_slices=3).eval()
    b = copy.deepcopy(a)
    for blk in b.modules():
        if hasattr(blk, 'with_cp'):
            blk.with_cp = True
    x = _x(1, 3)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    oa, ob = a(xa), b(xb)
    for u, v in zip(oa, ob):
        torch.testing.assert_close(u, v)
    sum(o.sum() for o in oa).backward()
    sum(o.sum() for o in ob).backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    assert MP3DResNet('18ba', with_cp=True, num_slices=3).layer1[0].with_cp


@pytest.mark.parametrize('norm_cfg', [
    dict(type='GN', num_groups=4, requires_grad=True),
    dict(type='SyncBN', requires_grad=True)
])
def test_other_norms(norm_cfg):
    m = MP3DResNet('18ba', base_channels=8, num_slices=3, norm_cfg=norm_cfg)
    assert type(m.norm1).__name__ in ('GroupNorm', 'SyncBatchNorm')
    m.train()  # SyncBN falls back to plain BN without a process group
    outs = m(_x(2, 3))
    assert outs[3].shape == (2, 64, 1, 1)


def test_build_from_config_and_init_weights():
    cfg = dict(
        type='cspr_det.MP3DResNet',
        depth=63,
        base_channels=8,
        num_slices=3,
        collapse='gtm',
        out_indices=(0, 1, 2, 3))
    m = MODELS.build(cfg)
    assert isinstance(m, MP3DResNet)
    m.init_weights()
    # GTM starts as the depth mean even after the Kaiming init of the parent
    torch.testing.assert_close(m.collapse1.conv.weight,
                               torch.full_like(m.collapse1.conv.weight, 1 / 3))
    assert m.norm1.weight.eq(1).all()
    p = MODELS.build(
        dict(
            type='cspr_det.P3DResNet',
            depth='18ba',
            base_channels=8,
            num_slices=None))
    assert p(_x(2, 7))[0].shape == (2, 8, 8, 8)
