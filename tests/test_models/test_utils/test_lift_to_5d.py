"""The shared 2.5D -> 5D lift."""
import pytest
import torch

from cspr_det.models.utils import lift_to_5d


def test_window_major_lift():
    x = torch.arange(2 * 6 * 2 * 2.).view(2, 6, 2, 2)
    v = lift_to_5d(x, in_channels=2)
    assert v.shape == (2, 2, 3, 2, 2)
    # channel k*S + s -> window k, slice s
    torch.testing.assert_close(v[1, 1, 2], x[1, 5])
    torch.testing.assert_close(v[0, 0, 1], x[0, 1])
    assert lift_to_5d(x).shape == (2, 1, 6, 2, 2)


def test_5d_passthrough_and_errors():
    v = torch.randn(1, 1, 3, 4, 4)
    assert lift_to_5d(v) is v
    with pytest.raises(ValueError, match='in_channels=2'):
        lift_to_5d(v, in_channels=2)
    with pytest.raises(ValueError, match='do not split'):
        lift_to_5d(torch.randn(1, 5, 4, 4), in_channels=2)
    with pytest.raises(ValueError, match='expected a'):
        lift_to_5d(torch.randn(5, 4, 4))
