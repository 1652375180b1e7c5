"""Synthetic DeepLesion: CT-like series and a ``DL_info.csv`` in the official
format, so the whole DeepLesion pipeline runs and can be tested anywhere.

Every patient gets an analytic body phantom (:class:`Phantom`); every series
is a stack of slices through it at 1, 2 or 5 mm. Lesions are soft-edged 3D
ellipsoids whose centre lies on the key slice; vessel-like tubes with the
same cross-section (size, shape, contrast) run along z through the whole
series, so on a single slice a tube looks exactly like a lesion and only the
neighbouring slices tell them apart.
"""
import json
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from ..deeplesion_csv import (HU_OFFSET, LESION_TYPES, SPLITS, format_number,
                              series_name, slice_file_name,
                              write_deeplesion_csv)
from .phantom import (BODY_LENGTH_MM, BONE, FAT, KIDNEY, LIVER, LUNG, MARROW,
                      MESFAT, SOFT, TISSUE_HU, Phantom, _ellipse,
                      blob_profile)

#: Generator presets; keyword arguments of :func:`make_synthetic_deeplesion`
#: override them.
PRESETS: Dict[str, dict] = dict(
    # trains a small detector on a CPU in minutes
    demo=dict(
        num_patients=56,
        image_size=128,
        studies_per_patient=(1, 3),
        series_per_study=(1, 1),
        keys_per_series=(2, 4),
        slice_intervals=((1.0, 0.1), (2.0, 0.3), (5.0, 0.6)),
        split_fractions=(0.72, 0.12, 0.16),
        # conspicuous enough for a from-scratch detector trained for minutes
        lesion_contrast_hu=(100.0, 200.0),
        min_lesion_px=8.0,
        tubes_per_series=(1, 2)),
    # loader benchmark: 512 x 512, alternating 1 mm and 5 mm series
    bench=dict(
        num_patients=4,
        image_size=512,
        studies_per_patient=(1, 1),
        series_per_study=(2, 2),
        keys_per_series=(3, 3),
        slice_intervals=((1.0, 0.5), (5.0, 0.5)),
        cycle_intervals=True,
        split_fractions=(1.0, 0.0, 0.0)),
    # DeepLesion-like sizes for longer experiments
    large=dict(
        num_patients=200,
        image_size=512,
        studies_per_patient=(1, 3),
        series_per_study=(1, 2),
        keys_per_series=(1, 4),
        slice_intervals=((1.0, 0.35), (2.0, 0.15), (5.0, 0.5)),
        split_fractions=(0.7, 0.15, 0.15)),
)

# z range (mm along the body) where each lesion type can sit
_TYPE_Z = {
    1: (10, 590),
    2: (150, 380),
    3: (410, 540),
    4: (285, 395),
    5: (410, 590),
    6: (205, 280),
    7: (10, 590),
    8: (30, 160)
}
# share of each type among the official test lesions
_TYPE_WEIGHTS = np.array([108, 1173, 864, 700, 1100, 234, 339, 409], float)
_ABDOMEN_WINDOWS = (((-175, 275), 0.8), ((-160, 240), 0.08),
                    ((-182.5, 322.5), 0.06), ((-177.5, 307.5), 0.06))
_LUNG_WINDOWS = ((-1500, 500), (-1400, 200))


def _grid(size: int, spacing: float) -> Tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size, dtype=np.float32) - (size - 1) / 2) * spacing
    return np.meshgrid(coords, coords)  # x, y in mm


def _to_px(v_mm: float, size: int, spacing: float) -> float:
    return v_mm / spacing + (size - 1) / 2


def _type_mask(lesion_type: int, labels: np.ndarray, r_in: np.ndarray,
               x_rel: np.ndarray, geo: dict) -> np.ndarray:
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


def _target_hu(label: int, rng: np.random.Generator,
               contrast: Tuple[float, float] = (40.0, 120.0)) -> float:
    """HU inside a lesion (or tube) whose centre lies in tissue ``label``;
    in soft tissue and organs the lesion differs from the tissue by
    ``contrast`` HU (min, max), hypo- or hyper-dense."""
    if label == LUNG:
        return float(rng.uniform(-40, 60))
    if label in (BONE, MARROW):
        return float(rng.uniform(-20, 120) if rng.random() < 0.6 else rng.
                     uniform(550, 950))
    base = TISSUE_HU.get(label, 40.0)
    if label in (FAT, MESFAT):
        return base + float(rng.uniform(80, 150))
    sign = -1.0 if rng.random() < 0.5 else 1.0
    return base + sign * float(rng.uniform(*contrast))


def _visible_target(label: int, clean: np.ndarray, x: np.ndarray,
                    y: np.ndarray, ellipse: Tuple[float, float, float, float,
                                                  float],
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
    d = np.sqrt(_ellipse(x, y, cx, cy, a, b, theta))
    ring = clean[(d >= 1.2) & (d <= 1.7)]
    for _ in range(tries):
        target = _target_hu(label, rng, contrast)
        if not ring.size or float(
                np.mean(np.abs(ring - target) >= 0.5 * contrast[0])
        ) >= min_fraction:
            return target
    return None


class _SeriesPlan:
    """Everything needed to write one series and its CSV rows."""

    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def _sample_size(rng: np.random.Generator, spacing: float,
                 diameter_mm: Tuple[float, float],
                 min_px: float) -> Tuple[float, float]:
    lo = max(diameter_mm[0], min_px * spacing)
    hi = max(diameter_mm[1], lo * 1.5)
    long_d = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    short_d = long_d * float(rng.uniform(0.55, 1.0))
    short_d = max(short_d, min(long_d, min_px * spacing))
    return long_d / 2, short_d / 2


def make_synthetic_deeplesion(out_dir: str,
                              num_patients: Optional[int] = None,
                              image_size: Optional[int] = None,
                              seed: int = 0,
                              preset: str = 'demo',
                              **overrides) -> dict:
    """Write a synthetic DeepLesion dataset in the official on-disk format.

    Output: ``out_dir/Images_png/<PPPPPP_SS_ss>/<NNN>.png`` (uint16, pixel =
    HU + 32768; only the slices within the ``Slice_range`` runs, like the
    real folders), ``out_dir/DL_info.csv`` (18 official columns) and
    ``out_dir/synthetic_truth.json`` (3D lesions and tubes per series).

    Args:
        out_dir (str): Output folder (created; existing files overwritten).
        num_patients (int, optional): Number of patients (preset default).
        image_size (int, optional): Rows = columns of every slice.
        seed (int): Random seed; the output is a function of all arguments.
        preset (str): One of :data:`PRESETS` ('demo', 'bench', 'large').
        **overrides: Any preset key: ``studies_per_patient`` (min, max),
            ``series_per_study`` (min, max), ``keys_per_series`` (min, max),
            ``slice_intervals`` ((mm, probability), ...),
            ``cycle_intervals`` (bool: alternate the intervals instead of
            sampling), ``split_fractions`` (train, val, test),
            ``context_mm`` (30: half length of the slice run around a key
            slice), ``lesion_diameter_mm`` ((5, 40)), ``lesion_contrast_hu``
            ((40, 120): lesion minus tissue HU in soft tissue and organs,
            either sign), ``min_lesion_px`` (6),
            ``tubes_per_series`` ((1, 3)), ``multi_lesion_prob`` (0.3: a
            second lesion on a key slice), ``noisy_fraction`` (0.02),
            ``series_length_mm`` ((220, 380)), ``noise_hu`` ((10, 20)),
            ``fov_fill`` ((0.98, 1.1): field of view / body width).

    Returns:
        dict: Summary: ``out_dir``, ``csv``, ``image_size``,
        ``pixel_spacing`` (min, max mm), ``patients``, ``studies``,
        ``series``, ``slices`` (PNG files), ``series_with_gaps`` (series
        whose folder holds disjoint slice runs), ``tubes``,
        ``slice_intervals`` (Counter over series), ``splits`` ({name:
        dict(patients, images, lesions, noisy, types)}).
    """
    if preset not in PRESETS:
        raise ValueError(
            f'unknown preset {preset!r}; choose from {sorted(PRESETS)}')
    cfg = dict(
        context_mm=30.0,
        lesion_diameter_mm=(5.0, 40.0),
        lesion_contrast_hu=(40.0, 120.0),
        min_lesion_px=6.0,
        tubes_per_series=(1, 3),
        multi_lesion_prob=0.3,
        noisy_fraction=0.02,
        series_length_mm=(220.0, 380.0),
        noise_hu=(10.0, 20.0),
        fov_fill=(0.98, 1.1),
        cycle_intervals=False)
    cfg.update(PRESETS[preset])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise TypeError(f'unknown arguments {sorted(unknown)}')
    cfg.update(overrides)
    if num_patients is not None:
        cfg['num_patients'] = num_patients
    if image_size is not None:
        cfg['image_size'] = image_size
    n_pat, size = int(cfg['num_patients']), int(cfg['image_size'])
    if n_pat < 1 or size < 32:
        raise ValueError('num_patients must be >= 1 and image_size >= 32, '
                         f'got {n_pat} and {size}')

    rng = np.random.default_rng(seed)
    # patient-level split
    fr = np.asarray(cfg['split_fractions'], float)
    fr = fr / fr.sum()
    counts = np.floor(fr * n_pat).astype(int)
    for i in np.argsort(-(fr * n_pat - counts))[:n_pat - counts.sum()]:
        counts[i] += 1
    split_of = np.repeat([1, 2, 3], counts)
    rng.shuffle(split_of)

    intervals = [float(v) for v, _ in cfg['slice_intervals']]
    probs = np.asarray([p for _, p in cfg['slice_intervals']], float)
    probs /= probs.sum()
    type_p = _TYPE_WEIGHTS / _TYPE_WEIGHTS.sum()
    type_queue: Dict[int, List[int]] = {
        s: list(rng.permutation(8) + 1)
        for s in (1, 2, 3)
    }
    series_counter = 0
    plans: List[_SeriesPlan] = []
    patients = []
    for p in range(1, n_pat + 1):
        split = int(split_of[p - 1])
        gender = 'F' if rng.random() < 0.5 else 'M'
        age = None if rng.random() < 0.05 else float(rng.integers(18, 90))
        patients.append(dict(patient=p, split=split, gender=gender, age=age))
        n_studies = int(rng.integers(cfg['studies_per_patient'][0],
                                     cfg['studies_per_patient'][1] + 1))
        patient_rng = np.random.default_rng([seed, p])
        for st in range(1, n_studies + 1):
            phantom = Phantom(np.random.default_rng([seed, p, st]))
            fov = 2 * 175 * phantom.scale * patient_rng.uniform(
                *cfg['fov_fill'])
            spacing = float(format_number(fov / size))
            n_series = int(rng.integers(cfg['series_per_study'][0],
                                        cfg['series_per_study'][1] + 1))
            for se in range(1, n_series + 1):
                if cfg['cycle_intervals']:
                    dz = intervals[series_counter % len(intervals)]
                else:
                    dz = float(rng.choice(intervals, p=probs))
                series_counter += 1
                plan = _plan_series(rng, cfg, phantom, p, st, se, split, dz,
                                    spacing, size, type_queue, type_p)
                if plan is not None:
                    plan.gender, plan.age = gender, age
                    plans.append(plan)

    # a few lesions flagged Possibly_noisy (at least one per split with
    # >= 10 lesions)
    for split in (1, 2, 3):
        lesions = [les for pl in plans if pl.split == split
                   for les in pl.lesions]
        if not lesions:
            continue
        n_noisy = int(round(cfg['noisy_fraction'] * len(lesions)))
        if len(lesions) >= 10:
            n_noisy = max(n_noisy, 1)
        for i in rng.choice(len(lesions), size=n_noisy, replace=False):
            lesions[int(i)]['noisy'] = 1

    img_root = osp.join(out_dir, 'Images_png')
    os.makedirs(img_root, exist_ok=True)
    records, truth = [], []
    n_slices = 0
    for plan in plans:
        n_slices += _write_series(plan, img_root, seed, cfg)
        records.extend(_csv_records(plan))
        truth.append(
            dict(
                series=plan.series,
                slice_interval=plan.dz,
                spacing=plan.spacing,
                z0=plan.z0,
                runs=plan.runs,
                lesions=plan.lesions,
                tubes=plan.tubes))
    csv_path = osp.join(out_dir, 'DL_info.csv')
    write_deeplesion_csv(records, csv_path)
    with open(osp.join(out_dir, 'synthetic_truth.json'), 'w') as f:
        json.dump(dict(seed=seed, preset=preset, config=cfg, series=truth),
                  f,
                  default=float)

    splits = {}
    for code, name in SPLITS.items():
        recs = [r for r in records if r['split'] == code]
        splits[name] = dict(
            patients=int(sum(1 for pt in patients if pt['split'] == code)),
            images=len({r['file_name'] for r in recs}),
            lesions=len(recs),
            noisy=sum(r['noisy'] for r in recs),
            types=dict(
                sorted(
                    Counter(LESION_TYPES[r['true_type'] - 1]
                            for r in recs).items())))
    spacings = [pl.spacing for pl in plans] or [0.0]
    return dict(
        out_dir=out_dir,
        csv=csv_path,
        image_size=size,
        pixel_spacing=(min(spacings), max(spacings)),
        patients=n_pat,
        studies=len({(pl.patient, pl.study) for pl in plans}),
        series=len(plans),
        slices=n_slices,
        series_with_gaps=sum(1 for pl in plans if len(pl.runs) > 1),
        tubes=sum(len(pl.tubes) for pl in plans),
        slice_intervals=dict(Counter(pl.dz for pl in plans)),
        splits=splits)


def _plan_series(rng, cfg, phantom, patient, study, series_id, split, dz,
                 spacing, size, type_queue, type_p) -> Optional[_SeriesPlan]:
    """Choose the z extent, key slices, lesions and tubes of one series."""
    x, y = _grid(size, spacing)
    length = float(rng.uniform(*cfg['series_length_mm']))
    n_total = int(length // dz) + 1
    length = (n_total - 1) * dz

    def next_type(z_lo=None, z_hi=None):
        queue = type_queue[split]
        for i, t in enumerate(queue):
            lo, hi = _TYPE_Z[t]
            if z_lo is None or (lo < z_hi and hi > z_lo):
                return int(queue.pop(i))
        ok = [
            t for t in range(1, 9) if z_lo is None
            or (_TYPE_Z[t][0] < z_hi and _TYPE_Z[t][1] > z_lo)
        ]
        w = type_p[np.array(ok) - 1]
        return int(rng.choice(ok, p=w / w.sum()))

    first = next_type()
    zc = float(rng.uniform(*_TYPE_Z[first]))
    z0 = zc - float(rng.uniform(0.15, 0.85)) * length
    z_lo, z_hi = z0 + 0.05 * length, z0 + 0.95 * length

    cache = {}

    def anatomy(k):
        if k not in cache:
            z = z0 + (k - 1) * dz
            clean, labels, geo = phantom.render(x, y, z)
            xr, yr = x - geo['cx'], y - geo['cy']
            r_in = _ellipse(xr, yr, 0, 0, geo['ix'], geo['iy'])
            cache[k] = (labels, r_in, xr, geo, clean)
        return cache[k]

    def place(t, k, others):
        labels, r_in, xr, geo, clean = anatomy(k)
        mask = _type_mask(t, labels, r_in, xr, geo).astype(np.uint8)
        a, b = _sample_size(rng, spacing, cfg['lesion_diameter_mm'],
                            cfg['min_lesion_px'])
        # bone lesions may break through the cortex
        shrink = 0.3 if t == 1 else 0.8
        for _ in range(4):
            rad = max(1, int(round(shrink * b / spacing)))
            kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                             (2 * rad + 1, 2 * rad + 1))
            ok = cv2.erode(mask, kern)
            # keep the whole RECIST + 5 px box inside the image
            m = int(np.ceil(a / spacing)) + 6
            ok[:m, :] = 0
            ok[-m:, :] = 0
            ok[:, :m] = 0
            ok[:, -m:] = 0
            ys, xs = np.nonzero(ok)
            zc = z0 + (k - 1) * dz
            c = (a + b) / 2 * float(rng.uniform(0.7, 1.3))
            for _ in range(10 if len(xs) else 0):
                j = int(rng.integers(len(xs)))
                cx, cy = float(x[0, xs[j]]), float(y[ys[j], 0])
                if all(
                        np.hypot(cx - o['cx'], cy - o['cy']) > a + o['a'] +
                        3 or abs(zc - o['cz']) > c + o['c'] + 3
                        for o in others):
                    theta = float(rng.uniform(0, np.pi))
                    target = _visible_target(
                        int(labels[ys[j], xs[j]]), clean, x, y,
                        (cx, cy, a, b, theta), rng,
                        cfg['lesion_contrast_hu'])
                    if target is None:
                        continue
                    return dict(
                        type=t,
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

    lesions: List[dict] = []
    n_keys = int(rng.integers(cfg['keys_per_series'][0],
                              cfg['keys_per_series'][1] + 1))
    for i in range(n_keys):
        t = first if i == 0 else next_type(z_lo, z_hi)
        lo, hi = max(_TYPE_Z[t][0], z_lo), min(_TYPE_Z[t][1], z_hi)
        z = zc if i == 0 else float(rng.uniform(lo, max(lo, hi)))
        k = int(np.clip(round((z - z0) / dz) + 1, 1, n_total))
        les = place(t, k, lesions)
        if les is None:  # fall back to a soft-tissue lesion; the type stays
            if t not in type_queue[split]:  # queued for a later series
                type_queue[split].insert(0, t)
            les = place(7, k, lesions)
        if les is None:
            continue
        lesions.append(les)
        if rng.random() < cfg['multi_lesion_prob']:
            zk = z0 + (k - 1) * dz
            ok = [t2 for t2 in range(1, 9) if _TYPE_Z[t2][0] <= zk <=
                  _TYPE_Z[t2][1]]
            w = type_p[np.array(ok) - 1]
            t2 = int(rng.choice(ok, p=w / w.sum()))
            les2 = place(t2, k, lesions)
            if les2 is not None:
                lesions.append(les2)
    if not lesions:
        return None

    # vessel-like tubes along z, seen on the key slices
    tubes = []
    n_tubes = int(rng.integers(cfg['tubes_per_series'][0],
                               cfg['tubes_per_series'][1] + 1))
    for _ in range(n_tubes):
        ref = lesions[int(rng.integers(len(lesions)))]
        k = ref['key']
        labels, r_in, xr, geo, clean = anatomy(k)
        mask = (np.isin(labels, (SOFT, MESFAT, LIVER, LUNG)) &
                (r_in < 0.8)).astype(np.uint8)
        a, b = _sample_size(rng, spacing, cfg['lesion_diameter_mm'],
                            cfg['min_lesion_px'])
        rad = max(1, int(round(b / spacing)))
        mask = cv2.erode(
            mask,
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                      (2 * rad + 1, 2 * rad + 1)))
        ys, xs = np.nonzero(mask)
        if not len(xs):
            continue
        amp = rng.uniform(0, 8, size=2)
        wavelength = float(rng.uniform(150, 400))
        phase = rng.uniform(0, 2 * np.pi, size=2)
        for _ in range(20):
            j = int(rng.integers(len(xs)))
            tube = dict(
                x0=float(x[0, xs[j]]),
                y0=float(y[ys[j], 0]),
                zref=ref['cz'],
                amp=[float(v) for v in amp],
                wavelength=wavelength,
                phase=[float(v) for v in phase],
                a=a,
                b=b,
                theta=float(rng.uniform(0, np.pi)))
            clear = True
            for o in lesions + tubes:
                if 'key' in o:
                    tx, ty = tube_centre(tube, o['cz'])
                    d, ra = np.hypot(tx - o['cx'], ty - o['cy']), o['a']
                else:
                    tx, ty = tube_centre(tube, tube['zref'])
                    ox, oy = tube_centre(o, tube['zref'])
                    d, ra = np.hypot(tx - ox, ty - oy), o['a']
                if d < a + ra + 4:
                    clear = False
                    break
            if not clear:
                continue
            target = _visible_target(
                int(labels[ys[j], xs[j]]), clean, x, y,
                (tube['x0'], tube['y0'], a, b, tube['theta']), rng,
                cfg['lesion_contrast_hu'])
            if target is not None:
                tube['target'] = target
                tubes.append(tube)
                break

    # slice runs: key +- context, merged where they touch
    m = int(round(cfg['context_mm'] / dz))
    spans = sorted((max(1, les['key'] - m), min(n_total, les['key'] + m))
                   for les in lesions)
    runs = [list(spans[0])]
    for lo, hi in spans[1:]:
        if lo <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], hi)
        else:
            runs.append([lo, hi])
    window = _choose_window(rng, first)
    return _SeriesPlan(
        patient=patient,
        study=study,
        series_id=series_id,
        series=series_name(patient, study, series_id),
        split=split,
        dz=dz,
        spacing=spacing,
        size=size,
        z0=z0,
        n_total=n_total,
        phantom=phantom,
        lesions=lesions,
        tubes=tubes,
        runs=runs,
        window=window,
        noise=float(rng.uniform(*cfg['noise_hu'])))


def tube_centre(tube: dict, z: float) -> Tuple[float, float]:
    """In-plane centre (mm) of a tube at height ``z``."""
    out = []
    for i, c0 in enumerate((tube['x0'], tube['y0'])):
        ph = tube['phase'][i]
        out.append(c0 + tube['amp'][i] *
                   (np.sin(2 * np.pi * (z - tube['zref']) /
                           tube['wavelength'] + ph) - np.sin(ph)))
    return float(out[0]), float(out[1])


def _choose_window(rng, first_type) -> Tuple[float, float]:
    if first_type == 5 and rng.random() < 0.7:
        return _LUNG_WINDOWS[int(rng.integers(len(_LUNG_WINDOWS)))]
    p = np.array([w for _, w in _ABDOMEN_WINDOWS])
    return _ABDOMEN_WINDOWS[int(rng.choice(len(p), p=p / p.sum()))][0]


def render_series_slice(plan: _SeriesPlan, k: int, seed: int) -> np.ndarray:
    """Render slice ``k`` of a planned series as HU (float32, with noise)."""
    x, y = _grid(plan.size, plan.spacing)
    z = plan.z0 + (k - 1) * plan.dz
    hu, _, _ = plan.phantom.render(x, y, z)
    for les in plan.lesions:
        dzn = (z - les['cz']) / les['c']
        if abs(dzn) >= 1.3:
            continue
        d2 = _ellipse(x, y, les['cx'], les['cy'], les['a'], les['b'],
                      les['theta']) + dzn**2
        s = blob_profile(np.sqrt(d2), les['b'])
        hu += s * (les['target'] - hu)
    for tube in plan.tubes:
        tx, ty = tube_centre(tube, z)
        d2 = _ellipse(x, y, tx, ty, tube['a'], tube['b'], tube['theta'])
        s = blob_profile(np.sqrt(d2), tube['b'])
        hu += s * (tube['target'] - hu)
    rng = np.random.default_rng(
        [seed, plan.patient, plan.study, plan.series_id, k])
    noise = rng.standard_normal(hu.shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
    noise *= plan.noise / max(float(noise.std()), 1e-6)
    hu += noise
    return np.clip(hu, -1024, 3071)


def _write_series(plan: _SeriesPlan, img_root: str, seed: int,
                  cfg: dict) -> int:
    folder = osp.join(img_root, plan.series)
    os.makedirs(folder, exist_ok=True)
    n = 0
    for lo, hi in plan.runs:
        for k in range(lo, hi + 1):
            hu = render_series_slice(plan, k, seed)
            png = np.round(hu + HU_OFFSET).astype(np.uint16)
            if not cv2.imwrite(
                    osp.join(folder, slice_file_name(k)), png,
                [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise OSError(f'cannot write {folder}/{slice_file_name(k)}')
            n += 1
    return n


def _csv_records(plan: _SeriesPlan) -> List[dict]:
    recs = []
    size, sp = plan.size, plan.spacing
    for les in sorted(plan.lesions, key=lambda d: d['key']):
        cx = _to_px(les['cx'], size, sp)
        cy = _to_px(les['cy'], size, sp)
        ca, sa = np.cos(les['theta']), np.sin(les['theta'])
        la, lb = les['a'] / sp, les['b'] / sp
        recist = [
            cx - la * ca, cy - la * sa, cx + la * ca, cy + la * sa,
            cx + lb * sa, cy - lb * ca, cx - lb * sa, cy + lb * ca
        ]
        recist = [round(v, 3) for v in recist]
        xs, ys = recist[0::2], recist[1::2]
        box = [
            max(0.0,
                min(xs) - 5),
            max(0.0,
                min(ys) - 5),
            min(size - 1.0,
                max(xs) + 5),
            min(size - 1.0,
                max(ys) + 5)
        ]
        run = next(r for r in plan.runs if r[0] <= les['key'] <= r[1])
        recs.append(
            dict(
                series=plan.series,
                file_name=f'{plan.series}/{slice_file_name(les["key"])}',
                patient=plan.patient,
                study=plan.study,
                series_id=plan.series_id,
                key_slice=les['key'],
                recist=recist,
                bbox_xyxy=box,
                diameters=[round(2 * la, 4),
                           round(2 * lb, 4)],
                location=[
                    round(cx / size, 6),
                    round(cy / size, 6),
                    round(
                        float(np.clip(les['cz'] / BODY_LENGTH_MM, 0, 1)), 6)
                ],
                lesion_type=-1 if plan.split == 1 else les['type'],
                true_type=les['type'],
                noisy=les['noisy'],
                slice_range=list(run),
                spacing=[sp, sp, plan.dz],
                height=size,
                width=size,
                dicom_window=list(plan.window),
                gender=plan.gender,
                age=plan.age,
                split=plan.split))
    return recs
