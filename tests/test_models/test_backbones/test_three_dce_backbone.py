"""3DCE slice-group backbone wrapper."""
import pytest
import torch

from cspr_det.registry import MODELS


def _build(num_slices=9, group_size=3):
    return MODELS.build(
        dict(
            type='cspr_det.ThreeDCEBackbone',
            backbone=dict(
                type='mmdet.ResNet',
                depth=18,
                base_channels=4,
                in_channels=group_size,
                out_indices=(0, 3)),
            num_slices=num_slices,
            group_size=group_size)).eval()


def test_shapes_and_group_major_concatenation():
    m = _build(num_slices=9)
    x = torch.randn(2, 9, 32, 32)
    with torch.no_grad():
        outs = m(x)
        assert [tuple(o.shape) for o in outs] == [(2, 12, 8, 8), (2, 96, 1, 1)]
        # group g of sample n == backbone on slices 3g..3g+2 of sample n
        ref = m.backbone(x[1:2, 3:6])
    torch.testing.assert_close(outs[0][1:2, 4:8], ref[0])
    torch.testing.assert_close(outs[1][1:2, 32:64], ref[1])


def test_errors():
    with pytest.raises(ValueError, match='multiple of group_size'):
        _build(num_slices=10)
    with pytest.raises(ValueError, match=r'\(N, 9, H, W\)'):
        _build()(torch.randn(1, 6, 32, 32))
