"""Depth of every level of a 5D feature pyramid, from one value or a list."""
from numbers import Integral
from typing import List, Optional, Sequence, Union

NumSlices = Optional[Union[int, Sequence[Optional[int]]]]


def num_slices_per_level(num_slices: NumSlices, num_levels: int,
                         owner: str) -> List[Optional[int]]:
    """Expand a neck's ``num_slices`` argument to one depth per level.

    Necks that collapse depth level by level (``FPN3D``,
    ``DepthCollapseNeck``) accept the depth ``D`` of their 5D inputs
    ``(N, C_l, D_l, h_l, w_l)`` either as one value for every level (MP3D
    keeps ``D`` in all stages) or as a list with one depth per level (P3D's
    depth pooling gives e.g. ``[9, 5, 3, 1]``). ``None`` means "unknown";
    the collapse modes that need it (``'gtm'``, ``'conv'``) reject it
    themselves.

    Args:
        num_slices: ``None``, one int, or a sequence of ``num_levels``
            ints / ``None``.
        num_levels: Number of pyramid levels.
        owner: Class name used as the prefix of error messages.

    Returns:
        A list of ``num_levels`` depths.

    Raises:
        ValueError: A list whose length is not ``num_levels``, or a value
            that is neither ``None``, an int nor a sequence.
    """
    if num_slices is None:
        return [None] * num_levels
    if isinstance(num_slices, Integral):
        return [int(num_slices)] * num_levels
    if isinstance(num_slices,
                  (str, bytes)) or not isinstance(num_slices, Sequence):
        raise ValueError(f'{owner}: num_slices must be an int, None or one '
                         f'value per level, got {num_slices!r}')
    values = list(num_slices)
    if len(values) != num_levels:
        raise ValueError(f'{owner}: {num_levels} levels but {len(values)} '
                         'num_slices')
    return values
