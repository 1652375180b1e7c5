"""The DeepLesion 16-bit PNG slice format: ``HU = value - 32768``.

Every DeepLesion slice is a single-channel uint16 PNG storing ``HU +
32768``; :func:`decode_ct_png` and :func:`encode_ct_png` are the only places
that know it.
"""
import re

import cv2
import numpy as np

#: Offset of the stored values: ``HU = value - HU_OFFSET``.
HU_OFFSET = 32768

#: File names of a DeepLesion PNG series: the slice number, ``NNN.png``.
PNG_SLICE_NAME = re.compile(r'^(\d+)\.png$', re.IGNORECASE)


class SliceReadError(IOError):
    """A CT slice PNG that is missing or cannot be decoded."""


def decode_ct_png(content: bytes, path: str) -> np.ndarray:
    """Decode 16-bit DeepLesion PNG bytes into an HU array.

    Args:
        content (bytes): File content.
        path (str): File name used in error messages.

    Returns:
        np.ndarray: (H, W) float32 Hounsfield units (pixel - 32768).

    Raises:
        SliceReadError: If the bytes are not a decodable single-channel
            16-bit image.
    """
    buf = np.frombuffer(content, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise SliceReadError(f'cannot decode CT slice {path} '
                             '(truncated or not an image)')
    if img.ndim == 3:  # a few copies store grey PNGs with 3 equal channels
        img = img[..., 0]
    if img.dtype != np.uint16:
        raise SliceReadError(
            f'CT slice {path} is {img.dtype}, expected 16-bit PNG '
            '(HU + 32768)')
    return img.astype(np.float32) - HU_OFFSET


def encode_ct_png(hu: np.ndarray) -> np.ndarray:
    """HU (H, W), any float or int dtype -> the uint16 array of a
    DeepLesion PNG: ``round(HU) + 32768``, clipped to the uint16 range."""
    return np.clip(np.round(hu + HU_OFFSET), 0, 65535).astype(np.uint16)
