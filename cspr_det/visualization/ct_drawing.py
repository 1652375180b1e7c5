"""Drawing CT slices with lesion boxes (OpenCV; RGB uint8 images).

Shared by :class:`~cspr_det.visualization.DeepLesionVisualizer` (test-time
and validation images) and the overlays / montage of ``tools/infer_ct.py``.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: Soft-tissue window (min, max HU), DeepLesion's most common display window.
SOFT_TISSUE_WINDOW = (-175.0, 275.0)

Color = Tuple[int, int, int]


def hu_to_rgb(hu: np.ndarray,
              window: Sequence[float] = SOFT_TISSUE_WINDOW) -> np.ndarray:
    """Map an (H, W) HU slice through a ``(min, max)`` window to an
    (H, W, 3) uint8 grey RGB image."""
    lo, hi = float(window[0]), float(window[1])
    if not lo < hi:
        raise ValueError(f'window must be (min, max) HU with min < max, got '
                         f'{tuple(window)}')
    grey = np.clip((np.asarray(hu, np.float32) - lo) * (255.0 / (hi - lo)), 0,
                   255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def upscale(img: np.ndarray, min_size: int) -> Tuple[np.ndarray, float]:
    """Enlarge ``img`` by an integer factor until its short side is at least
    ``min_size`` (never shrinks); returns the image and the factor."""
    factor = max(1, int(np.ceil(min_size / max(1, min(img.shape[:2])))))
    if factor == 1:
        return img, 1.0
    size = (img.shape[1] * factor, img.shape[0] * factor)
    return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR), \
        float(factor)


def _text(img: np.ndarray, text: str, org: Tuple[int, int], color: Color,
          scale: float) -> None:
    """Text with a dark outline so it reads on any background."""
    thick = max(1, int(round(scale * 2)))
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick,
                cv2.LINE_AA)


def draw_boxes(img: np.ndarray,
               boxes: np.ndarray,
               color: Color,
               labels: Optional[Sequence[str]] = None,
               factor: float = 1.0,
               thickness: int = 2,
               below: bool = False) -> np.ndarray:
    """Draw boxes (in pixels of the original slice) on ``img`` in place.

    Args:
        img: (H, W, 3) uint8 RGB image, ``factor`` times the slice size.
        boxes: (n, 4) x1, y1, x2, y2 in slice pixels.
        color: RGB colour.
        labels: Optional text per box, written above (or below) it.
        factor: Scale from slice pixels to ``img`` pixels.
        thickness: Line width in ``img`` pixels.
        below: Write the labels under the boxes.

    Returns:
        np.ndarray: ``img``.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4) * factor
    scale = max(0.35, min(img.shape[:2]) / 1100.0)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        p1 = (int(round(x1)), int(round(y1)))
        p2 = (int(round(x2)), int(round(y2)))
        cv2.rectangle(img, p1, p2, color, thickness, cv2.LINE_8)
        if labels is not None and labels[k]:
            (_, th), _ = cv2.getTextSize(labels[k], cv2.FONT_HERSHEY_SIMPLEX,
                                         scale, 1)
            y = p2[1] + th + 4 if below or p1[1] - th - 4 < 0 else p1[1] - 4
            _text(img, labels[k], (p1[0], min(y, img.shape[0] - 2)), color,
                  scale)
    return img


def add_caption(
    img: np.ndarray, lines: Sequence[str],
    color: Color = (255, 255, 255)) -> np.ndarray:
    """``img`` with a black band of text lines on top (a new image)."""
    scale = max(0.4, img.shape[1] / 1100.0)
    (_, th), _ = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    step = th + 10
    band = np.zeros((step * len(lines) + 6, img.shape[1], 3), np.uint8)
    for k, line in enumerate(lines):
        _text(band, line, (6, step * (k + 1)), color, scale)
    return np.concatenate([band, img], axis=0)


def crop_around(img: np.ndarray,
                box: Sequence[float],
                factor: float,
                context: float = 1.5,
                min_px: int = 48) -> np.ndarray:
    """A square crop of ``img`` centred on ``box`` (slice pixels), about
    ``1 + 2 * context`` times the box's long side (at least ``min_px``
    slice pixels), zero-padded at the image border."""
    x1, y1, x2, y2 = (float(v) * factor for v in box)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * context)
    side = int(round(max(side, min_px * factor)))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    out = np.zeros((side, side, 3), np.uint8)
    h, w = img.shape[:2]
    sx0, sy0 = max(0, left), max(0, top)
    sx1, sy1 = min(w, left + side), min(h, top + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = img[sy0:sy1, sx0:sx1]
    return out


def montage(tiles: Sequence[np.ndarray],
            columns: int = 4,
            tile_size: int = 256) -> np.ndarray:
    """Tiles resized to ``tile_size`` wide (keeping their aspect) in a grid
    of ``columns`` columns on black; (H, W, 3) uint8."""
    if not tiles:
        raise ValueError('montage needs at least one tile')
    resized = []
    for tile in tiles:
        h = int(round(tile.shape[0] * tile_size / tile.shape[1]))
        resized.append(
            cv2.resize(tile, (tile_size, h), interpolation=cv2.INTER_AREA))
    columns = max(1, min(columns, len(resized)))
    rows = [resized[i:i + columns] for i in range(0, len(resized), columns)]
    height = max(t.shape[0] for t in resized)
    out = np.zeros((height * len(rows), tile_size * columns, 3), np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            out[r * height:r * height + tile.shape[0],
                c * tile_size:(c + 1) * tile_size] = tile
    return out
