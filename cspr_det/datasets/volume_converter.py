"""Conversion of 3D segmentation cases (NIfTI image + label) to
memory-mappable per-case arrays and one JSON index, as used by
``tools/dataset_converters/{lits,btcv}.py``.

Per case: ``images/<case>.npy`` (int16 HU) and ``labels/<case>.npy`` (uint8)
on the canonical grid (see :mod:`cspr_det.fileio`); ``index.json`` holds every
case's split, array grid (``shape``, ``spacing`` (z, y, x), ``origin``,
``direction``), foreground z-ranges, label values and source geometry.
"""
import json
import logging
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk
from mmengine.logging import print_log

from cspr_det.fileio import (CANONICAL_ORIENTATION, VolumeError,
                             geometry_difference, geometry_of, label_values_of,
                             orientation_of, read_ct_image, read_image,
                             reorient, resample_intensity, resample_labels,
                             target_grid)
from cspr_det.fileio.image_io import Spacing

#: Version of the converted index format (``index.json``).
INDEX_VERSION = 1


def save_json(path: str, obj) -> str:
    """Write JSON atomically."""
    fd, tmp = tempfile.mkstemp(
        prefix='.' + osp.basename(path) + '.',
        suffix='.tmp',
        dir=osp.dirname(osp.abspath(path)))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def save_npy(path: str, array: np.ndarray) -> str:
    """``np.save`` to a temporary file next to ``path``, then rename."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix='.' + osp.basename(path) + '.',
        suffix='.tmp',
        dir=osp.dirname(osp.abspath(path)))
    try:
        with os.fdopen(fd, 'wb') as f:
            np.save(f, array)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


# --------------------------------------------------------------------- #
# conversion of one case / a dataset
# --------------------------------------------------------------------- #
def _z_ranges(label: np.ndarray) -> Tuple[Optional[List[int]], dict]:
    """Foreground z-range and per-label z-ranges (inclusive slice indices)
    of a (D, H, W) uint8 label array."""
    flat = label.reshape(label.shape[0], -1)
    ranges: Dict[str, List[int]] = {}
    for v in label_values_of(label):
        if v == 0:
            continue
        zs = np.flatnonzero((flat == v).any(axis=1))
        ranges[str(v)] = [int(zs[0]), int(zs[-1])]
    if not ranges:
        return None, {}
    fg = [
        min(r[0] for r in ranges.values()),
        max(r[1] for r in ranges.values())
    ]
    return fg, ranges


def convert_case(case_id: str,
                 image_path: str,
                 label_path: str,
                 out_dir: str,
                 target_spacing: Spacing = (1.0, None, None),
                 label_values: Optional[Sequence[int]] = None,
                 orientation: str = CANONICAL_ORIENTATION,
                 raw_root: Optional[str] = None,
                 geometry_tol: float = 1e-3) -> dict:
    """Convert one case to ``images/<case>.npy`` (int16 HU) and
    ``labels/<case>.npy`` (uint8) under ``out_dir``.

    Steps: read and check both files; require identical image/label grids;
    check the label values; reorient both to ``orientation``; resample the
    image linearly and the labels with :func:`resample_labels` to
    ``target_spacing``; round HU to int16.

    Args:
        case_id: Case name (file stem of the arrays).
        image_path, label_path: Source files: the image a NIfTI (or any 3D
            file SimpleITK reads) or a DICOM series folder
            (:func:`cspr_det.fileio.read_ct_image`), the label a NIfTI.
        out_dir: Output folder (``images/`` and ``labels/`` below it).
        target_spacing: (z, y, x) mm, ``None`` keeps an axis.
        label_values: Allowed label values (e.g. ``range(3)`` for LiTS);
            None accepts any value in 0-254.
        orientation: ITK orientation code of the arrays.
        raw_root: Source paths in the index are stored relative to it.
        geometry_tol: Tolerance (mm / cosine) of the image-label check.

    Returns:
        dict: The case's index entry: ``case_id``, ``image``, ``label``
        (relative to ``out_dir``), ``shape`` (D, H, W), ``spacing`` (z, y,
        x), ``origin``, ``direction`` (ITK, of the array grid),
        ``fg_z_range`` ([first, last] slice with a label > 0),
        ``class_z_ranges`` ({label: [first, last]}), ``label_values``,
        ``hu_range`` and ``source`` (``image``, ``label`` paths and the
        source ``size_xyz``, ``spacing_xyz``, ``origin``, ``direction``,
        ``orientation``).

    Raises:
        VolumeError: A one-line message naming the case: missing or
            truncated file, image/label geometry differ, non-integer label
            values or values outside ``label_values``, empty foreground.
    """
    image = read_ct_image(image_path, case_id, 'image')
    label = read_image(label_path, case_id, 'label')
    if orientation_of(image) != orientation_of(label):
        # e.g. a DICOM series (stored along its slice normal) with a NIfTI
        # label stored in another axis order: compare on the label's order
        image = reorient(image, orientation_of(label))
    diff = geometry_difference(image, label, geometry_tol)
    if diff is not None:
        raise VolumeError(f'{case_id}: image and label geometry differ '
                          f'({diff})')
    lab = sitk.GetArrayFromImage(label)
    if not np.issubdtype(lab.dtype, np.integer):
        if not np.all(np.isfinite(lab)) or np.any(lab != np.round(lab)):
            raise VolumeError(f'{case_id}: label has non-integer values '
                              f'(dtype {lab.dtype})')
        lab = lab.astype(np.int64)
    values = label_values_of(lab)
    allowed = set(range(255)) if label_values is None else \
        {int(v) for v in label_values}
    bad = [v for v in values if v not in allowed]
    if bad:
        shown = ', '.join(str(v) for v in bad[:5])
        raise VolumeError(
            f'{case_id}: label value(s) {shown} outside the class range '
            f'{min(allowed)}-{max(allowed)}')
    if values == [0] or not values:
        raise VolumeError(f'{case_id}: empty foreground (no label > 0 in '
                          f'{label_path})')
    source = geometry_of(image)
    source['orientation'] = orientation_of(image)
    rel = (lambda p: osp.relpath(p, raw_root)) if raw_root else \
        (lambda p: p)
    source.update(image=rel(image_path), label=rel(label_path))

    label = sitk.GetImageFromArray(lab.astype(np.uint8))
    label.CopyInformation(image)
    image = reorient(image, orientation)
    label = reorient(label, orientation)
    grid = target_grid(image, target_spacing)
    if grid['size_xyz'] != list(image.GetSize()) or \
            grid['spacing_xyz'] != list(image.GetSpacing()):
        image = resample_intensity(image, grid)
        label = resample_labels(label, grid)
    hu = sitk.GetArrayFromImage(image)
    if not np.issubdtype(hu.dtype, np.integer):
        hu = np.round(hu)
    hu = np.clip(hu, -32768, 32767).astype(np.int16)
    lab = sitk.GetArrayFromImage(label).astype(np.uint8)
    fg, class_ranges = _z_ranges(lab)
    if fg is None:
        raise VolumeError(f'{case_id}: empty foreground after resampling')
    save_npy(osp.join(out_dir, 'images', case_id + '.npy'), hu)
    save_npy(osp.join(out_dir, 'labels', case_id + '.npy'), lab)
    geo = geometry_of(image)
    return dict(
        case_id=case_id,
        image=f'images/{case_id}.npy',
        label=f'labels/{case_id}.npy',
        shape=[int(v) for v in hu.shape],
        spacing=list(reversed(geo['spacing_xyz'])),
        origin=geo['origin'],
        direction=geo['direction'],
        fg_z_range=fg,
        class_z_ranges=class_ranges,
        label_values=label_values_of(lab),
        hu_range=[int(hu.min()), int(hu.max())],
        source=source)


def _convert_job(job: dict) -> Tuple[dict, Optional[dict], Optional[str]]:
    """Worker of :func:`convert_dataset`: (job, entry, error message)."""
    try:
        entry = convert_case(**job['kwargs'])
        return job, entry, None
    except VolumeError as e:
        return job, None, str(e)


def convert_dataset(cases: Sequence[dict],
                    out_dir: str,
                    dataset: str,
                    target_spacing: Spacing,
                    label_values: Optional[Sequence[int]] = None,
                    classes: Optional[Sequence[str]] = None,
                    raw_root: Optional[str] = None,
                    skip_bad: bool = False,
                    workers: int = 0,
                    orientation: str = CANONICAL_ORIENTATION) -> dict:
    """Convert cases and write ``out_dir/index.json``; nothing half-written.

    Everything is written into a temporary folder next to ``out_dir`` and
    moved into place when all cases succeeded (``index.json`` last), so an
    interrupted or failed conversion leaves ``out_dir`` as it was.

    Args:
        cases: ``dict(case_id, image, label, split)`` per case.
        out_dir: Output folder (created; existing arrays of the same cases
            are replaced).
        dataset: Dataset name stored in the index (``'lits'``, ``'btcv'``).
        target_spacing: (z, y, x) mm, ``None`` keeps an axis.
        label_values: Allowed source label values.
        classes: Source class names stored in the index.
        raw_root: Root of the source files (index paths relative to it).
        skip_bad: Skip bad cases with a counted warning instead of failing
            at the first one.
        workers: Processes converting cases in parallel (0: in-process).
        orientation: ITK orientation code of the arrays.

    Returns:
        dict: Summary: ``index`` (path), ``cases`` (converted per split),
        ``skipped`` ({case_id: reason}).

    Raises:
        VolumeError: The first bad case (unless ``skip_bad``), or no case
            converted at all.
    """
    ids = [c['case_id'] for c in cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise VolumeError(f'duplicate case ids: {", ".join(dup[:5])}')
    # missing files first: fail (or skip) at once, not after hours of work
    skipped = _missing_files(cases, skip_bad)
    out_dir = osp.abspath(out_dir)
    os.makedirs(osp.dirname(out_dir), exist_ok=True)
    staging = tempfile.mkdtemp(
        prefix='.' + osp.basename(out_dir) + '.tmp-', dir=osp.dirname(out_dir))
    jobs = [
        dict(
            case=c,
            kwargs=dict(
                case_id=c['case_id'],
                image_path=c['image'],
                label_path=c['label'],
                out_dir=staging,
                target_spacing=target_spacing,
                label_values=label_values,
                orientation=orientation,
                raw_root=raw_root)) for c in cases
        if c['case_id'] not in skipped
    ]
    try:
        entries = _run_jobs(jobs, workers, skip_bad, skipped)
        if not entries:
            raise VolumeError(f'no case converted ({len(skipped)} bad)')
        counts: Dict[str, int] = {}
        for e in entries:
            counts[e['split']] = counts.get(e['split'], 0) + 1
        index = dict(
            version=INDEX_VERSION,
            dataset=dataset,
            orientation=orientation,
            target_spacing=list(target_spacing),
            label_values=None
            if label_values is None else [int(v) for v in label_values],
            classes=None if classes is None else list(classes),
            raw_root=raw_root,
            splits=counts,
            skipped=skipped,
            cases=entries)
        save_json(osp.join(staging, 'index.json'), index)
        _move_into_place(staging, out_dir, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if skipped:
        print_log(
            f'{len(skipped)} case(s) skipped: ' + '; '.join(skipped.values()),
            logger='current',
            level=logging.WARNING)
    return dict(
        index=osp.join(out_dir, 'index.json'), cases=counts, skipped=skipped)


def _missing_files(cases: Sequence[dict], skip_bad: bool) -> Dict[str, str]:
    """{case_id: reason} of the cases whose image or label file does not
    exist; raises on the first one unless ``skip_bad``."""
    skipped: Dict[str, str] = {}
    for case in cases:
        for what in ('image', 'label'):
            found = osp.isfile(case[what]) or \
                (what == 'image' and osp.isdir(case[what]))
            if not found:
                error = (f'{case["case_id"]}: {what} file not found: '
                         f'{case[what]}')
                if not skip_bad:
                    raise VolumeError(error)
                skipped[case['case_id']] = error
                break
    return skipped


def _run_jobs(jobs: List[dict], workers: int, skip_bad: bool,
              skipped: Dict[str, str]) -> List[dict]:
    """Convert every job (in ``workers`` processes); bad cases raise or are
    added to ``skipped``. Returns the index entries with their split."""
    if workers > 0:
        import multiprocessing as mp
        with mp.get_context('spawn').Pool(workers) as pool:
            results = list(pool.imap(_convert_job, jobs))
    else:
        results = map(_convert_job, jobs)
    entries = []
    for job, entry, error in results:
        if error is not None:
            if not skip_bad:
                raise VolumeError(error)
            skipped[job['case']['case_id']] = error
            print_log(
                f'skipped {error}', logger='current', level=logging.WARNING)
            continue
        entry['split'] = job['case'].get('split', 'train')
        entries.append(entry)
        print_log(
            f'{entry["case_id"]}: {tuple(entry["shape"])} at '
            f'{tuple(round(s, 3) for s in entry["spacing"])} mm '
            f'(source {entry["source"]["orientation"]}, '
            f'{tuple(entry["source"]["size_xyz"])})',
            logger='current')
    return entries


def _move_into_place(staging: str, out_dir: str, entries: List[dict]) -> None:
    """Move the staged arrays into ``out_dir``, then the index (last, so a
    reader never sees an index naming arrays that are not there yet)."""
    for sub in ('images', 'labels'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
        for e in entries:
            name = osp.basename(e[sub[:-1]])
            os.replace(
                osp.join(staging, sub, name), osp.join(out_dir, sub, name))
    os.replace(
        osp.join(staging, 'index.json'), osp.join(out_dir, 'index.json'))


def find_case_files(root: str,
                    pattern: str,
                    folder_pattern: Optional[str] = None) -> Dict[int, str]:
    """Files under ``root`` (recursively) whose name matches ``pattern``
    and, with ``folder_pattern``, folders whose name matches it (a case
    stored as a DICOM series folder; not searched further).

    Args:
        root: Folder searched recursively (hidden folders skipped).
        pattern: Regular expression for the file name with one group, the
            case number (e.g. ``r'volume-(\\d+)\\.nii(\\.gz)?'``).
        folder_pattern: Regular expression for a case folder's name with
            one group, the case number (e.g. ``r'volume-(\\d+)'``).

    Returns:
        dict: case number -> path.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        VolumeError: Two files (or folders) for one case number.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'raw data folder not found: {root}')
    regex = re.compile(pattern)
    folder_regex = re.compile(folder_pattern) if folder_pattern else None
    found: Dict[int, str] = {}

    def add(m, path: str) -> None:
        number = int(m.group(1))
        if number in found:
            raise VolumeError(f'two files for case {number}: '
                              f'{found[number]} and {path}')
        found[number] = path

    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        if folder_regex is not None:
            for name in list(dirnames):
                m = folder_regex.fullmatch(name)
                if m is not None:
                    add(m, osp.join(dirpath, name))
                    dirnames.remove(name)
        for name in sorted(filenames):
            m = regex.fullmatch(name)
            if m is not None:
                add(m, osp.join(dirpath, name))
    return found


def plan_cases(
        split: Dict[str, List[str]], images: Dict[str, str],
        labels: Dict[str, str], expected_image: Callable[[str], str],
        expected_label: Callable[[str], str]) -> Tuple[List[dict], List[str]]:
    """Cases to convert from a split and the files found.

    A case of the split without its image or label file keeps the expected
    path, so its conversion fails (or is skipped) with "file not found"
    naming the case.

    Args:
        split: split name -> case ids.
        images, labels: case id -> found path.
        expected_image, expected_label: case id -> the path a missing
            file was expected at.

    Returns:
        tuple: (cases as ``dict(case_id, image, label, split)``, ids of
        files found but in no split).
    """
    cases = []
    for part, ids in split.items():
        for case in ids:
            cases.append(
                dict(
                    case_id=case,
                    split=part,
                    image=images.get(case) or expected_image(case),
                    label=labels.get(case) or expected_label(case)))
    listed = {c['case_id'] for c in cases}
    extra = sorted(set(images) - listed, key=lambda c: (len(c), c))
    return cases, extra


def load_index(path: str) -> dict:
    """Read a converted ``index.json`` and check its format version."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'converted index not found: {path} (run '
                                'tools/dataset_converters/{lits,btcv}.py)')
    with open(path) as f:
        index = json.load(f)
    if not isinstance(index, dict) or 'cases' not in index:
        raise ValueError(f'{path} is not a converted volume index')
    if index.get('version') != INDEX_VERSION:
        raise ValueError(f'{path}: index version {index.get("version")}, '
                         f'expected {INDEX_VERSION} (convert again)')
    return index
