"""Resize the short edge of an (H, W, S) stack (test-time VDT pipeline)."""
from mmcv.transforms import BaseTransform

from cspr_det.registry import TRANSFORMS
from .random_resized_crop_vdt import resize_stack


@TRANSFORMS.register_module()
class ResizeShortEdge(BaseTransform):
    """Resize so that the shorter image side equals ``scale`` (aspect ratio
    kept; the longer side is rounded to the nearest pixel).

    Used as "resize 256, centre-crop 224" at test time together with
    ``CenterCrop`` (mmcv).

    Required keys: ``img``. Modified: ``img``, ``img_shape``. Added:
    ``scale_factor`` (w_scale, h_scale).

    Args:
        scale: Target length of the shorter side in pixels.
        interpolation: mmcv interpolation name.
    """

    def __init__(self, scale: int = 256, interpolation: str = 'bilinear'):
        if int(scale) <= 0:
            raise ValueError(
                f'ResizeShortEdge: scale must be positive, got {scale}')
        self.scale = int(scale)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Resize ``results['img']``.

        Args:
            results: Dict with ``img`` (H, W, S).

        Returns:
            dict: ``results`` with the resized ``img``.
        """
        img = results['img']
        h, w = img.shape[:2]
        if h <= w:
            new_h, new_w = self.scale, max(1, int(round(w * self.scale / h)))
        else:
            new_h, new_w = max(1, int(round(h * self.scale / w))), self.scale
        results['img'] = resize_stack(img, (new_h, new_w), self.interpolation)
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / w, new_h / h)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'interpolation={self.interpolation!r})')
