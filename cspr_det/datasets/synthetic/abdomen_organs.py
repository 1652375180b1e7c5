"""Abdominal organs added to the synthetic body phantom for the LiTS and
BTCV generators (:mod:`.make_synthetic_seg`)."""
import numpy as np

from .phantom import (AORTA, FAT, KIDNEY, LIVER, LUNG, MESFAT, SOFT, SPLEEN,
                      ellipse_norm2)


def ellipsoid_profile(z: float, lo: float, hi: float) -> float:
    """Relative cross-section radius of an ellipsoid spanning ``[lo, hi]``
    along z at height ``z``: ``sqrt(1 - u**2)``, ``u`` in [-1, 1]."""
    if z <= lo or z >= hi:
        return 0.0
    u = (2.0 * z - lo - hi) / (hi - lo)
    return float(np.sqrt(1.0 - u * u))


# BTCV label ids (cspr_det.datasets.btcv_dataset.BTCV_CLASSES)
(_SPLEEN, _RKID, _LKID, _GALL, _ESO, _LIVER, _STOM, _AORTA, _IVC, _PORTAL,
 _PANC, _RADR, _LADR) = range(1, 14)


class AbdomenOrgans:
    """The organs a synthetic LiTS/BTCV case adds to the body phantom.

    The phantom (:class:`~.phantom.Phantom`) has the liver, spleen,
    kidneys and aorta; this adds a patient-specific left liver lobe and, for
    BTCV, the gallbladder, oesophagus, stomach (with a gas cap), inferior
    vena cava, portal/splenic vein, pancreas and adrenal glands, each with
    its own HU, and returns the label map of a slice.

    Args:
        rng (np.random.Generator): Source of the case's variations.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.lobe = dict(
            dx=float(rng.uniform(-0.05, 0.12)),
            size=float(rng.uniform(0.7, 1.25)),
            theta=float(rng.uniform(-0.4, 0.4)))
        self.gall = dict(
            dx=float(rng.uniform(-0.05, 0.05)),
            size=float(rng.uniform(0.8, 1.2)),
            hu=float(rng.uniform(0, 20)))
        self.stomach = dict(
            size=float(rng.uniform(0.8, 1.2)),
            hu=float(rng.uniform(15, 35)),
            gas=bool(rng.random() < 0.6),
            theta=float(rng.uniform(-0.5, 0.3)))
        self.pancreas_hu = float(rng.uniform(60, 80))
        self.ivc_hu = float(rng.uniform(105, 130))
        self.portal_hu = float(rng.uniform(135, 165))

    def paint(self, x: np.ndarray, y: np.ndarray, z: float, tissue: np.ndarray,
              hu: np.ndarray, geo: dict, btcv: bool) -> np.ndarray:
        """Add the organs of slice ``z`` to ``hu`` (in place) and return the
        (H, W) uint8 label map (LiTS or BTCV ids)."""
        ix, iy = geo['ix'], geo['iy']
        x = x - geo['cx']
        y = y - geo['cy']
        free = np.isin(tissue, (SOFT, MESFAT)) | \
            ((tissue == FAT) & (ellipse_norm2(x, y, 0, 0, ix, iy) <= 1))
        # left lobe of the liver, reaching across the midline
        liver = tissue == LIVER
        t = ellipsoid_profile(z, 330, 418)
        if t > 0:
            lb = self.lobe
            lobe = ellipse_norm2(x, y, (0.02 + lb['dx']) * ix, -0.42 * iy,
                                 0.28 * ix * t * lb['size'], 0.2 * iy * t,
                                 lb['theta']) <= 1
            add = lobe & free
            liver |= add
            hu[add] = 85.0
        labels = np.zeros(tissue.shape, np.uint8)
        if not btcv:
            labels[liver] = 1
            return labels

        def put(mask, label, value=None):
            labels[mask] = label
            if value is not None:
                hu[mask] = value

        labels[tissue == SPLEEN] = _SPLEEN
        kid = tissue == KIDNEY
        labels[kid & (x < 0)] = _RKID  # image left = patient right
        labels[kid & (x >= 0)] = _LKID
        labels[liver] = _LIVER
        labels[tissue == AORTA] = _AORTA
        # stomach (patient left, anterior), with a gas cap when supine
        t = ellipsoid_profile(z, 305, 415)
        if t > 0:
            st = self.stomach
            m = ellipse_norm2(x, y, 0.3 * ix, -0.2 * iy, 46 * t * st['size'],
                              34 * t * st['size'], st['theta']) <= 1
            inner = ellipse_norm2(x, y, 0, 0, ix, iy) <= 0.78
            m &= (labels == 0) & inner & \
                np.isin(tissue, (SOFT, MESFAT, FAT, LUNG))
            put(m, _STOM, st['hu'])
            if st['gas']:
                gas = m & (y < -0.2 * iy - 0.45 * 34 * t * st['size'])
                hu[gas] = -850.0
        # pancreas: an elongated, lobulated band from the head to the tail
        t = ellipsoid_profile(z, 292, 335)
        if t > 0:
            u = np.clip((x + 0.12 * ix) / (0.55 * ix), 0, 1)
            cy = 0.06 * iy + 0.14 * iy * u
            band = (x > -0.14 * ix) & (x < 0.45 * ix) & \
                (np.abs(y - cy) < (7 + 6 * (1 - u)) * t)
            put(band & (labels == 0), _PANC, self.pancreas_hu)
        # splenic vein behind the pancreas, portal vein into the liver hilum
        t = ellipsoid_profile(z, 306, 330)
        if t > 0:
            u = np.clip((x + 0.2 * ix) / (0.62 * ix), 0, 1)
            cy = 0.12 * iy + 0.12 * iy * u
            vein = (x > -0.24 * ix) & (x < 0.42 * ix) & \
                (np.abs(y - cy) < 4.5 * t)
            put(vein & np.isin(labels, (0, _PANC, _LIVER)), _PORTAL,
                self.portal_hu)
        # inferior vena cava (right of the aorta, partly inside the liver)
        t = ellipsoid_profile(z, 170, 425)
        if t > 0:
            m = ellipse_norm2(x, y, -0.14 * ix, 0.3 * iy, 10, 12) <= 1
            put(m & ~np.isin(labels, (_AORTA, _RKID)), _IVC, self.ivc_hu)
        # gallbladder under the liver
        t = ellipsoid_profile(z, 262, 318)
        if t > 0:
            g = self.gall
            m = ellipse_norm2(x, y, (-0.22 + g['dx']) * ix, -0.22 * iy,
                              13 * t * g['size'], 20 * t * g['size'], 0.6) <= 1
            put(m & np.isin(labels, (0, _LIVER)), _GALL, g['hu'])
        # oesophagus (upper abdomen / lower chest), anterior-left of spine
        t = ellipsoid_profile(z, 375, 640)
        if t > 0:
            m = ellipse_norm2(x, y, 0.05 * ix, 0.38 * iy, 7, 6) <= 1
            put(m & ~np.isin(labels, (_AORTA, )), _ESO, 40.0)
        # adrenal glands above the kidneys
        for label, side in ((_RADR, -1), (_LADR, 1)):
            t = ellipsoid_profile(z, 296, 336)
            if t > 0:
                m = ellipse_norm2(x, y, side * 0.26 * ix, 0.34 * iy, 4.5 * t,
                                  11 * t, side * 0.6) <= 1
                put(m & np.isin(labels, (0, _LIVER)), label, 30.0)
        return labels
