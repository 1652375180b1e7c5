"""Checking that the PNGs a set of DeepLesion lesion records needs exist."""
import os
import os.path as osp
from typing import Dict, Sequence

from .deeplesion_csv import slice_file_name


def check_images(records: Sequence[dict], images_dir: str) -> dict:
    """Check that the PNGs a set of lesion records needs exist.

    Args:
        records (Sequence[dict]): Parsed rows (:func:`read_deeplesion_csv`).
        images_dir (str): The ``Images_png`` folder.

    Returns:
        dict: ``missing_series`` (series folders absent), ``missing_key``
        (key slice files absent, as ``'series/NNN.png'``),
        ``missing_context`` (number of absent files inside the slice
        ranges; the loader falls back to the nearest existing slice for
        those) and ``checked`` (files checked).
    """
    missing_series, missing_key, missing_context, checked = [], [], 0, 0
    ranges: Dict[str, set] = {}
    keys: Dict[str, set] = {}
    for rec in records:
        first, last = rec['slice_range']
        ranges.setdefault(rec['series'], set()).update(range(first, last + 1))
        keys.setdefault(rec['series'], set()).add(rec['key_slice'])
    for series in sorted(ranges):
        folder = osp.join(images_dir, series)
        if not osp.isdir(folder):
            missing_series.append(series)
            continue
        present = set(os.listdir(folder))
        for index in sorted(ranges[series]):
            checked += 1
            name = slice_file_name(index)
            if name in present:
                continue
            if index in keys[series]:
                missing_key.append(f'{series}/{name}')
            else:
                missing_context += 1
    return dict(
        missing_series=missing_series,
        missing_key=missing_key,
        missing_context=missing_context,
        checked=checked)
