"""In-plane resampling of CT slices to a physical pixel size."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmdet.datasets.transforms import Resize
from mmdet.structures.bbox import autocast_box_type

from cspr_det.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SpacingResize(Resize):
    """Resize so that one pixel covers ``target_spacing`` mm.

    The image's own pixel size comes from ``results['spacing']`` ([x, y, z]
    mm, as stored by :class:`DeepLesionDataset`), divided by any
    ``scale_factor`` an earlier resize already applied. Boxes are rescaled
    and ``scale_factor`` is the total factor from the original image, so
    predictions are mapped back correctly. Place no other resize after it.

    Added keys: ``scale``, ``scale_factor``, ``keep_ratio``,
    ``homography_matrix`` (as mmdet's Resize) and ``pixel_spacing``
    ((x, y) mm per pixel after resampling).

    Args:
        target_spacing (float | tuple[float, float]): Pixel size in mm, or a
            ``(min, max)`` range sampled uniformly per sample (scale
            augmentation).
        max_size (int, optional): Upper bound of the longer output side in
            pixels (the spacing is increased to respect it). Defaults to None.
        **kwargs: ``clip_object_border``, ``backend``, ``interpolation`` of
            :class:`mmdet.datasets.transforms.Resize`.
    """

    def __init__(self,
                 target_spacing: Union[float, Sequence[float]] = 0.8,
                 max_size: Optional[int] = None,
                 **kwargs) -> None:
        if isinstance(target_spacing, (int, float)):
            target_spacing = (float(target_spacing), float(target_spacing))
        target_spacing = tuple(float(v) for v in target_spacing)
        if len(target_spacing) != 2 or not 0 < target_spacing[0] <= \
                target_spacing[1]:
            raise ValueError('target_spacing must be a positive number or a '
                             f'(min, max) range, got {target_spacing}')
        for key in ('scale', 'scale_factor', 'keep_ratio'):
            if key in kwargs:
                raise TypeError(f'SpacingResize does not take {key!r}')
        super().__init__(scale_factor=1.0, keep_ratio=False, **kwargs)
        self.target_spacing = target_spacing
        self.max_size = max_size

    def _output_size(self, results: dict) -> Tuple[Tuple[int, int], tuple]:
        h, w = results['img'].shape[:2]
        spacing = results.get('spacing')
        if spacing is None:
            raise KeyError(
                f'SpacingResize needs results["spacing"] (mm per pixel); '
                f'missing for {results.get("img_path")}')
        prev = results.get('scale_factor', (1.0, 1.0))
        sx, sy = spacing[0] / prev[0], spacing[1] / prev[1]
        lo, hi = self.target_spacing
        target = lo if lo == hi else float(np.random.uniform(lo, hi))
        new_w = max(1, int(round(w * sx / target)))
        new_h = max(1, int(round(h * sy / target)))
        if self.max_size is not None and max(new_w, new_h) > self.max_size:
            r = self.max_size / max(new_w, new_h)
            new_w = max(1, int(round(new_w * r)))
            new_h = max(1, int(round(new_h * r)))
        return (new_w, new_h), prev

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        """Resample image and boxes to the target pixel size."""
        scale, prev = self._output_size(results)
        results['scale'] = scale
        self._resize_img(results)
        self._resize_bboxes(results)
        self._resize_masks(results)
        self._resize_seg(results)
        self._record_homography_matrix(results)
        step = results['scale_factor']
        results['scale_factor'] = (prev[0] * step[0], prev[1] * step[1])
        spacing = results['spacing']
        results['pixel_spacing'] = (spacing[0] / results['scale_factor'][0],
                                    spacing[1] / results['scale_factor'][1])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(target_spacing='
                f'{self.target_spacing}, max_size={self.max_size}, '
                f'interpolation={self.interpolation})')
