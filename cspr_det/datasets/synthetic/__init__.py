"""Synthetic DeepLesion data in the official on-disk format.

Reusable parts for other synthetic generators: the body phantom
(:class:`Phantom`, :func:`pixel_grid`, :func:`ellipse_norm2`,
:func:`blob_profile`), slice rendering (:func:`blend_blob`,
:func:`correlated_noise`) and the 16-bit PNG writer (:func:`write_png16`).
"""
from .make_synthetic_deeplesion import make_synthetic_deeplesion
from .phantom import Phantom, blob_profile, ellipse_norm2, pixel_grid
from .presets import PRESETS
from .render import blend_blob, correlated_noise
from .series_plan import SeriesPlan
from .writers import hu_to_png16, write_png16

__all__ = [
    'PRESETS', 'Phantom', 'SeriesPlan', 'blend_blob', 'blob_profile',
    'correlated_noise', 'ellipse_norm2', 'hu_to_png16',
    'make_synthetic_deeplesion', 'pixel_grid', 'write_png16'
]
