"""Synthetic LIDC-IDRI nodule crops in the layout of the community release.

Writes ``<out>/nodule/lidcP_K.npz`` (``voxel``: a crop_size^3 uint8 crop at
1 mm, ``answer1`` ... ``answer4``: reader masks, empty for readers who did
not mark the nodule), ``<out>/lidc_nodule_info_new_with_subset.csv`` (the
columns of the real table) and ``<out>/train_test_split.csv`` (a
**nodule-level** split, so it leaks patients like the real one, with a few
repeated test rows), plus ``<out>/synthetic_truth.json`` (per-nodule
generator parameters).

Every nodule sits in a lung of the analytic body phantom of the synthetic
DeepLesion (:class:`~.phantom.Phantom`: lung parenchyma with texture, chest
wall, heart, ribs), crossed by vessels, blurred and noisy. Shapes are
spheroid, lobulated or spiculated (:mod:`.lidc_nodule_shapes`), some
calcified or ground-glass; the readers' malignancy ratings scatter around a
latent malignancy that grows with the size and the margin irregularity
(:func:`~.lidc_nodule_rendering.sample_properties`). One "no annotation"
row without a crop is added, as in the real table.
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from ..lidc_metadata import INFO_CSV, SPLIT_CSV
from .lidc_nodule_rendering import (rating_mode, reader_masks, reader_ratings,
                                    render_nodule_crop, sample_properties)
from .phantom import Phantom

#: Generator presets; keyword arguments override them.
PRESETS: Dict[str, dict] = dict(
    # `make demo-lidc`: a classifier trains in minutes on 2 CPU cores
    demo=dict(num_patients=260, crop_size=58, nodules_per_patient=(1, 3)),
    # tests: a handful of small crops
    tiny=dict(num_patients=8, crop_size=52, nodules_per_patient=(1, 3)),
    # LIDC-like size (about 870 patients, 2,600 nodules)
    large=dict(num_patients=870, crop_size=64, nodules_per_patient=(1, 5)),
)

INFO_COLUMNS = ('index', 'uid', 'scan', 'name', 'roi', 'volume', 'diameter_mm',
                'coordZ', 'coordY', 'coordX', 'spacingZ', 'spacingY',
                'spacingX', 'nodIDs1', 'nodIDs2', 'nodIDs3', 'nodIDs4',
                'subtlety', 'internalStructure', 'calcification', 'sphericity',
                'margin', 'lobulation', 'spiculation', 'texture', 'malignancy',
                'malignancy_mode', 'subset', 'remark')


def _reader_string(values: List[int]) -> str:
    """One character per reader, ``x`` for readers without a rating."""
    return ''.join(str(v) for v in values) + 'x' * (4 - len(values))


def _descriptors(props: dict, n: int) -> Dict[str, str]:
    """LIDC descriptor ratings (same value for every present reader)."""
    kind = props['kind']
    values = dict(
        subtlety=5 if props['diameter_mm'] > 10 else 3,
        internalStructure=1,
        calcification=3 if props['calcified'] else 6,
        sphericity=4 if kind == 'spheroid' else 3,
        margin=dict(spheroid=5, lobulated=3, spiculated=2)[kind],
        lobulation=dict(spheroid=1, lobulated=4, spiculated=3)[kind],
        spiculation=4 if kind == 'spiculated' else 1,
        texture=1 if props['ground_glass'] else 5)
    return {k: _reader_string([v] * n) for k, v in values.items()}


def _nodule_row(index: str, patient: int, scan: int, roi: int, props: dict,
                masks: List[np.ndarray], ratings: List[int], geo: dict,
                rng: np.random.Generator) -> Dict[str, object]:
    n = len(ratings)
    volume = float(masks[0].sum())
    row = dict(
        index=index,
        uid=f'LIDC-IDRI-{patient:04d}',
        scan=3000000 + scan,
        name=f'lidc{scan}',
        roi=roi,
        volume=f'{volume:.2f}',
        diameter_mm=f'{(6.0 * volume / np.pi) ** (1 / 3):.3f}',
        coordZ=int(geo['centre_mm'][0] / 2.5),
        coordY=int(geo['centre_mm'][1] / 0.7 + 256),
        coordX=int(geo['centre_mm'][2] / 0.7 + 256),
        spacingZ=2.5,
        spacingY=0.703125,
        spacingX=0.703125,
        malignancy=_reader_string(ratings),
        malignancy_mode=rating_mode(ratings),
        subset=f'subset{int(rng.integers(1, 6))}',
        remark='')
    for k in range(4):
        row[f'nodIDs{k + 1}'] = f'R{k + 1}_{index}' if k < n else ''
    row.update(_descriptors(props, n))
    return row


def _write_csv(path: str, header, rows: List[dict]) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _write_split(path: str, ids: List[str], test_fraction: float,
                 rng: np.random.Generator) -> Dict[str, List[str]]:
    """Nodule-level reference split; about 5 % of the test names repeat."""
    order = [ids[i] for i in rng.permutation(len(ids))]
    n_test = max(1, int(round(test_fraction * len(ids))))
    test, train = sorted(order[:n_test]), sorted(order[n_test:])
    test_rows = test + [t for t in test if rng.random() < 0.05]
    rows = []
    for i in range(max(len(train), len(test_rows))):
        rows.append({
            '': i,
            'train': f'{train[i]}.npz' if i < len(train) else '',
            'test': f'{test_rows[i]}.npz' if i < len(test_rows) else ''
        })
    _write_csv(path, ('', 'train', 'test'), rows)
    return dict(train=train, test=test)


def _patient_scans(rng: np.random.Generator, num_patients: int) -> list:
    """(patient number, scan numbers) with about 5 % of patients scanned
    twice (two ``name`` values, one ``uid``)."""
    out, scan = [], 0
    for p in range(1, num_patients + 1):
        scans = []
        for _ in range(2 if rng.random() < 0.05 else 1):
            scan += 1
            scans.append(scan)
        out.append((p, scans))
    return out


def make_synthetic_lidc(out_dir: str,
                        preset: str = 'demo',
                        num_patients: Optional[int] = None,
                        crop_size: Optional[int] = None,
                        seed: int = 0,
                        test_fraction: float = 0.2) -> Dict[str, object]:
    """Generate a synthetic LIDC nodule set (see the module docstring).

    Args:
        out_dir: Output folder (created).
        preset: ``'demo'``, ``'tiny'`` or ``'large'`` (:data:`PRESETS`).
        num_patients: Override the preset's number of patients.
        crop_size: Override the crop edge (voxels, >= 48 for the 48^3
            training crop with shifts).
        seed: Random seed; the same seed gives the same files.
        test_fraction: Nodule share of the reference split's test column.

    Returns:
        dict: ``patients``, ``nodules`` and ``malignancy_mode`` counts.
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown synthetic LIDC preset {preset!r}; choose '
                         f'from {sorted(PRESETS)}')
    cfg = dict(PRESETS[preset])
    num_patients = num_patients or cfg['num_patients']
    crop_size = crop_size or cfg['crop_size']
    if num_patients < 2:
        raise ValueError(f'num_patients must be >= 2, got {num_patients}')
    nodule_dir = osp.join(out_dir, 'nodule')
    os.makedirs(nodule_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    lo, hi = cfg['nodules_per_patient']
    for patient, scans in _patient_scans(rng, num_patients):
        phantom = Phantom(np.random.default_rng([seed, patient, 0]))
        for scan in scans:
            for roi in range(1, int(rng.integers(lo, hi + 1)) + 1):
                index = f'lidc{scan}_{roi}'
                nrng = np.random.default_rng([seed, scan, roi])
                props = sample_properties(nrng)
                voxel, field, geo = render_nodule_crop(nrng, phantom, props,
                                                       crop_size)
                num_readers = int(nrng.choice(4, p=(0.1, 0.15, 0.25, 0.5))) \
                    + 1
                masks = reader_masks(nrng, field, num_readers)
                ratings = reader_ratings(nrng, props['latent'], num_readers)
                np.savez_compressed(
                    osp.join(nodule_dir, f'{index}.npz'),
                    voxel=voxel,
                    **{
                        f'answer{k + 1}': m
                        for k, m in enumerate(masks)
                    })
                rows.append(
                    _nodule_row(index, patient, scan, roi, props, masks,
                                ratings, geo, rng))
                truth[index] = dict(
                    props,
                    ratings=ratings,
                    num_readers=num_readers,
                    centre_mm=list(geo['centre_mm']),
                    offset_mm=geo['offset_mm'])
    ids = [r['index'] for r in rows]
    split = _write_split(osp.join(out_dir, SPLIT_CSV), ids, test_fraction, rng)
    # a table row without a crop and without ratings, as in the real table
    last = rows[-1]
    rows.append(
        dict({k: ''
              for k in INFO_COLUMNS},
             index=f'{last["name"]}_'
             f'{int(last["roi"]) + 1}',
             uid=last['uid'],
             scan=last['scan'],
             name=last['name'],
             roi=int(last['roi']) + 1,
             malignancy='xxx',
             malignancy_mode=0,
             remark='no annotation'))
    _write_csv(osp.join(out_dir, INFO_CSV), INFO_COLUMNS, rows)
    with open(
            osp.join(out_dir, 'synthetic_truth.json'), 'w',
            encoding='utf-8') as f:
        json.dump(
            dict(seed=seed, preset=preset, crop_size=crop_size, nodules=truth),
            f,
            indent=1)
    modes = np.bincount([int(r['malignancy_mode']) for r in rows], minlength=6)
    return dict(
        patients=num_patients,
        nodules=len(ids),
        reference_split={
            k: len(v)
            for k, v in split.items()
        },
        malignancy_mode={m: int(modes[m])
                         for m in range(6)})


__all__ = ['INFO_COLUMNS', 'PRESETS', 'make_synthetic_lidc']
