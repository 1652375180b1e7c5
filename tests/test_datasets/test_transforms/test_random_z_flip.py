"""RandomZFlip reverses the slice order within every window group."""
import copy

import numpy as np
import pytest

from cspr_det.datasets.transforms import RandomZFlip


def _stack(s=3, k=2):
    # channel c holds value c everywhere
    return np.broadcast_to(np.arange(s * k, dtype=np.float32),
                           (4, 5, s * k)).copy()


def test_flip_within_window_groups():
    out = RandomZFlip(prob=1.0)(
        dict(img=_stack(), num_slices=3, num_windows=2))
    assert out['z_flip'] is True
    assert out['img'][0, 0].tolist() == [2, 1, 0, 5, 4, 3]
    assert out['img'].flags['C_CONTIGUOUS']


def test_no_flip_and_default_group():
    img = _stack()
    out = RandomZFlip(prob=0.0)(dict(img=img.copy()))
    assert out['z_flip'] is False
    np.testing.assert_array_equal(out['img'], img)
    # without num_slices/num_windows all channels form one group
    out = RandomZFlip(prob=1.0)(dict(img=_stack(s=5, k=1)))
    assert out['img'][0, 0].tolist() == [4, 3, 2, 1, 0]


def test_probability_seeded_and_self_unchanged():
    t = RandomZFlip(prob=0.5)
    before = copy.deepcopy(t.__dict__)
    np.random.seed(0)
    flips = [
        t(dict(img=_stack(), num_slices=3, num_windows=2))['z_flip']
        for _ in range(200)
    ]
    np.random.seed(0)
    again = [
        t(dict(img=_stack(), num_slices=3, num_windows=2))['z_flip']
        for _ in range(200)
    ]
    assert flips == again and 60 < sum(flips) < 140
    assert t.__dict__ == before


def test_bad_input():
    with pytest.raises(ValueError, match='prob'):
        RandomZFlip(prob=2)
    with pytest.raises(ValueError, match='channels'):
        RandomZFlip(prob=1.0)(dict(img=_stack(), num_slices=4, num_windows=2))
