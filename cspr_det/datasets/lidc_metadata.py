"""LIDC-IDRI nodule metadata: the per-nodule table, the malignancy label
protocol and the train/val/test splits (reference and patient-disjoint).

Files (the community nodule crops, ``<data_root>/``):

- ``lidc_nodule_info_new_with_subset.csv``: one row per nodule; columns
  ``index`` (``lidcP_K``, the npz stem), ``uid`` (patient,
  ``LIDC-IDRI-NNNN``), ``name`` (scan), ``diameter_mm``, ``malignancy``
  (one digit per reader, ``x`` for none), ``malignancy_mode``, ``subset``
  (a nodule-level fold), ...;
- ``train_test_split.csv``: columns ``,train,test`` of npz names
  (``lidc78_3.npz``); the test column repeats some names.

Classification labels (the two-class protocol of the ACS line of work):
nodules whose ``malignancy_mode`` is 3 are dropped, 1-2 are benign (0),
4-5 malignant (1); names are de-duplicated. On the shipped CSVs this gives
1,323 training nodules (986 benign / 337 malignant) and 310 test nodules
(246 / 64). A mode outside 1-5 (``0``: "no annotation") has no label for
either task.

The reference split is **nodule-level**: 268 patients (``uid``) have
nodules in both its train (796 patients) and test (340) columns (803 and
341 scan names), so it is kept only to compare with published numbers.
:func:`patient_disjoint_split` splits by patient instead (the default of
:class:`~cspr_det.datasets.LIDCNoduleDataset`).

Copies of the two CSVs ship in ``cspr_det/datasets/splits/lidc/``
(:data:`PACKAGED_INFO_CSV`, :data:`PACKAGED_SPLIT_CSV`).
"""
import csv
import math
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

INFO_CSV = 'lidc_nodule_info_new_with_subset.csv'
SPLIT_CSV = 'train_test_split.csv'
#: Folder of the packaged copies of the two CSVs.
PACKAGED_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'splits', 'lidc')
PACKAGED_INFO_CSV = osp.join(PACKAGED_DIR, INFO_CSV)
PACKAGED_SPLIT_CSV = osp.join(PACKAGED_DIR, SPLIT_CSV)

#: ``malignancy_mode`` -> class (0 benign, 1 malignant); 3 is dropped.
MALIGNANCY_LABELS = {1: 0, 2: 0, 4: 1, 5: 1}
#: Modes of annotated nodules (segmentation uses all of them).
ANNOTATED_MODES = (1, 2, 3, 4, 5)
TASKS = ('classification', 'segmentation')
SUBSETS = ('train', 'val', 'test')
_REQUIRED_COLUMNS = ('index', 'uid', 'malignancy_mode')


@dataclass(frozen=True)
class LIDCNodule:
    """One row of the nodule table.

    Attributes:
        index: Nodule id, the npz stem (``lidc1_1``).
        uid: Patient id (``LIDC-IDRI-0001``).
        scan: Scan name (``lidc1``; a patient may have two).
        malignancy_mode: Mode of the readers' malignancy ratings (0: none).
        diameter_mm: Nodule diameter (NaN when absent).
        fold: The ``subset`` column (a nodule-level fold).
    """
    index: str
    uid: str
    scan: str
    malignancy_mode: int
    diameter_mm: float
    fold: str


def malignancy_label(mode: int) -> Optional[int]:
    """Class of a ``malignancy_mode``: 0 (1-2), 1 (4-5) or None (3, 0)."""
    return MALIGNANCY_LABELS.get(int(mode))


def nodule_label(nodule: LIDCNodule, task: str) -> Optional[int]:
    """Label of ``nodule`` for ``task`` (None: the nodule is not used).

    Classification: :func:`malignancy_label`; segmentation: 1 for every
    annotated nodule (mode 1-5)."""
    if task not in TASKS:
        raise ValueError(f'LIDC task must be one of {TASKS}, got {task!r}')
    if task == 'classification':
        return malignancy_label(nodule.malignancy_mode)
    return 1 if nodule.malignancy_mode in ANNOTATED_MODES else None


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float('nan')


def read_nodule_info(path: str) -> Dict[str, LIDCNodule]:
    """Read ``lidc_nodule_info_new_with_subset.csv``.

    Args:
        path: The CSV file.

    Returns:
        dict: ``index`` -> :class:`LIDCNodule`, in file order.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A required column is missing, an ``index`` repeats or a
            ``malignancy_mode`` is not an integer (the row is named).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'LIDC nodule table not found: {path}')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        missing = [
            c for c in _REQUIRED_COLUMNS if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise ValueError(f'{path}: missing column(s) {missing}; found '
                             f'{reader.fieldnames}')
        out: Dict[str, LIDCNodule] = {}
        for line, row in enumerate(reader, 2):
            index = (row['index'] or '').strip()
            if not index:
                raise ValueError(f'{path}:{line}: empty nodule index')
            if index in out:
                raise ValueError(f'{path}:{line}: nodule {index} repeats')
            try:
                mode = int(float(row['malignancy_mode']))
            except (TypeError, ValueError):
                raise ValueError(
                    f'{path}:{line}: nodule {index} has malignancy_mode '
                    f'{row["malignancy_mode"]!r}, not an integer') from None
            out[index] = LIDCNodule(
                index=index,
                uid=(row['uid'] or '').strip(),
                scan=(row.get('name') or '').strip(),
                malignancy_mode=mode,
                diameter_mm=_float(row.get('diameter_mm')),
                fold=(row.get('subset') or '').strip())
    return out


def read_reference_split(path: str) -> Dict[str, List[str]]:
    """Read ``train_test_split.csv`` (npz names in ``train``/``test``).

    Returns:
        dict: ``train`` and ``test`` lists of nodule ids (npz stems),
        de-duplicated in file order.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'LIDC split file not found: {path}')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        if 'train' not in cols or 'test' not in cols:
            raise ValueError(f'{path}: expected train and test columns, '
                             f'found {cols}')
        split: Dict[str, List[str]] = dict(train=[], test=[])
        seen: Dict[str, set] = dict(train=set(), test=set())
        for row in reader:
            for part in ('train', 'test'):
                name = (row[part] or '').strip()
                if not name:
                    continue
                stem = name[:-4] if name.endswith('.npz') else name
                if stem not in seen[part]:
                    seen[part].add(stem)
                    split[part].append(stem)
    return split


def labelled(info: Dict[str, LIDCNodule],
             ids: Sequence[str],
             task: str,
             source: str = 'split') -> List[str]:
    """The ids of ``ids`` that have a label for ``task`` (order kept).

    Raises:
        ValueError: An id is not in the nodule table (named).
    """
    unknown = [i for i in ids if i not in info]
    if unknown:
        raise ValueError(f'{len(unknown)} nodule(s) of the {source} are not '
                         f'in the nodule table: {", ".join(unknown[:5])}')
    return [i for i in ids if nodule_label(info[i], task) is not None]


def _assign_by_patient(patients: Sequence[str], counts: Dict[str, int],
                       fractions: Sequence[float],
                       rng: np.random.Generator) -> Dict[str, int]:
    """Shuffle ``patients`` and give each the part where the running
    nodule count falls (parts in the order of ``fractions``)."""
    order = [patients[i] for i in rng.permutation(len(patients))]
    total = sum(counts[p] for p in order)
    bounds = np.cumsum(fractions) * total
    out, done = {}, 0
    for p in order:
        part = int(np.searchsorted(bounds, done, side='right'))
        out[p] = min(part, len(fractions) - 1)
        done += counts[p]
    return out


def patient_disjoint_split(nodules: Sequence[LIDCNodule],
                           labels: Optional[Dict[str, int]] = None,
                           fractions: Tuple[float, float,
                                            float] = (0.7, 0.1, 0.2),
                           seed: int = 0) -> Dict[str, List[str]]:
    """Seeded split of nodules by patient (``uid``).

    Patients are stratified by whether they have a malignant nodule
    (``labels[index] == 1``; one stratum without ``labels``); within each
    stratum they are shuffled with ``seed`` and assigned in turn to test,
    val and train until each part holds its fraction of the stratum's
    nodules. Every patient's nodules land in one part.

    Args:
        nodules: The nodules to split (already filtered for the task).
        labels: Optional nodule id -> class, for the stratification.
        fractions: ``(train, val, test)`` fractions of nodules, summing to 1.
        seed: Seed of the patient order.

    Returns:
        dict: ``train``, ``val``, ``test`` lists of nodule ids (input order).
    """
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(
            sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError('fractions must be three non-negative numbers '
                         f'(train, val, test) summing to 1, got {fractions}')
    by_patient: Dict[str, List[str]] = {}
    for n in nodules:
        by_patient.setdefault(n.uid, []).append(n.index)
    strata: Dict[int, List[str]] = {0: [], 1: []}
    for uid in sorted(by_patient):
        malignant = labels is not None and any(
            labels.get(i) == 1 for i in by_patient[uid])
        strata[int(malignant)].append(uid)
    counts = {p: len(v) for p, v in by_patient.items()}
    rng = np.random.default_rng(seed)
    # assignment order test, val, train: the small parts first
    order = (fractions[2], fractions[1], fractions[0])
    part_of: Dict[str, str] = {}
    for stratum in (1, 0):
        got = _assign_by_patient(strata[stratum], counts, order, rng)
        part_of.update({
            p: ('test', 'val', 'train')[k]
            for p, k in got.items()
        })
    split: Dict[str, List[str]] = dict(train=[], val=[], test=[])
    for n in nodules:
        split[part_of[n.uid]].append(n.index)
    return split


def build_split(info: Dict[str, LIDCNodule],
                reference: Optional[Dict[str, List[str]]],
                task: str,
                protocol: str = 'patient',
                fractions: Tuple[float, float, float] = (0.7, 0.1, 0.2),
                reference_val_fraction: float = 0.1,
                seed: int = 0) -> Dict[str, List[str]]:
    """Train/val/test nodule ids of a split protocol.

    Args:
        info: The nodule table (:func:`read_nodule_info`).
        reference: The reference split (:func:`read_reference_split`);
            needed by ``protocol='reference'``; with ``'patient'`` it
            restricts the nodules to those it lists (when given).
        task: ``'classification'`` or ``'segmentation'``.
        protocol: ``'patient'``: :func:`patient_disjoint_split` of every
            labelled nodule with ``fractions``; ``'reference'``: the
            published nodule-level split (leaks patients), its ``test``
            column as test and a patient-level ``reference_val_fraction``
            of its ``train`` column as val (``trainval`` keeps the whole
            ``train`` column, what published numbers trained on).
        fractions: ``(train, val, test)`` of the patient protocol.
        reference_val_fraction: Val share of the reference train column.
        seed: Split seed.

    Returns:
        dict: ``train``, ``val``, ``test`` (and, for the reference protocol,
        ``trainval``) lists of nodule ids.
    """
    if protocol == 'reference':
        if reference is None:
            raise ValueError("split protocol 'reference' needs the "
                             'reference split file')
        train = labelled(info, reference['train'], task, 'reference split')
        test = labelled(info, reference['test'], task, 'reference split')
        labels = {i: nodule_label(info[i], task) for i in train}
        val_part = patient_disjoint_split(
            [info[i] for i in train], labels,
            (1.0 - reference_val_fraction, reference_val_fraction, 0.0), seed)
        return dict(
            train=val_part['train'],
            val=val_part['val'],
            test=test,
            trainval=list(train))
    if protocol != 'patient':
        raise ValueError("split protocol must be 'patient' or 'reference', "
                         f'got {protocol!r}')
    ids = list(info)
    if reference is not None:
        listed = set(reference['train']) | set(reference['test'])
        labelled(info, sorted(listed), task, 'reference split')
        ids = [i for i in ids if i in listed]
    ids = labelled(info, ids, task, 'nodule table')
    labels = {i: nodule_label(info[i], task) for i in ids}
    return patient_disjoint_split([info[i] for i in ids], labels, fractions,
                                  seed)


def shared_patients(info: Dict[str, LIDCNodule], a: Sequence[str],
                    b: Sequence[str]) -> List[str]:
    """Patients (``uid``) with nodules in both ``a`` and ``b``, sorted."""
    return sorted({info[i].uid for i in a} & {info[i].uid for i in b})


__all__ = [
    'ANNOTATED_MODES', 'INFO_CSV', 'LIDCNodule', 'MALIGNANCY_LABELS',
    'PACKAGED_DIR', 'PACKAGED_INFO_CSV', 'PACKAGED_SPLIT_CSV', 'SPLIT_CSV',
    'SUBSETS', 'TASKS', 'build_split', 'labelled', 'malignancy_label',
    'nodule_label', 'patient_disjoint_split', 'read_nodule_info',
    'read_reference_split', 'shared_patients'
]
