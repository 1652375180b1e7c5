"""UNet3DNeck / FCNHead3D: exact decoder and skip shapes on the StdUNet
encoder and on MP3D/P3D encoders in 5D mode."""
import pytest
import torch

from cspr_det.models.backbones import MP3DResNet, P3DResNet, ResNet3D
from cspr_det.models.heads import FCNHead3D
from cspr_det.models.necks import UNet3DNeck
from cspr_det.registry import MODELS

STD_UNET = dict(
    stem_stride=(1, 1, 1),
    pool_stride=(2, 2, 2),
    depth_strides=(1, 2, 2, 2),
    stem_skip=True)


def test_std_unet_reference_shapes_full_width():
    # The reference sizes (channels 64/64/128/256/512, a (1, 1, 32, 256,
    # 256) crop) on the meta device: exact shapes without the compute.
    with torch.device('meta'):
        enc = ResNet3D(18, **STD_UNET)
        dec = UNet3DNeck(in_channels=enc.out_channels)
        head = FCNHead3D(num_classes=3, in_channels=64, channels=16)
        x = torch.empty(1, 1, 32, 256, 256)
        skips = enc(x)
        outs = dec(skips)
        logits = head(outs)
    assert enc.out_channels == [64, 64, 128, 256, 512]
    assert [tuple(s.shape) for s in skips] == [(1, 64, 32, 256, 256),
                                               (1, 64, 16, 128, 128),
                                               (1, 128, 8, 64, 64),
                                               (1, 256, 4, 32, 32),
                                               (1, 512, 2, 16, 16)]
    assert [tuple(o.shape) for o in outs] == [tuple(s.shape) for s in skips]
    assert tuple(logits.shape) == (1, 3, 32, 256, 256)


def test_decoder_layer_layout():
    dec = UNet3DNeck(in_channels=(64, 64, 128, 256, 512))
    assert isinstance(dec.bottom, torch.nn.Identity)
    # level 3: x2 up of 512 -> 1x1x1 conv to 256, concat the 256 skip,
    # two 3x3x3 convs 512 -> 256 -> 256
    assert tuple(dec.up_convs[3].conv.weight.shape) == (256, 512, 1, 1, 1)
    assert tuple(dec.fuse_convs[3][0].conv.weight.shape) == (256, 512, 3, 3, 3)
    assert tuple(dec.fuse_convs[3][1].conv.weight.shape) == (256, 256, 3, 3, 3)
    assert tuple(dec.up_convs[0].conv.weight.shape) == (64, 64, 1, 1, 1)
    assert tuple(dec.fuse_convs[0][0].conv.weight.shape) == (64, 128, 3, 3, 3)
    assert all(m.norm is not None and m.activate is not None
               for m in dec.modules() if hasattr(m, 'activate'))
    head = FCNHead3D(num_classes=14)
    assert [tuple(c.conv.weight.shape)
            for c in head.convs] == [(16, 64, 3, 3, 3), (16, 16, 3, 3, 3)]
    assert isinstance(head.dropout, torch.nn.Dropout3d)
    assert head.dropout.p == 0.1
    assert tuple(head.conv_seg.weight.shape) == (14, 16, 1, 1, 1)


def test_tiny_std_unet_forward_backward_shapes():
    enc = ResNet3D(18, base_channels=4, **STD_UNET)
    dec = UNet3DNeck(in_channels=enc.out_channels)
    head = FCNHead3D(num_classes=2, in_channels=4, channels=4)
    x = torch.randn(2, 1, 16, 32, 48, requires_grad=True)
    outs = dec(enc(x))
    assert [tuple(o.shape)
            for o in outs] == [(2, 4, 16, 32, 48), (2, 4, 8, 16, 24),
                               (2, 8, 4, 8, 12), (2, 16, 2, 4, 6),
                               (2, 32, 1, 2, 3)]
    logits = head(outs)
    assert logits.shape == (2, 2, 16, 32, 48)
    logits.sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize('depth,stage', [('18ba', [4, 8, 16, 32]),
                                         (63, [16, 32, 64, 128])])
def test_mp3d_5d_encoder_with_decoder(depth, stage):
    enc = MP3DResNet(
        depth,
        base_channels=4,
        num_slices=None,
        collapse='none',
        stem_pool_kernel=(3, 3, 3),
        stem_skip=True)
    assert enc.out_channels == [4] + stage
    dec = UNet3DNeck(in_channels=enc.out_channels, channels=(4, 4, 8, 16, 32))
    assert isinstance(dec.bottom, torch.nn.Identity) == (depth == '18ba')
    head = FCNHead3D(num_classes=3, in_channels=4, channels=4)
    x = torch.randn(1, 1, 6, 64, 64)
    skips = enc(x)
    # depth kept everywhere; stem at 1/2, stages at 1/4 .. 1/32 in-plane
    assert [tuple(s.shape)
            for s in skips] == [(1, c, 6, 64 // 2**(i + 1), 64 // 2**(i + 1))
                                for i, c in enumerate([4] + stage)]
    outs = dec(skips)
    assert [tuple(o.shape)
            for o in outs] == [(1, c, 6, 64 // 2**(i + 1), 64 // 2**(i + 1))
                               for i, c in enumerate((4, 4, 8, 16, 32))]
    logits = head(outs)
    assert logits.shape == (1, 3, 6, 32, 32)
    logits.mean().backward()
    assert enc.conv1.weight.grad.abs().sum() > 0


def test_p3d_5d_encoder_with_decoder_upsamples_depth():
    enc = P3DResNet(
        '18ba', base_channels=4, num_slices=9, collapse='none', stem_skip=True)
    skips = enc(torch.randn(1, 1, 9, 64, 64))
    # depth pooling 9 -> 5 -> 3 -> 1 between stages
    assert [tuple(s.shape) for s in skips] == [(1, 4, 9, 32, 32),
                                               (1, 4, 9, 16, 16),
                                               (1, 8, 5, 8, 8),
                                               (1, 16, 3, 4, 4),
                                               (1, 32, 1, 2, 2)]
    outs = UNet3DNeck(in_channels=enc.out_channels)(skips)
    assert [tuple(o.shape) for o in outs] == [tuple(s.shape) for s in skips]
    # the default collapse keeps the 2D centre-slice outputs
    flat = P3DResNet('18ba', base_channels=4, num_slices=9, stem_skip=True)
    assert [o.dim() for o in flat(torch.randn(1, 9, 64, 64))] == [4] * 5
    with pytest.raises(ValueError, match="collapse must be one of"):
        P3DResNet('18ba', collapse='gtm')


def test_mp3d_stem_skip_with_gtm_collapse_is_2d():
    enc = MP3DResNet('18ba', base_channels=4, num_slices=3, stem_skip=True)
    outs = enc(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 4, 16, 16), (2, 4, 8, 8),
                                              (2, 8, 4, 4), (2, 16, 2, 2),
                                              (2, 32, 1, 1)]
    assert hasattr(enc, 'collapse0')


def test_neck_and_head_errors():
    with pytest.raises(ValueError, match='at least 2 levels'):
        UNet3DNeck(in_channels=(64, ))
    with pytest.raises(ValueError, match='same number of levels'):
        UNet3DNeck(in_channels=(4, 8), channels=(4, ))
    dec = UNet3DNeck(in_channels=(4, 8))
    with pytest.raises(ValueError, match=r"level 1 must be \(N, 8, D, H, W\)"):
        dec([torch.randn(1, 4, 2, 4, 4), torch.randn(1, 8, 2, 2)])
    with pytest.raises(ValueError, match='expected 2 encoder maps'):
        dec([torch.randn(1, 4, 2, 4, 4)])
    with pytest.raises(ValueError, match='num_classes'):
        FCNHead3D(num_classes=0)
    with pytest.raises(ValueError, match='dropout_ratio'):
        FCNHead3D(num_classes=2, dropout_ratio=1.0)
    head = MODELS.build(
        dict(
            type='cspr_det.FCNHead3D',
            num_classes=2,
            in_channels=4,
            channels=4))
    with pytest.raises(ValueError, match=r'expected \(N, 4, D, H, W\)'):
        head(torch.randn(1, 5, 2, 2, 2))
