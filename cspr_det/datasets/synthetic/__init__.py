"""Synthetic DeepLesion data in the official on-disk format."""
from .make_synthetic_deeplesion import PRESETS, make_synthetic_deeplesion
from .phantom import Phantom

__all__ = ['PRESETS', 'Phantom', 'make_synthetic_deeplesion']
