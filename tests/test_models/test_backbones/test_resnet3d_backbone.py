"""ResNet3D (CSPR 3D ResNet)."""
import pytest
import torch

from cspr_det.models.backbones import ResNet3D
from cspr_det.registry import MODELS


def test_vdt_shapes_with_defaults():
    # (N, 1, 3, 224, 224) -> stem+pool (N, 64, 3, 56, 56) -> layer4 (N, 512,
    # 3, 7, 7); base_channels reduced 8x to keep the test small.
    m = ResNet3D(18, base_channels=8).eval()
    feats = {}
    m.maxpool.register_forward_hook(lambda mod, i, o: feats.update(stem=o))
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 224, 224))
    assert feats['stem'].shape == (1, 8, 3, 56, 56)
    assert [tuple(o.shape) for o in outs] == [(1, 8, 3, 56, 56),
                                              (1, 16, 3, 28, 28),
                                              (1, 32, 3, 14, 14),
                                              (1, 64, 3, 7, 7)]


def test_full_width_channels_and_kernels():
    m = ResNet3D(18)
    assert m.out_channels == [64, 128, 256, 512]
    assert tuple(m.conv1.weight.shape) == (64, 1, 7, 7, 7)
    assert tuple(m.layer1[0].conv1.weight.shape) == (64, 64, 3, 3, 3)
    assert ResNet3D(50, base_channels=8).out_channels == [32, 64, 128, 256]
    assert [
        len(getattr(ResNet3D(34, base_channels=4), f'layer{i}'))
        for i in range(1, 5)
    ] == [3, 4, 6, 3]


@pytest.mark.parametrize('depth', [18, 50])
def test_depth_strides_and_stem_options(depth):
    m = ResNet3D(
        depth,
        base_channels=4,
        depth_strides=(1, 2, 2, 2),
        stem_stride=(2, 2, 2),
        stem_kernel=(3, 7, 7)).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 1, 32, 32, 32))
    exp = 4 if depth == 50 else 1
    assert [tuple(o.shape) for o in outs] == [(1, 4 * exp, 16, 8, 8),
                                              (1, 8 * exp, 8, 4, 4),
                                              (1, 16 * exp, 4, 2, 2),
                                              (1, 32 * exp, 2, 1, 1)]
    m = ResNet3D(18, base_channels=4, with_pool=False, out_indices=(0, ))
    assert m(torch.randn(2, 3, 32, 32))[0].shape == (2, 4, 3, 16, 16)


def test_errors_freeze_grad_and_config():
    with pytest.raises(KeyError, match='invalid depth 101'):
        ResNet3D(101)
    with pytest.raises(ValueError, match='depth_strides'):
        ResNet3D(18, depth_strides=(1, 2))
    m = MODELS.build(
        dict(
            type='cspr_det.ResNet3D',
            depth=18,
            base_channels=4,
            frozen_stages=2,
            norm_eval=True))
    m.train()
    assert all(not p.requires_grad for n, p in m.named_parameters()
               if n.startswith(('conv1', 'norm1', 'layer1', 'layer2')))
    assert all(p.requires_grad for n, p in m.named_parameters()
               if n.startswith(('layer3', 'layer4')))
    assert not m.layer4[0].norm1.training
    x = torch.randn(2, 1, 3, 32, 32, requires_grad=True)
    m.frozen_stages = -1
    m.train()
    for p in m.parameters():
        p.requires_grad = True
    m(x)[-1].sum().backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='channels'):
        m(torch.randn(1, 2, 3, 32, 32))


def test_stem_skip_std_unet_encoder_shapes():
    # The StdUNet encoder: stride-1 stem, isotropic stride-2 pool, stages at
    # 1/2 .. 1/16, the full-resolution stem map first.
    m = ResNet3D(
        18,
        base_channels=4,
        stem_stride=(1, 1, 1),
        pool_stride=(2, 2, 2),
        depth_strides=(1, 2, 2, 2),
        stem_skip=True).eval()
    assert m.out_channels == [4, 4, 8, 16, 32]
    with torch.no_grad():
        outs = m(torch.randn(2, 1, 16, 32, 48))
    assert [tuple(o.shape)
            for o in outs] == [(2, 4, 16, 32, 48), (2, 4, 8, 16, 24),
                               (2, 8, 4, 8, 12), (2, 16, 2, 4, 6),
                               (2, 32, 1, 2, 3)]


def test_stem_skip_is_the_pre_pool_stem_map_and_off_by_default():
    kw = dict(
        base_channels=4,
        stem_stride=(1, 1, 1),
        pool_stride=(2, 2, 2),
        depth_strides=(1, 2, 2, 2))
    plain = ResNet3D(18, **kw).eval()
    skip = ResNet3D(18, stem_skip=True, **kw).eval()
    skip.load_state_dict(plain.state_dict())  # no extra parameters
    assert plain.out_channels == [4, 8, 16, 32]
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        stem = plain.relu(plain.norm1(plain.conv1(x)))
        a, b = plain(x), skip(x)
    assert len(a) == 4 and len(b) == 5
    assert torch.equal(b[0], stem)
    assert all(torch.equal(p, q) for p, q in zip(a, b[1:]))
    with pytest.raises(TypeError, match='stem_skip must be a bool'):
        ResNet3D(18, stem_skip='yes')
