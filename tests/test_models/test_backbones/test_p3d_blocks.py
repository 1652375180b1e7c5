"""Blocks shared by the P3D/MP3D backbones: P3D units, GTM, depth pool."""
import pytest
import torch
import torch.nn.functional as F

from cspr_det.models.backbones import MP3DResNet
from cspr_det.models.layers import (CentredDepthMaxPool, DepthCollapse,
                                    P3DBottleneck, P3DUnit,
                                    centred_depth_out_size, p3d_type_of_block)


@pytest.mark.parametrize('p3d_type', ['A', 'B', 'C'])
@pytest.mark.parametrize('stride', [1, 2])
def test_p3d_unit_shapes_and_kernels(p3d_type, stride):
    unit = P3DUnit(4, 6, p3d_type=p3d_type, stride=stride)
    assert tuple(unit.conv_s.weight.shape) == (6, 4, 1, 3, 3)
    t_in = 4 if p3d_type == 'B' else 6
    assert tuple(unit.conv_t.weight.shape) == (6, t_in, 3, 1, 1)
    out = unit(torch.randn(2, 4, 5, 8, 8))
    assert out.shape == (2, 6, 5, 8 // stride, 8 // stride)


def test_p3d_unit_combinations_match_definition():
    torch.manual_seed(0)
    x = torch.randn(1, 4, 5, 6, 6)
    for typ in 'ABC':
        for abs_ in (True, False):
            u = P3DUnit(4, 4, p3d_type=typ, act_before_sum=abs_).eval()
            s = lambda z: u.norm_s(u.conv_s(z))  # noqa: E731
            t = lambda z: u.norm_t(u.conv_t(z))  # noqa: E731
            if typ == 'A':
                ref = F.relu(t(F.relu(s(x))))
            elif typ == 'B':
                ref = F.relu(s(x)) + F.relu(t(x)) if abs_ else \
                    F.relu(s(x) + t(x))
            else:
                sx = F.relu(s(x))
                ref = sx + F.relu(t(sx)) if abs_ else F.relu(sx + t(sx))
            torch.testing.assert_close(u(x), ref)


def test_p3d_type_cycle_and_bad_type():
    assert [p3d_type_of_block(i) for i in range(5)] == list('ABCAB')
    assert [p3d_type_of_block(i, ('C', 'A')) for i in range(3)] == list('CAC')
    with pytest.raises(ValueError, match='p3d_type'):
        P3DUnit(4, 4, p3d_type='D')


@pytest.mark.parametrize('p3d_types', [('A', 'B', 'C'), ('B', 'C')])
def test_backbone_counts_blocks_across_stages(p3d_types):
    # '34ba' has 3+4+6+3 blocks: the cycle runs over the whole network, it
    # does not restart at every stage (stage 2 starts with block 3).
    net = MP3DResNet(
        '34ba', base_channels=4, num_slices=3, p3d_types=p3d_types)
    got = [
        blk.conv1.p3d_type for i in range(1, 5)
        for blk in getattr(net, f'layer{i}')
    ]
    expected = [p3d_types[i % len(p3d_types)] for i in range(16)]
    assert got == expected
    assert [blk.conv2.p3d_type for blk in net.layer2] == expected[3:7]


def test_gtm_equals_depthwise_conv3d():
    torch.manual_seed(0)
    c, d = 6, 5
    gtm = DepthCollapse(c, d, mode='gtm')
    torch.nn.init.normal_(gtm.conv.weight)
    x = torch.randn(2, c, d, 7, 7)
    w3d = gtm.conv.weight.view(c, 1, d, 1, 1)
    ref = F.conv3d(x, w3d, groups=c).squeeze(2)
    torch.testing.assert_close(gtm(x), ref)


def test_depth_collapse_modes_and_init():
    x = torch.randn(2, 3, 5, 4, 4)
    torch.testing.assert_close(
        DepthCollapse(3, 5, mode='gtm')(x), x.mean(2), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        DepthCollapse(3, 5, mode='gtm', init='center')(x), x[:, :, 2])
    torch.testing.assert_close(
        DepthCollapse(3, 5, mode='conv')(x), x.mean(2), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(DepthCollapse(3, mode='center')(x), x[:, :, 2])
    torch.testing.assert_close(DepthCollapse(3, mode='mean')(x), x.mean(2))
    assert DepthCollapse(3, mode='none')(x) is x
    dense = DepthCollapse(3, 5, mode='conv')
    assert tuple(dense.conv.weight.shape) == (3, 3, 5, 1, 1)


def test_depth_collapse_errors():
    with pytest.raises(ValueError, match='num_slices=5.*depth 7'):
        DepthCollapse(3, 5, mode='gtm')(torch.randn(1, 3, 7, 2, 2))
    with pytest.raises(ValueError, match='collapse mode'):
        DepthCollapse(3, 5, mode='max')
    with pytest.raises(ValueError, match='needs num_slices'):
        DepthCollapse(3, None, mode='gtm')


@pytest.mark.parametrize('d,expected', [(9, [5, 3, 1]), (27, [13, 7, 3]),
                                        (3, [1, 1, 1]), (1, [1, 1, 1]),
                                        (2, [1, 1, 1]), (4, [2, 1, 1])])
def test_centred_depth_pool_sizes(d, expected):
    pool = CentredDepthMaxPool()
    x = torch.randn(1, 2, d, 3, 3)
    sizes = []
    for _ in range(3):
        x = pool(x)
        sizes.append(x.size(2))
        assert centred_depth_out_size(sizes[-2] if len(sizes) >
                                      1 else d) == sizes[-1]
    assert sizes == expected


def test_centred_depth_pool_values():
    x = torch.arange(9.).view(1, 1, 9, 1, 1)
    out = CentredDepthMaxPool()(x).flatten().tolist()
    # windows centred on slices 0, 2, 4, 6, 8 (clipped at the ends)
    assert out == [1., 3., 5., 7., 8.]


def test_bottleneck_styles_put_stride_in_the_right_conv():
    py = P3DBottleneck(8, 4, stride=2, style='pytorch')
    cf = P3DBottleneck(8, 4, stride=2, style='caffe')
    assert py.conv1.stride == (1, 1, 1) and py.conv2.conv_s.stride == (1, 2, 2)
    assert cf.conv1.stride == (1, 2, 2) and cf.conv2.conv_s.stride == (1, 1, 1)
