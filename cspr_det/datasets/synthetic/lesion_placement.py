"""Placing lesions and vessel-like tubes in a synthetic series.

A lesion is a dict ``type, key, cx, cy, cz, a, b, c, theta, target, noisy``
(lesion type 1..8, key slice index, centre in mm, semi-axes in mm, in-plane
rotation, HU inside, Possibly_noisy flag); a tube is a dict ``x0, y0, zref,
amp, wavelength, phase, a, b, theta, target`` (see :func:`tube_centre`).
Both are written as they are to ``synthetic_truth.json``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .phantom import (BONE, FAT, KIDNEY, LIVER, LUNG, MARROW, MESFAT, SOFT,
                      TISSUE_HU, Phantom, ellipse_norm2)
from .render import tube_centre

#: z range (mm along the body) where each lesion type can sit
TYPE_Z: Dict[int, Tuple[int, int]] = {
    1: (10, 590),
    2: (150, 380),
    3: (410, 540),
    4: (285, 395),
    5: (410, 590),
    6: (205, 280),
    7: (10, 590),
    8: (30, 160)
}
#: share of each type among the official test lesions
TYPE_WEIGHTS = np.array([108, 1173, 864, 700, 1100, 234, 339, 409], float)


def _type_mask(lesion_type: int, labels: np.ndarray, r_in: np.ndarray,
               x_rel: np.ndarray, geo: dict) -> np.ndarray:
    """(H, W) bool: where a lesion of ``lesion_type`` may be centred."""
    if lesion_type == 1:
        return labels == MARROW
    if lesion_type in (2, 8):
        return np.isin(labels, (SOFT, MESFAT)) & (r_in < 0.55)
    if lesion_type == 3:
        return (labels == SOFT) & (np.abs(x_rel) < 0.3 * geo['ix']) & \
            (r_in < 0.75)
    if lesion_type == 4:
        return labels == LIVER
    if lesion_type == 5:
        return labels == LUNG
    if lesion_type == 6:
        return labels == KIDNEY
    if lesion_type == 7:
        return np.isin(labels, (FAT, SOFT)) & (r_in > 0.6)
    raise ValueError(lesion_type)


def _target_hu(
    label: int,
    rng: np.random.Generator,
    contrast: Tuple[float, float] = (40.0, 120.0)
) -> float:
    """HU inside a lesion (or tube) whose centre lies in tissue ``label``;
    in soft tissue and organs the lesion differs from the tissue by
    ``contrast`` HU (min, max), hypo- or hyper-dense."""
    if label == LUNG:
        return float(rng.uniform(-40, 60))
    if label in (BONE, MARROW):
        return float(
            rng.uniform(-20, 120) if rng.random() <
            0.6 else rng.uniform(550, 950))
    base = TISSUE_HU.get(label, 40.0)
    if label in (FAT, MESFAT):
        return base + float(rng.uniform(80, 150))
    sign = -1.0 if rng.random() < 0.5 else 1.0
    return base + sign * float(rng.uniform(*contrast))


def visible_target(label: int,
                   clean: np.ndarray,
                   x: np.ndarray,
                   y: np.ndarray,
                   ellipse: Tuple[float, float, float, float, float],
                   rng: np.random.Generator,
                   contrast: Tuple[float, float],
                   tries: int = 4,
                   min_fraction: float = 0.8) -> Optional[float]:
    """A lesion (or tube) HU that a reader can see against its surroundings.

    :func:`_target_hu` sets the HU from the tissue under the centre; a blob
    at an organ border can then match the tissue around it (a hypodense
    kidney lesion next to muscle) and vanish. A target is accepted when at
    least ``min_fraction`` of the clean-phantom pixels in a ring just outside
    the blob (normalised radius 1.2-1.7) differ from it by half the minimum
    contrast or more.

    Args:
        label: Tissue label under the centre.
        clean: (H, W) noise-free HU of the slice.
        x, y: (H, W) pixel centres in mm.
        ellipse: (cx, cy, a, b, theta) of the blob in mm / radians.
        rng: Random generator.
        contrast: (min, max) lesion-minus-tissue HU.
        tries: Targets drawn before giving up.
        min_fraction: Fraction of ring pixels that must show the contrast.

    Returns:
        float | None: The target HU, or None when no draw was visible.
    """
    cx, cy, a, b, theta = ellipse
    d = np.sqrt(ellipse_norm2(x, y, cx, cy, a, b, theta))
    ring = clean[(d >= 1.2) & (d <= 1.7)]
    for _ in range(tries):
        target = _target_hu(label, rng, contrast)
        if not ring.size or float(
                np.mean(np.abs(ring - target) >= 0.5 *
                        contrast[0])) >= min_fraction:
            return target
    return None


def sample_size(rng: np.random.Generator, spacing: float,
                diameter_mm: Tuple[float, float],
                min_px: float) -> Tuple[float, float]:
    """Semi-axes ``(a, b)`` in mm, ``a >= b``: the long diameter is
    log-uniform in ``diameter_mm`` (raised to ``min_px`` pixels), the short
    one 0.55-1 of it and at least ``min_px`` pixels where possible."""
    lo = max(diameter_mm[0], min_px * spacing)
    hi = max(diameter_mm[1], lo * 1.5)
    long_d = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    short_d = long_d * float(rng.uniform(0.55, 1.0))
    short_d = max(short_d, min(long_d, min_px * spacing))
    return long_d / 2, short_d / 2


class LesionTypeSampler:
    """Draws lesion types so that every split gets all eight types early.

    Each split has a queue holding a random permutation of the types 1..8;
    a type is taken from the queue when its z range fits, otherwise drawn
    with the official test-set type frequencies (:data:`TYPE_WEIGHTS`).

    Args:
        rng (np.random.Generator): The dataset's generator (three
            permutations are drawn from it here).
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.p = TYPE_WEIGHTS / TYPE_WEIGHTS.sum()
        self.queue: Dict[int, List[int]] = {
            s: list(rng.permutation(8) + 1)
            for s in (1, 2, 3)
        }

    def next(self,
             split: int,
             z_lo: Optional[float] = None,
             z_hi: Optional[float] = None) -> int:
        """The next type of ``split`` whose z range overlaps ``(z_lo,
        z_hi)`` (any type when they are None)."""
        queue = self.queue[split]
        for i, t in enumerate(queue):
            lo, hi = TYPE_Z[t]
            if z_lo is None or (lo < z_hi and hi > z_lo):
                return int(queue.pop(i))
        ok = [
            t for t in range(1, 9)
            if z_lo is None or (TYPE_Z[t][0] < z_hi and TYPE_Z[t][1] > z_lo)
        ]
        return self._draw(ok)

    def requeue(self, split: int, lesion_type: int) -> None:
        """Put back a type that could not be placed, for a later series."""
        if lesion_type not in self.queue[split]:
            self.queue[split].insert(0, lesion_type)

    def draw_at(self, z: float) -> int:
        """A type whose z range contains ``z``, by frequency."""
        return self._draw(
            [t for t in range(1, 9) if TYPE_Z[t][0] <= z <= TYPE_Z[t][1]])

    def _draw(self, types: Sequence[int]) -> int:
        w = self.p[np.array(types) - 1]
        return int(self.rng.choice(types, p=w / w.sum()))


class SliceAnatomy:
    """The clean phantom slices of one series, rendered once each.

    Args:
        phantom (Phantom): The study's anatomy.
        x, y (np.ndarray): (H, W) pixel centres in mm.
        z0 (float): Height of slice 1 (mm), the top slice: as in
            DeepLesion, a higher slice number lies further toward the feet.
        dz (float): Slice interval (mm).
    """

    def __init__(self, phantom: Phantom, x: np.ndarray, y: np.ndarray,
                 z0: float, dz: float) -> None:
        self.phantom, self.x, self.y, self.z0, self.dz = phantom, x, y, z0, dz
        self._cache: Dict[int, tuple] = {}

    def z(self, k: int) -> float:
        """Height (mm) of slice ``k`` (1-based)."""
        return self.z0 - (k - 1) * self.dz

    def __call__(self, k: int) -> tuple:
        """``(labels, r_in, x_rel, geometry, clean_hu)`` of slice ``k``:
        (H, W) labels, normalised radius inside the body wall, x relative to
        the body centre, the body geometry dict and the noise-free HU."""
        if k not in self._cache:
            clean, labels, geo = self.phantom.render(self.x, self.y, self.z(k))
            xr, yr = self.x - geo['cx'], self.y - geo['cy']
            r_in = ellipse_norm2(xr, yr, 0, 0, geo['ix'], geo['iy'])
            self._cache[k] = (labels, r_in, xr, geo, clean)
        return self._cache[k]


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                     (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(mask, kern)


def _lesion_centres(mask: np.ndarray, a: float, b: float, shrink: float,
                    spacing: float) -> Tuple[np.ndarray, np.ndarray]:
    """Pixels ``(ys, xs)`` of ``mask`` eroded by ``shrink * b`` and far
    enough from the border to keep the whole RECIST + 5 px box inside."""
    ok = _erode(mask, max(1, int(round(shrink * b / spacing))))
    m = int(np.ceil(a / spacing)) + 6
    ok[:m, :] = 0
    ok[-m:, :] = 0
    ok[:, :m] = 0
    ok[:, -m:] = 0
    return np.nonzero(ok)


def _apart(cx: float, cy: float, cz: float, a: float, c: float,
           others: Sequence[dict]) -> bool:
    """Whether a lesion there keeps 3 mm from every other lesion, in-plane
    or along z."""
    return all(
        np.hypot(cx - o['cx'], cy - o['cy']) > a + o['a'] +
        3 or abs(cz - o['cz']) > c + o['c'] + 3 for o in others)


def place_lesion(rng: np.random.Generator, anatomy: SliceAnatomy,
                 lesion_type: int, k: int, others: Sequence[dict],
                 spacing: float, cfg: dict) -> Optional[dict]:
    """A lesion of ``lesion_type`` centred on slice ``k``, or None.

    The size is drawn by :func:`sample_size`; the centre is drawn among the
    pixels where the type may sit (eroded so that the lesion stays in its
    tissue; bone lesions may break through the cortex), apart from
    ``others``, with a :func:`visible_target` HU. Up to four sizes are
    tried, each 0.8 of the previous, while the lesion stays at least
    ``cfg['min_lesion_px']`` across.
    """
    labels, r_in, xr, geo, clean = anatomy(k)
    mask = _type_mask(lesion_type, labels, r_in, xr, geo).astype(np.uint8)
    a, b = sample_size(rng, spacing, cfg['lesion_diameter_mm'],
                       cfg['min_lesion_px'])
    shrink = 0.3 if lesion_type == 1 else 0.8
    for _ in range(4):
        ys, xs = _lesion_centres(mask, a, b, shrink, spacing)
        zc = anatomy.z(k)
        c = (a + b) / 2 * float(rng.uniform(0.7, 1.3))
        for _ in range(10 if len(xs) else 0):
            j = int(rng.integers(len(xs)))
            cx, cy = float(anatomy.x[0, xs[j]]), float(anatomy.y[ys[j], 0])
            if not _apart(cx, cy, zc, a, c, others):
                continue
            theta = float(rng.uniform(0, np.pi))
            target = visible_target(
                int(labels[ys[j], xs[j]]), clean, anatomy.x, anatomy.y,
                (cx, cy, a, b, theta), rng, cfg['lesion_contrast_hu'])
            if target is None:
                continue
            return dict(
                type=lesion_type,
                key=k,
                cx=cx,
                cy=cy,
                cz=zc,
                a=a,
                b=b,
                c=c,
                theta=theta,
                target=target,
                noisy=0)
        a, b = a * 0.8, b * 0.8
        if 2 * b < cfg['min_lesion_px'] * spacing:
            break
    return None


def _tube_is_clear(tube: dict, lesions: Sequence[dict],
                   tubes: Sequence[dict]) -> bool:
    """Whether ``tube`` keeps 4 mm from every lesion (at the lesion's
    height) and every tube (at the tube's reference height)."""
    for o in list(lesions) + list(tubes):
        if 'key' in o:
            tx, ty = tube_centre(tube, o['cz'])
            d = np.hypot(tx - o['cx'], ty - o['cy'])
        else:
            tx, ty = tube_centre(tube, tube['zref'])
            ox, oy = tube_centre(o, tube['zref'])
            d = np.hypot(tx - ox, ty - oy)
        if d < tube['a'] + o['a'] + 4:
            return False
    return True


def place_tube(rng: np.random.Generator, anatomy: SliceAnatomy,
               lesions: Sequence[dict], tubes: Sequence[dict], spacing: float,
               cfg: dict) -> Optional[dict]:
    """A vessel-like tube through the series, seen on the key slice of a
    random lesion with the lesions' cross-section and contrast law, or
    None when no clear, visible position was found in 20 tries."""
    ref = lesions[int(rng.integers(len(lesions)))]
    labels, r_in, xr, geo, clean = anatomy(ref['key'])
    mask = (np.isin(labels, (SOFT, MESFAT, LIVER, LUNG)) &
            (r_in < 0.8)).astype(np.uint8)
    a, b = sample_size(rng, spacing, cfg['lesion_diameter_mm'],
                       cfg['min_lesion_px'])
    ys, xs = np.nonzero(_erode(mask, max(1, int(round(b / spacing)))))
    if not len(xs):
        return None
    amp = rng.uniform(0, 8, size=2)
    wavelength = float(rng.uniform(150, 400))
    phase = rng.uniform(0, 2 * np.pi, size=2)
    for _ in range(20):
        j = int(rng.integers(len(xs)))
        tube = dict(
            x0=float(anatomy.x[0, xs[j]]),
            y0=float(anatomy.y[ys[j], 0]),
            zref=ref['cz'],
            amp=[float(v) for v in amp],
            wavelength=wavelength,
            phase=[float(v) for v in phase],
            a=a,
            b=b,
            theta=float(rng.uniform(0, np.pi)))
        if not _tube_is_clear(tube, lesions, tubes):
            continue
        target = visible_target(
            int(labels[ys[j], xs[j]]), clean, anatomy.x, anatomy.y,
            (tube['x0'], tube['y0'], a, b, tube['theta']), rng,
            cfg['lesion_contrast_hu'])
        if target is not None:
            tube['target'] = target
            return tube
    return None
