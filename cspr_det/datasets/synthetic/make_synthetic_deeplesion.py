"""Synthetic DeepLesion: CT-like series and a ``DL_info.csv`` in the official
format, so the whole DeepLesion pipeline runs and can be tested anywhere.

Every patient gets an analytic body phantom (:class:`Phantom`); every series
is a stack of slices through it at 1, 2 or 5 mm. Lesions are soft-edged 3D
ellipsoids whose centre lies on the key slice; vessel-like tubes with the
same cross-section (size, shape, contrast) run along z through the whole
series, so on a single slice a tube looks exactly like a lesion and only the
neighbouring slices tell them apart.

The work is split over: :mod:`.presets` (settings), :mod:`.series_plan` and
:mod:`.lesion_placement` (planning), :mod:`.render` (slices) and
:mod:`.writers` (PNG, CSV and JSON output); this module draws the patients,
studies and series and puts them together.
"""
import os
import os.path as osp
from collections import Counter
from typing import List, Optional, Tuple

import numpy as np

from ..deeplesion_csv import (LESION_TYPES, SPLITS, format_number,
                              write_deeplesion_csv)
from .lesion_placement import LesionTypeSampler
from .phantom import Phantom
from .presets import PRESETS, resolve_config
from .render import render_series_slice, tube_centre
from .series_plan import SeriesPlan, SeriesPlanner
from .subvolumes import write_synthetic_subvolumes
from .writers import series_records, write_series_pngs, write_truth_json

__all__ = [
    'PRESETS', 'make_synthetic_deeplesion', 'render_series_slice',
    'tube_centre'
]


def make_synthetic_deeplesion(out_dir: str,
                              num_patients: Optional[int] = None,
                              image_size: Optional[int] = None,
                              seed: int = 0,
                              preset: str = 'demo',
                              subvolumes: bool = False,
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
        subvolumes (bool): Also write the DeepLesion 3D benchmark of the
            val and test series into ``out_dir/deeplesion3d`` (sub-volume
            NIfTI files and fully annotated 3D boxes, see
            :func:`~.subvolumes.write_synthetic_subvolumes`).
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
        dict(patients, images, lesions, noisy, types)}); with
        ``subvolumes``, ``subvolumes`` ({split: dict(subvolumes, boxes,
        empty)}).
    """
    cfg = resolve_config(preset, num_patients, image_size, **overrides)
    rng = np.random.default_rng(seed)
    split_of = _patient_splits(rng, cfg['split_fractions'],
                               int(cfg['num_patients']))
    planner = SeriesPlanner(rng, cfg, LesionTypeSampler(rng))
    plans, patients = _plan_patients(rng, cfg, seed, split_of, planner)
    _flag_noisy(rng, plans, cfg['noisy_fraction'])

    img_root = osp.join(out_dir, 'Images_png')
    os.makedirs(img_root, exist_ok=True)
    records: List[dict] = []
    n_slices = 0
    for plan in plans:
        n_slices += write_series_pngs(plan, img_root, seed)
        records.extend(series_records(plan))
    csv_path = osp.join(out_dir, 'DL_info.csv')
    write_deeplesion_csv(records, csv_path)
    write_truth_json(
        osp.join(out_dir, 'synthetic_truth.json'), seed, preset, cfg, plans)

    spacings = [pl.spacing for pl in plans] or [0.0]
    summary = dict(
        out_dir=out_dir,
        csv=csv_path,
        image_size=int(cfg['image_size']),
        pixel_spacing=(min(spacings), max(spacings)),
        patients=int(cfg['num_patients']),
        studies=len({(pl.patient, pl.study)
                     for pl in plans}),
        series=len(plans),
        slices=n_slices,
        series_with_gaps=sum(1 for pl in plans if len(pl.runs) > 1),
        tubes=sum(len(pl.tubes) for pl in plans),
        slice_intervals=dict(Counter(pl.dz for pl in plans)),
        splits=_split_summary(records, patients))
    if subvolumes:
        summary['subvolumes'] = write_synthetic_subvolumes(
            plans, img_root, osp.join(out_dir, 'deeplesion3d'))
    return summary


def _patient_splits(rng: np.random.Generator, fractions: Tuple[float, ...],
                    n_pat: int) -> np.ndarray:
    """Official split code (1/2/3) of every patient: the counts follow
    ``fractions`` (largest remainders), the order is shuffled."""
    fr = np.asarray(fractions, float)
    fr = fr / fr.sum()
    counts = np.floor(fr * n_pat).astype(int)
    for i in np.argsort(-(fr * n_pat - counts))[:n_pat - counts.sum()]:
        counts[i] += 1
    split_of = np.repeat([1, 2, 3], counts)
    rng.shuffle(split_of)
    return split_of


def _plan_patients(
        rng: np.random.Generator, cfg: dict, seed: int, split_of: np.ndarray,
        planner: SeriesPlanner) -> Tuple[List[SeriesPlan], List[dict]]:
    """Draw every patient (gender, age, studies) and plan their series.

    Returns:
        tuple: The series plans (series without a placeable lesion are
        left out) and one ``dict(patient, split, gender, age)`` per patient.
    """
    intervals = [float(v) for v, _ in cfg['slice_intervals']]
    probs = np.asarray([p for _, p in cfg['slice_intervals']], float)
    probs /= probs.sum()
    size = int(cfg['image_size'])
    series_counter = 0
    plans: List[SeriesPlan] = []
    patients = []
    for p in range(1, int(cfg['num_patients']) + 1):
        split = int(split_of[p - 1])
        gender = 'F' if rng.random() < 0.5 else 'M'
        age = None if rng.random() < 0.05 else float(rng.integers(18, 90))
        patients.append(dict(patient=p, split=split, gender=gender, age=age))
        n_studies = int(
            rng.integers(cfg['studies_per_patient'][0],
                         cfg['studies_per_patient'][1] + 1))
        patient_rng = np.random.default_rng([seed, p])
        for st in range(1, n_studies + 1):
            # the anatomy and field of view come from their own generators,
            # so they do not depend on the other patients
            phantom = Phantom(np.random.default_rng([seed, p, st]))
            fov = 2 * 175 * phantom.scale * patient_rng.uniform(
                *cfg['fov_fill'])
            spacing = float(format_number(fov / size))
            n_series = int(
                rng.integers(cfg['series_per_study'][0],
                             cfg['series_per_study'][1] + 1))
            for se in range(1, n_series + 1):
                if cfg['cycle_intervals']:
                    dz = intervals[series_counter % len(intervals)]
                else:
                    dz = float(rng.choice(intervals, p=probs))
                series_counter += 1
                plan = planner.plan(phantom, (p, st, se), split, dz, spacing,
                                    gender, age)
                if plan is not None:
                    plans.append(plan)
    return plans, patients


def _flag_noisy(rng: np.random.Generator, plans: List[SeriesPlan],
                fraction: float) -> None:
    """Flag ``fraction`` of each split's lesions ``Possibly_noisy`` (at
    least one in a split with 10 lesions or more), in place."""
    for split in (1, 2, 3):
        lesions = [
            les for pl in plans if pl.split == split for les in pl.lesions
        ]
        if not lesions:
            continue
        n_noisy = int(round(fraction * len(lesions)))
        if len(lesions) >= 10:
            n_noisy = max(n_noisy, 1)
        for i in rng.choice(len(lesions), size=n_noisy, replace=False):
            lesions[int(i)]['noisy'] = 1


def _split_summary(records: List[dict], patients: List[dict]) -> dict:
    """Patients, images, lesions, noisy lesions and lesion types per
    split."""
    splits = {}
    for code, name in SPLITS.items():
        recs = [r for r in records if r['split'] == code]
        splits[name] = dict(
            patients=int(sum(1 for pt in patients if pt['split'] == code)),
            images=len({r['file_name']
                        for r in recs}),
            lesions=len(recs),
            noisy=sum(r['noisy'] for r in recs),
            types=dict(
                sorted(
                    Counter(LESION_TYPES[r['true_type'] - 1]
                            for r in recs).items())))
    return splits
