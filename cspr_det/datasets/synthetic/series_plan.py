"""Planning one synthetic DeepLesion series: z extent, key slices, lesions,
tubes, stored slice runs, DICOM window and noise level."""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..deeplesion_csv import series_name
from .lesion_placement import (TYPE_Z, LesionTypeSampler, SliceAnatomy,
                               place_lesion, place_tube)
from .phantom import Phantom, pixel_grid

_ABDOMEN_WINDOWS = (((-175, 275), 0.8), ((-160, 240), 0.08),
                    ((-182.5, 322.5), 0.06), ((-177.5, 307.5), 0.06))
_LUNG_WINDOWS = ((-1500, 500), (-1400, 200))


@dataclass
class SeriesPlan:
    """Everything needed to write one series and its ``DL_info.csv`` rows.

    Attributes:
        patient, study, series_id (int): 1-based indices.
        series (str): Folder name ``%06d_%02d_%02d``.
        split (int): 1 train, 2 val, 3 test.
        dz (float): Slice interval (mm).
        spacing (float): Pixel size (mm).
        size (int): Rows = columns.
        z0 (float): Body height of slice 1 (mm), the top slice: as in
            DeepLesion, slice ``k`` lies at ``z0 - (k - 1) * dz``, a
            higher slice number further toward the feet.
        n_total (int): Number of slices of the whole series.
        phantom (Phantom): The study's anatomy.
        lesions (list[dict]): Lesions (see :mod:`.lesion_placement`).
        tubes (list[dict]): Vessel-like tubes.
        runs (list[list[int]]): Stored slice runs ``[first, last]``.
        window (tuple[float, float]): DICOM window (min, max HU).
        noise (float): Noise standard deviation (HU).
        gender (str): 'F' or 'M'.
        age (float | None): Patient age.
    """
    patient: int
    study: int
    series_id: int
    series: str
    split: int
    dz: float
    spacing: float
    size: int
    z0: float
    n_total: int
    phantom: Phantom
    lesions: List[dict]
    tubes: List[dict]
    runs: List[List[int]]
    window: Tuple[float, float]
    noise: float
    gender: str
    age: Optional[float]


def slice_runs(keys: Sequence[int], n_total: int,
               context: int) -> List[List[int]]:
    """Stored slices: ``key +- context`` around every key slice (within
    ``1..n_total``), merged where they touch, in increasing order."""
    spans = sorted(
        (max(1, k - context), min(n_total, k + context)) for k in keys)
    runs = [list(spans[0])]
    for lo, hi in spans[1:]:
        if lo <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], hi)
        else:
            runs.append([lo, hi])
    return runs


def choose_window(rng: np.random.Generator,
                  first_type: int) -> Tuple[float, float]:
    """DICOM window of a series: mostly a lung window when its first lesion
    is a lung lesion, otherwise one of the usual abdomen windows."""
    if first_type == 5 and rng.random() < 0.7:
        return _LUNG_WINDOWS[int(rng.integers(len(_LUNG_WINDOWS)))]
    p = np.array([w for _, w in _ABDOMEN_WINDOWS])
    return _ABDOMEN_WINDOWS[int(rng.choice(len(p), p=p / p.sum()))][0]


class SeriesPlanner:
    """Plans the series of one synthetic dataset.

    Args:
        rng (np.random.Generator): The dataset's generator; every draw of
            the planning comes from it, in a fixed order.
        cfg (dict): Generator settings (:func:`~.presets.resolve_config`).
        types (LesionTypeSampler): Lesion types, shared by all series.
    """

    def __init__(self, rng: np.random.Generator, cfg: dict,
                 types: LesionTypeSampler) -> None:
        self.rng, self.cfg, self.types = rng, cfg, types

    def plan(self, phantom: Phantom, ids: Tuple[int, int, int], split: int,
             dz: float, spacing: float, gender: str,
             age: Optional[float]) -> Optional[SeriesPlan]:
        """Choose the z extent, key slices, lesions and tubes of a series.

        Args:
            phantom (Phantom): The study's anatomy.
            ids (tuple[int, int, int]): Patient, study and series indices.
            split (int): Official split code of the patient.
            dz (float): Slice interval (mm).
            spacing (float): Pixel size (mm).
            gender (str): Patient gender.
            age (float | None): Patient age.

        Returns:
            SeriesPlan | None: The plan, or None when no lesion could be
            placed.
        """
        rng, cfg, size = self.rng, self.cfg, int(self.cfg['image_size'])
        x, y = pixel_grid(size, spacing)
        length = float(rng.uniform(*cfg['series_length_mm']))
        n_total = int(length // dz) + 1
        length = (n_total - 1) * dz
        first = self.types.next(split)
        zc = float(rng.uniform(*TYPE_Z[first]))
        # slice 1 is the top slice; zc lies 15-85 % of the way up
        z0 = zc + (1.0 - float(rng.uniform(0.15, 0.85))) * length
        anatomy = SliceAnatomy(phantom, x, y, z0, dz)
        lesions = self._plan_lesions(anatomy, split, first, zc, length,
                                     n_total, spacing)
        if not lesions:
            return None
        tubes: List[dict] = []
        n_tubes = int(
            rng.integers(cfg['tubes_per_series'][0],
                         cfg['tubes_per_series'][1] + 1))
        for _ in range(n_tubes):
            tube = place_tube(rng, anatomy, lesions, tubes, spacing, cfg)
            if tube is not None:
                tubes.append(tube)
        runs = slice_runs([les['key'] for les in lesions], n_total,
                          int(round(cfg['context_mm'] / dz)))
        window = choose_window(rng, first)
        patient, study, series_id = ids
        return SeriesPlan(
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
            noise=float(rng.uniform(*cfg['noise_hu'])),
            gender=gender,
            age=age)

    def _plan_lesions(self, anatomy: SliceAnatomy, split: int, first: int,
                      zc: float, length: float, n_total: int,
                      spacing: float) -> List[dict]:
        """Lesions on ``keys_per_series`` key slices: the first of type
        ``first`` at height ``zc``, the others inside the series; a type
        that cannot be placed falls back to soft tissue (and stays queued),
        and a key slice gets a second lesion with ``multi_lesion_prob``."""
        rng, cfg, dz, z0 = self.rng, self.cfg, anatomy.dz, anatomy.z0
        z_lo, z_hi = z0 - 0.95 * length, z0 - 0.05 * length
        lesions: List[dict] = []
        n_keys = int(
            rng.integers(cfg['keys_per_series'][0],
                         cfg['keys_per_series'][1] + 1))
        for i in range(n_keys):
            t = first if i == 0 else self.types.next(split, z_lo, z_hi)
            lo, hi = max(TYPE_Z[t][0], z_lo), min(TYPE_Z[t][1], z_hi)
            z = zc if i == 0 else float(rng.uniform(lo, max(lo, hi)))
            k = int(np.clip(round((z0 - z) / dz) + 1, 1, n_total))
            les = place_lesion(rng, anatomy, t, k, lesions, spacing, cfg)
            if les is None:  # fall back to a soft-tissue lesion; the type
                self.types.requeue(split, t)  # stays for a later series
                les = place_lesion(rng, anatomy, 7, k, lesions, spacing, cfg)
            if les is None:
                continue
            lesions.append(les)
            if rng.random() < cfg['multi_lesion_prob']:
                t2 = self.types.draw_at(anatomy.z(k))
                les2 = place_lesion(rng, anatomy, t2, k, lesions, spacing, cfg)
                if les2 is not None:
                    lesions.append(les2)
        return lesions
