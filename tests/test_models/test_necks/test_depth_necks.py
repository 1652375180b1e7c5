"""DepthCollapseNeck, FPN3D and ThreeDCEFusion."""
import pytest
import torch

from cspr_det.registry import MODELS

CH = [8, 16, 32, 64]


def _feats(n=2, d=3, size=32):
    return tuple(
        torch.randn(n, c, d, size // 2**(i + 2), size // 2**(i + 2))
        for i, c in enumerate(CH))


@pytest.mark.parametrize('mode', ['gtm', 'center', 'conv', 'mean'])
def test_depth_collapse_neck(mode):
    neck = MODELS.build(dict(type='cspr_det.DepthCollapseNeck',
                             in_channels=CH, num_slices=3, mode=mode))
    feats = _feats()
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(2, c, 8 // 2**i, 8 // 2**i)
                                             for i, c in enumerate(CH)]
    if mode == 'center':
        torch.testing.assert_close(outs[2], feats[2][:, :, 1])


def test_depth_collapse_neck_errors_and_per_level_depth():
    with pytest.raises(ValueError, match="mode 'none'"):
        MODELS.build(dict(type='cspr_det.DepthCollapseNeck', in_channels=CH,
                          mode='none'))
    neck = MODELS.build(dict(type='cspr_det.DepthCollapseNeck',
                             in_channels=CH, num_slices=[9, 5, 3, 1]))
    feats = tuple(torch.randn(1, c, d, 2, 2)
                  for c, d in zip(CH, [9, 5, 3, 1]))
    assert neck(feats)[0].shape == (1, 8, 2, 2)
    with pytest.raises(ValueError, match='num_slices=9'):
        neck(_feats(d=3))


@pytest.mark.parametrize('extra', [False, 'on_output'])
def test_fpn3d_shapes_on_mp3d_outputs(extra):
    backbone = MODELS.build(dict(type='cspr_det.MP3DResNet', depth='18ba',
                                 base_channels=8, num_slices=3,
                                 collapse='none'))
    neck = MODELS.build(dict(type='cspr_det.FPN3D', in_channels=CH,
                             out_channels=16, num_outs=5, num_slices=3,
                             add_extra_convs=extra))
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    outs = neck(backbone(x))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16 // 2**i, 16 // 2**i)
                                             for i in range(5)]
    sum(o.sum() for o in outs).backward()
    assert x.grad.abs().sum() > 0


def test_fpn3d_top_down_reaches_fine_level_and_errors():
    neck = MODELS.build(dict(type='cspr_det.FPN3D', in_channels=CH,
                             out_channels=8, num_outs=4, num_slices=3,
                             collapse='mean'))
    feats = list(_feats(n=1))
    base = neck(tuple(feats))[0]
    feats[3] = feats[3] + 1.0
    assert not torch.allclose(neck(tuple(feats))[0], base)
    with pytest.raises(ValueError, match="collapse='none'"):
        MODELS.build(dict(type='cspr_det.FPN3D', in_channels=CH,
                          out_channels=8, num_outs=4, collapse='none'))
    with pytest.raises(ValueError, match='num_outs'):
        MODELS.build(dict(type='cspr_det.FPN3D', in_channels=CH,
                          out_channels=8, num_outs=2))


def test_three_dce_fusion_feeds_mmdet_fpn():
    fusion = MODELS.build(dict(type='cspr_det.ThreeDCEFusion',
                               in_channels=[36, 72], out_channels=[8, 16]))
    fpn = MODELS.build(dict(type='mmdet.FPN', in_channels=[8, 16],
                            out_channels=8, num_outs=3))
    feats = (torch.randn(2, 36, 8, 8), torch.randn(2, 72, 4, 4))
    fused = fusion(feats)
    assert [tuple(f.shape) for f in fused] == [(2, 8, 8, 8), (2, 16, 4, 4)]
    assert [tuple(o.shape) for o in fpn(fused)] == [(2, 8, 8, 8),
                                                   (2, 8, 4, 4),
                                                   (2, 8, 2, 2)]
    with pytest.raises(ValueError, match='out_channels'):
        MODELS.build(dict(type='cspr_det.ThreeDCEFusion', in_channels=[4, 8],
                          out_channels=[4]))
