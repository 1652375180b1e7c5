"""DepthCollapseNeck, FPN3D and ThreeDCEFusion."""
import numpy as np
import pytest
import torch

from cspr_det.models.layers import num_slices_per_level
from cspr_det.registry import MODELS

CH = [8, 16, 32, 64]


def _feats(n=2, d=3, size=32):
    return tuple(
        torch.randn(n, c, d, size // 2**(i + 2), size // 2**(i + 2))
        for i, c in enumerate(CH))


@pytest.mark.parametrize('mode', ['gtm', 'center', 'conv', 'mean'])
def test_depth_collapse_neck(mode):
    neck = MODELS.build(
        dict(
            type='cspr_det.DepthCollapseNeck',
            in_channels=CH,
            num_slices=3,
            mode=mode))
    feats = _feats()
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(2, c, 8 // 2**i, 8 // 2**i)
                                              for i, c in enumerate(CH)]
    if mode == 'center':
        torch.testing.assert_close(outs[2], feats[2][:, :, 1])


def test_depth_collapse_neck_errors_and_per_level_depth():
    with pytest.raises(ValueError, match="mode 'none'"):
        MODELS.build(
            dict(
                type='cspr_det.DepthCollapseNeck', in_channels=CH,
                mode='none'))
    neck = MODELS.build(
        dict(
            type='cspr_det.DepthCollapseNeck',
            in_channels=CH,
            num_slices=[9, 5, 3, 1]))
    feats = tuple(torch.randn(1, c, d, 2, 2) for c, d in zip(CH, [9, 5, 3, 1]))
    assert neck(feats)[0].shape == (1, 8, 2, 2)
    with pytest.raises(ValueError, match='num_slices=9'):
        neck(_feats(d=3))
    with pytest.raises(
            ValueError, match='DepthCollapseNeck: 4 levels but 2 num_slices'):
        MODELS.build(
            dict(
                type='cspr_det.DepthCollapseNeck',
                in_channels=CH,
                num_slices=[9, 5]))


@pytest.mark.parametrize('extra', [False, 'on_output'])
def test_fpn3d_shapes_on_mp3d_outputs(extra):
    backbone = MODELS.build(
        dict(
            type='cspr_det.MP3DResNet',
            depth='18ba',
            base_channels=8,
            num_slices=3,
            collapse='none'))
    neck = MODELS.build(
        dict(
            type='cspr_det.FPN3D',
            in_channels=CH,
            out_channels=16,
            num_outs=5,
            num_slices=3,
            add_extra_convs=extra))
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    outs = neck(backbone(x))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16 // 2**i, 16 // 2**i)
                                              for i in range(5)]
    sum(o.sum() for o in outs).backward()
    assert x.grad.abs().sum() > 0


def _identity_fpn3d(depths, channels=2):
    """FPN3D whose lateral and output convs are the identity (mean collapse)
    for levels of the given depths."""
    neck = MODELS.build(
        dict(
            type='cspr_det.FPN3D',
            in_channels=[channels] * len(depths),
            out_channels=channels,
            num_outs=len(depths),
            num_slices=list(depths),
            collapse='mean'))
    eye = torch.eye(channels)
    with torch.no_grad():
        for lateral, out_conv in zip(neck.lateral_convs, neck.fpn_convs):
            lateral.conv.weight.copy_(eye.view(channels, channels, 1, 1, 1))
            lateral.conv.bias.zero_()
            # default fpn_kernel (1, 3, 3): identity on the centre tap only
            out_conv.conv.weight.zero_()
            out_conv.conv.weight[:, :, 0, 1, 1] = eye
            out_conv.conv.bias.zero_()
    return neck


def test_fpn3d_top_down_sum_is_exact():
    # Levels of depth 4, 2, 2, 1 and size 8, 4, 2, 1 (strides double). With
    # identity convs, output level l is the depth mean of
    # x_l + up(x_{l+1} + up(x_{l+2} + ...)), where nearest upsampling by 2
    # reads index // 2 on every axis (depth included).
    depths, sizes = [4, 2, 2, 1], [8, 4, 2, 1]
    neck = _identity_fpn3d(depths)
    g = torch.Generator().manual_seed(0)
    feats = [
        torch.randint(-9, 10, (1, 2, d, s, s), generator=g).float()
        for d, s in zip(depths, sizes)
    ]
    outs = neck(tuple(feats))
    assert [tuple(o.shape) for o in outs] == [(1, 2, s, s) for s in sizes]

    def top_down(level):
        d, s = depths[level], sizes[level]
        total = feats[level].clone()
        for src in range(level + 1, len(feats)):
            dz = torch.arange(d) * depths[src] // d
            hw = torch.arange(s) * sizes[src] // s
            up = feats[src][:, :, dz][:, :, :, hw][:, :, :, :, hw]
            total += up
        return total.mean(dim=2)

    for level in range(4):
        torch.testing.assert_close(outs[level], top_down(level))
    # hand check of one value: level 0, pixel (5, 2), channel 1
    x0, x1, x2, x3 = feats
    by_hand = sum(x0[0, 1, d, 5, 2] + x1[0, 1, d // 2, 2, 1] +
                  x2[0, 1, d // 2, 1, 0] + x3[0, 1, 0, 0, 0]
                  for d in range(4)) / 4
    torch.testing.assert_close(outs[0][0, 1, 5, 2], by_hand)
    # the coarsest level gets nothing from above
    torch.testing.assert_close(outs[3], x3.mean(dim=2))


def test_fpn3d_errors():
    with pytest.raises(ValueError, match="collapse='none'"):
        MODELS.build(
            dict(
                type='cspr_det.FPN3D',
                in_channels=CH,
                out_channels=8,
                num_outs=4,
                collapse='none'))
    with pytest.raises(ValueError, match='num_outs'):
        MODELS.build(
            dict(
                type='cspr_det.FPN3D',
                in_channels=CH,
                out_channels=8,
                num_outs=2))
    with pytest.raises(ValueError, match='FPN3D: 4 levels but 3 num_slices'):
        MODELS.build(
            dict(
                type='cspr_det.FPN3D',
                in_channels=CH,
                out_channels=8,
                num_outs=4,
                num_slices=[3, 3, 3]))


def test_num_slices_per_level():
    assert num_slices_per_level(3, 4, 'X') == [3, 3, 3, 3]
    assert num_slices_per_level(np.int64(5), 2, 'X') == [5, 5]
    assert num_slices_per_level(None, 2, 'X') == [None, None]
    assert num_slices_per_level((9, 5, 3, 1), 4, 'X') == [9, 5, 3, 1]
    with pytest.raises(ValueError, match='X: 4 levels but 2 num_slices'):
        num_slices_per_level([9, 5], 4, 'X')
    with pytest.raises(ValueError, match="X: num_slices must be .*'9'"):
        num_slices_per_level('9', 4, 'X')
    with pytest.raises(ValueError, match='X: num_slices must be .*9.0'):
        num_slices_per_level(9.0, 4, 'X')


def test_three_dce_fusion_feeds_mmdet_fpn():
    fusion = MODELS.build(
        dict(
            type='cspr_det.ThreeDCEFusion',
            in_channels=[36, 72],
            out_channels=[8, 16]))
    fpn = MODELS.build(
        dict(
            type='mmdet.FPN', in_channels=[8, 16], out_channels=8, num_outs=3))
    feats = (torch.randn(2, 36, 8, 8), torch.randn(2, 72, 4, 4))
    fused = fusion(feats)
    assert [tuple(f.shape) for f in fused] == [(2, 8, 8, 8), (2, 16, 4, 4)]
    assert [tuple(o.shape) for o in fpn(fused)] == [(2, 8, 8, 8), (2, 8, 4, 4),
                                                    (2, 8, 2, 2)]
    with pytest.raises(ValueError, match='out_channels'):
        MODELS.build(
            dict(
                type='cspr_det.ThreeDCEFusion',
                in_channels=[4, 8],
                out_channels=[4]))
