"""An analytic CT body phantom rendered slice by slice in Hounsfield units.

The body is described in millimetres around the patient axis ``z`` (0 at
the pelvic floor, about 600 at the lung apexes); every structure is a
smooth function of ``z`` so neighbouring slices look alike, as in real CT.
Image axes: ``x`` to the right of the image, ``y`` downwards (posterior).
"""
from typing import Dict, Tuple

import numpy as np

# tissue labels of the label map
AIR, FAT, SOFT, MESFAT, LIVER, SPLEEN, KIDNEY, LUNG, HEART, AORTA, BONE, \
    MARROW, BLADDER, TABLE = range(14)

# nominal HU of each label (before texture and noise)
TISSUE_HU = {
    AIR: -1000.0,
    FAT: -100.0,
    SOFT: 35.0,
    MESFAT: -90.0,
    LIVER: 85.0,
    SPLEEN: 95.0,
    KIDNEY: 150.0,
    LUNG: -850.0,
    HEART: 40.0,
    AORTA: 160.0,
    BONE: 750.0,
    MARROW: 250.0,
    BLADDER: 10.0,
    TABLE: -300.0,
}

#: body height along z (mm) used to normalise lesion locations
BODY_LENGTH_MM = 600.0


def _taper(z: float, lo: float, hi: float) -> float:
    """Smooth 0..1..0 bump over ``[lo, hi]`` (sine profile)."""
    if z <= lo or z >= hi:
        return 0.0
    return float(np.sin(np.pi * (z - lo) / (hi - lo)))**0.5


def ellipse_norm2(x: np.ndarray,
                  y: np.ndarray,
                  cx: float,
                  cy: float,
                  ax: float,
                  ay: float,
                  theta: float = 0.0) -> np.ndarray:
    """Normalised squared radius of points in a rotated ellipse.

    Args:
        x, y (np.ndarray): (H, W) point coordinates (mm).
        cx, cy (float): Centre of the ellipse.
        ax, ay (float): Semi-axes along the rotated u and v axes.
        theta (float): Rotation of the u axis from x (radians).

    Returns:
        np.ndarray: (H, W) ``(u / ax)**2 + (v / ay)**2``: < 1 inside, 1 on
        the boundary.
    """
    c, s = np.cos(theta), np.sin(theta)
    dx, dy = x - cx, y - cy
    u = dx * c + dy * s
    v = -dx * s + dy * c
    return (u / ax)**2 + (v / ay)**2


#: Former private name of :func:`ellipse_norm2`.
_ellipse = ellipse_norm2


def pixel_grid(size: int, spacing: float) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel centre coordinates of a square slice centred on the body axis.

    Args:
        size (int): Rows = columns.
        spacing (float): Pixel size (mm).

    Returns:
        tuple[np.ndarray, np.ndarray]: (size, size) float32 ``x`` and ``y``
        in mm (0 at the image centre).
    """
    coords = (np.arange(size, dtype=np.float32) - (size - 1) / 2) * spacing
    return np.meshgrid(coords, coords)  # x, y in mm


def mm_to_pixel(v_mm: float, size: int, spacing: float) -> float:
    """0-based pixel coordinate of a position given in mm by
    :func:`pixel_grid`."""
    return v_mm / spacing + (size - 1) / 2


class Phantom:
    """The anatomy of one synthetic patient (study).

    Args:
        rng (np.random.Generator): Source of the patient's variations.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.scale = float(rng.uniform(0.85, 1.08))
        self.fat = float(rng.uniform(8, 24))
        self.phase = rng.uniform(0, 2 * np.pi, size=4)
        self.offset = rng.uniform(-8, 8, size=2)
        # smooth 3D texture: plane waves with 25-90 mm wavelengths
        n = 8
        k = rng.normal(size=(n, 3))
        k /= np.linalg.norm(k, axis=1, keepdims=True)
        k *= (2 * np.pi / rng.uniform(25, 90, size=(n, 1)))
        self.wave_k = k
        self.wave_phi = rng.uniform(0, 2 * np.pi, size=n)
        self.mes_threshold = float(rng.uniform(0.2, 0.6))
        self.disc_period = float(rng.uniform(28, 34))

    # -------------------------------------------------------------- #
    def body_axes(self, z: float) -> Tuple[float, float]:
        s, p = self.scale, self.phase
        ax = s * (158 + 14 * np.sin(2 * np.pi * z / 420 + p[0]))
        ay = s * (108 + 9 * np.cos(2 * np.pi * z / 350 + p[1]))
        return float(ax), float(ay)

    def texture(self, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
        """Smooth field in about [-1, 1], continuous in x, y and z."""
        out = np.zeros(np.broadcast(x, y).shape, np.float32)
        for (kx, ky, kz), phi in zip(self.wave_k, self.wave_phi):
            out += np.cos(kx * x + ky * y + (kz * z + phi)).astype(np.float32)
        return out * (1.0 / np.sqrt(len(self.wave_phi)) * 1.2)

    def render(self, x: np.ndarray, y: np.ndarray,
               z: float) -> Tuple[np.ndarray, np.ndarray, Dict[str, float]]:
        """Render the clean slice at height ``z``.

        Args:
            x, y (np.ndarray): (H, W) pixel centre coordinates in mm.
            z (float): Slice position in mm.

        Returns:
            tuple: ``(hu, labels, geometry)``: (H, W) float32 HU without
            noise, (H, W) uint8 tissue labels, and a dict of the body
            geometry at ``z`` (``ax``, ``ay``, ``ix``, ``iy``, ``cx``,
            ``cy``).
        """
        labels, tex, geo = self.label_map(x, y, z)
        return tissue_hu(labels, tex), labels, geo

    def label_map(self, x: np.ndarray, y: np.ndarray,
                  z: float) -> Tuple[np.ndarray, np.ndarray, Dict[str, float]]:
        """Tissue labels of the slice at height ``z``.

        Structures are painted in a fixed order (later ones cover earlier
        ones): body wall and table, abdominal organs, chest organs and the
        aorta, bones.

        Args:
            x, y (np.ndarray): (H, W) pixel centre coordinates in mm.
            z (float): Slice position in mm.

        Returns:
            tuple: ``(labels, texture, geometry)``: (H, W) uint8 labels,
            (H, W) float32 texture (:meth:`texture`) and the body geometry
            (``ax``, ``ay``: outer semi-axes; ``ix``, ``iy``: inner, under
            the subcutaneous fat; ``cx``, ``cy``: body centre; all mm).
        """
        ax, ay = self.body_axes(z)
        cx, cy = float(self.offset[0]), float(self.offset[1] - 8)
        x = x - cx
        y = y - cy
        labels = np.full(x.shape, AIR, np.uint8)
        tex = self.texture(x, y, z)

        r_out = ellipse_norm2(x, y, 0, 0, ax, ay)
        labels[r_out <= 1] = FAT
        ix, iy = ax - self.fat, ay - self.fat * 0.8
        r_in = ellipse_norm2(x, y, 0, 0, ix, iy)
        inner = r_in <= 1
        labels[inner] = SOFT
        # table under the patient
        table = (y > ay + 12) & (y < ay + 20) & (np.abs(x) < 1.25 * ax)
        labels[table] = TABLE
        body = dict(ix=ix, iy=iy, r_in=r_in, inner=inner, tex=tex)
        self._paint_abdomen(labels, x, y, z, body)
        self._paint_chest(labels, x, y, z, body)
        self._paint_bones(labels, x, y, z, body)
        return labels, tex, dict(ax=ax, ay=ay, ix=ix, iy=iy, cx=cx, cy=cy)

    def _paint_abdomen(self, labels: np.ndarray, x: np.ndarray, y: np.ndarray,
                       z: float, body: dict) -> None:
        """Mesenteric fat, bladder, kidneys, liver and spleen (in place)."""
        ix, iy = body['ix'], body['iy']
        # abdominal / pelvic fat between the bowel loops
        t_abd = _taper(z, 60, 400)
        if t_abd > 0:
            mes = body['inner'] & (body['r_in'] < 0.62) & (
                body['tex'] > self.mes_threshold + (1 - t_abd))
            labels[mes] = MESFAT
        # bladder
        t = _taper(z, 15, 115)
        if t > 0:
            labels[ellipse_norm2(x, y, 0, -0.25 * iy, 42 * t * self.scale, 32 *
                                 t * self.scale) <= 1] = BLADDER
        # kidneys
        t = _taper(z, 185, 300)
        if t > 0:
            for side in (-1, 1):
                r = ellipse_norm2(x, y, side * 0.42 * ix, 0.42 * iy,
                                  26 * t * self.scale, 36 * t * self.scale,
                                  side * 0.5)
                labels[r <= 1] = KIDNEY
                labels[r <= 0.2] = SOFT  # renal sinus
        # liver (image left = patient right)
        t = _taper(z, 255, 420)
        if t > 0:
            labels[ellipse_norm2(x, y, -0.33 * ix, -0.05 * iy, 0.52 * ix *
                                 t, 0.7 * iy * t, 0.3) <= 1] = LIVER
        # spleen
        t = _taper(z, 300, 405)
        if t > 0:
            labels[ellipse_norm2(x, y, 0.55 * ix, 0.28 * iy, 22 * t *
                                 self.scale, 45 * t *
                                 self.scale, -0.6) <= 1] = SPLEEN

    def _paint_chest(self, labels: np.ndarray, x: np.ndarray, y: np.ndarray,
                     z: float, body: dict) -> None:
        """Lungs, heart and the aorta (in place)."""
        ix, iy = body['ix'], body['iy']
        t = _taper(z, 370, 640)
        if t > 0:
            for side in (-1, 1):
                r = ellipse_norm2(x, y, side * 0.47 * ix, -0.02 * iy,
                                  0.4 * ix * t, 0.78 * iy * t, side * 0.12)
                labels[body['inner'] & (r <= 1)] = LUNG
        t = _taper(z, 395, 545)
        if t > 0:
            labels[ellipse_norm2(x, y, 0.12 * ix, -0.3 * iy, 58 * t *
                                 self.scale, 46 * t *
                                 self.scale, 0.5) <= 1] = HEART
        # aorta: a tube along the whole trunk
        labels[ellipse_norm2(x, y, 0.12 * ix, 0.33 * iy, 11 * self.scale, 11 *
                             self.scale) <= 1] = AORTA

    def _paint_bones(self, labels: np.ndarray, x: np.ndarray, y: np.ndarray,
                     z: float, body: dict) -> None:
        """Vertebrae and discs, ribs and pelvic bones (in place)."""
        ix, iy, r_in = body['ix'], body['iy'], body['r_in']
        # spine: vertebral bodies with discs, spinous process
        vy = 0.58 * iy
        vr = 17 * self.scale
        disc = (z / self.disc_period) % 1.0 < 0.18
        r = ellipse_norm2(x, y, 0, vy, vr, vr * 0.9)
        if disc:
            labels[r <= 1] = SOFT
        else:
            labels[r <= 1] = BONE
            labels[r <= 0.75] = MARROW
            sp = ellipse_norm2(x, y, 0, vy + 1.55 * vr, 5, 9)
            labels[sp <= 1] = BONE
        # ribs in the chest and upper abdomen
        t = _taper(z, 300, 640)
        if t > 0:
            ring = (r_in > 0.8) & (r_in < 0.9) & body['inner']
            ang = np.arctan2(y, x)
            on = np.cos(14 * ang + z / 9.0 + self.phase[2]) > 0.55
            labels[ring & on] = BONE
        # pelvic bones
        t = _taper(z, 20, 175)
        if t > 0:
            for side in (-1, 1):
                r = ellipse_norm2(x, y, side * 0.55 * ix, 0.25 * iy,
                                  18 * t * self.scale + 4,
                                  42 * t * self.scale + 4, side * 0.45)
                labels[r <= 1] = BONE
                labels[r <= 0.55] = MARROW


def tissue_hu(labels: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """HU of a label map: the nominal HU of each tissue
    (:data:`TISSUE_HU`) plus its texture amplitude times ``texture``.

    Args:
        labels (np.ndarray): (H, W) uint8 tissue labels.
        texture (np.ndarray): (H, W) float32 field in about [-1, 1].

    Returns:
        np.ndarray: (H, W) float32 HU without noise.
    """
    lut = np.zeros(max(TISSUE_HU) + 1, np.float32)
    for k, v in TISSUE_HU.items():
        lut[k] = v
    hu = lut[labels]
    # organ texture amplitudes (HU)
    amp = np.zeros_like(lut)
    amp[[SOFT, LIVER, SPLEEN, KIDNEY, HEART]] = 8
    amp[LUNG] = 35
    amp[MARROW] = 60
    amp[[FAT, MESFAT]] = 10
    hu += amp[labels] * texture
    return hu


def blob_profile(d: np.ndarray,
                 radius_mm: float,
                 edge_mm: float = 1.0) -> np.ndarray:
    """Soft-edged indicator of a normalised radius ``d`` (1 = surface)."""
    arg = np.clip((d - 1.0) * (radius_mm / edge_mm), -30, 30)
    return 1.0 / (1.0 + np.exp(arg))
