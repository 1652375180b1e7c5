"""SpacingResize resamples to a physical pixel size; boxes follow."""
import copy

import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from cspr_det.datasets.transforms import SpacingResize


def _results(h=40, w=60, spacing=(0.8, 0.8, 5.0)):
    return dict(
        img=np.random.rand(h, w, 9).astype(np.float32),
        img_shape=(h, w),
        ori_shape=(h, w),
        spacing=list(spacing),
        gt_bboxes=HorizontalBoxes(np.array([[10, 8, 30, 20]], np.float32)))


def test_resample_to_target_spacing():
    t = SpacingResize(target_spacing=1.6)
    before = copy.deepcopy(t.__dict__)
    out = t(_results())
    assert out['img'].shape == (20, 30, 9)
    assert out['img_shape'] == (20, 30)
    assert out['scale_factor'] == pytest.approx((0.5, 0.5))
    assert out['pixel_spacing'] == pytest.approx((1.6, 1.6))
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[5, 4, 15, 10]])
    assert t.__dict__ == before


def test_composes_with_earlier_resize_and_max_size():
    res = _results()
    res['scale_factor'] = (2.0, 2.0)  # an earlier resize doubled the image
    res['img'] = np.zeros((80, 120, 9), np.float32)
    out = SpacingResize(target_spacing=0.4)(res)
    # current pixel = 0.4 mm already -> unchanged, total factor stays 2
    assert out['img'].shape[:2] == (80, 120)
    assert out['scale_factor'] == pytest.approx((2.0, 2.0))
    out = SpacingResize(target_spacing=0.4, max_size=60)(_results())
    assert max(out['img'].shape[:2]) == 60


def test_range_sampling_and_errors():
    np.random.seed(1)
    sizes = {
        SpacingResize(target_spacing=(0.8, 1.6))(_results())['img'].shape[1]
        for _ in range(10)
    }
    assert len(sizes) > 1 and all(30 <= s <= 60 for s in sizes)
    with pytest.raises(ValueError, match='target_spacing'):
        SpacingResize(target_spacing=-1)
    with pytest.raises(TypeError, match='scale'):
        SpacingResize(target_spacing=1.0, scale=(10, 10))
    res = _results()
    del res['spacing']
    with pytest.raises(KeyError, match='spacing'):
        SpacingResize(target_spacing=1.0)(res)
