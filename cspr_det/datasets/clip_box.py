"""Clipping lesion boxes to their image, one rule for every reader.

DeepLesion's boxes are the RECIST extent padded by 5 px, so a lesion at the
image edge gives a box that leaves the image: on the official test split,
``003957_03_01_586.png`` has the 1-based box ``489.818, 252.689, 513.681,
284.578`` on a 512 x 512 image. The official protocols evaluate every such
lesion, so readers clip the box to the image and keep it; only a box that is
empty (zero or negative size) or lies entirely outside the image is
unusable.

The image covers ``[0, width] x [0, height]`` in 0-based box coordinates,
the extent mmdet's own transforms clip boxes to.
"""
import math
from typing import List, Sequence, Tuple

#: ``reason`` of an :class:`InvalidBoxError`.
BOX_ERROR_REASONS: Tuple[str, ...] = ('bad_box', 'zero_size_box',
                                      'box_outside_image')


class InvalidBoxError(ValueError):
    """A box that cannot be clipped into a usable box.

    Args:
        reason (str): One of :data:`BOX_ERROR_REASONS`: ``'bad_box'`` (not
            four finite numbers), ``'zero_size_box'`` (``x2 <= x1`` or
            ``y2 <= y1``), ``'box_outside_image'`` (no part of it inside
            the image).
        message (str): Human readable explanation.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def clip_box_to_image(box: Sequence[float], height: int,
                      width: int) -> Tuple[List[float], bool]:
    """Clip a 0-based ``[x1, y1, x2, y2]`` box to an image.

    Args:
        box (Sequence[float]): ``x1, y1, x2, y2`` in 0-based pixel
            coordinates.
        height (int): Image rows.
        width (int): Image columns.

    Returns:
        tuple[list[float], bool]: The box clipped to ``[0, width] x [0,
        height]`` and whether any coordinate changed.

    Raises:
        InvalidBoxError: If the box is not four finite numbers, has zero or
            negative size, or lies entirely outside the image (nothing of it
            would be left after clipping).
    """
    values = [float(v) for v in box]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidBoxError(
            'bad_box', f'box {list(box)} is not 4 finite numbers '
            'x1, y1, x2, y2')
    x1, y1, x2, y2 = values
    if not (x2 > x1 and y2 > y1):
        raise InvalidBoxError('zero_size_box',
                              f'box {_fmt(values)} has zero or negative size')
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise InvalidBoxError(
            'box_outside_image', f'box {_fmt(values)} lies entirely outside '
            f'the {height}x{width} image')
    w, h = float(width), float(height)
    clipped = [
        min(max(x1, 0.0), w),
        min(max(y1, 0.0), h),
        min(max(x2, 0.0), w),
        min(max(y2, 0.0), h)
    ]
    return clipped, clipped != values


def _fmt(values: Sequence[float]) -> str:
    return '[' + ', '.join(f'{v:g}' for v in values) + ']'
