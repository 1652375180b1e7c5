"""Input and output files of nodule scoring: :func:`read_centres_csv` (the
nodule centres, ``id, x, y, z`` in world mm) and :func:`write_nodule_outputs`
(a CSV of probabilities and a JSON summary)."""
import csv
import json
import math
from typing import List, Tuple

import numpy as np

from .nodule_inference import NoduleResult
from .output_dir import staged_output

#: Columns a centres CSV must have.
CENTRE_COLUMNS = ('id', 'x', 'y', 'z')


def read_centres_csv(path: str) -> Tuple[List[str], np.ndarray]:
    """Read nodule centres from a CSV with a header holding ``id``, ``x``,
    ``y``, ``z`` (world coordinates in mm, ITK / DICOM LPS; other columns
    are ignored).

    Returns:
        tuple: The ids and an (N, 3) float64 array.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Missing columns, no row, a value that is not a finite
            number, a repeated id (the message names the file and line).
    """
    try:
        f = open(path, newline='', encoding='utf-8-sig')
    except FileNotFoundError:
        raise FileNotFoundError(f'centres CSV not found: {path}') from None
    with f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in CENTRE_COLUMNS if c not in fields]
        if missing:
            raise ValueError(f'{path}: missing column(s) {", ".join(missing)}'
                             f' (needs {", ".join(CENTRE_COLUMNS)}; has '
                             f'{", ".join(fields) or "no header"})')
        reader.fieldnames = fields
        ids, pts = [], []
        for row in reader:
            line = reader.line_num
            if not any(
                (v or '').strip() for v in row.values() if isinstance(v, str)):
                continue  # blank line
            nid = (row.get('id') or '').strip()
            if not nid:
                raise ValueError(f'{path} line {line}: empty id')
            if nid in ids:
                raise ValueError(f'{path} line {line}: id {nid!r} repeated')
            point = []
            for axis in 'xyz':
                text = (row.get(axis) or '').strip()
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise ValueError(f'{path} line {line}: {axis} is not a '
                                     f'number ({text!r})')
                point.append(value)
            ids.append(nid)
            pts.append(point)
    if not ids:
        raise ValueError(f'{path}: no nodule centre (only a header)')
    return ids, np.asarray(pts, np.float64)


def write_nodule_outputs(result: NoduleResult, out_dir: str) -> List[str]:
    """Write the results of :func:`~cspr_det.apis.inference_nodule`:
    ``probabilities.csv`` (``id, x, y, z, probability`` (the positive,
    last class) and ``score_<class>`` per class) and ``results.json`` (the
    input, crop settings, records, timings). All or nothing.

    Returns:
        list[str]: The written files.
    """
    records = result.records()
    columns = ['id', 'x', 'y', 'z', 'probability'] + \
        [f'score_{c}' for c in result.classes]
    with staged_output(out_dir, '.infer_cls-') as stage:
        with open(
                stage.path('probabilities.csv'), 'w', newline='',
                encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for rec in records:
                writer.writerow([
                    f'{rec[c]:.6g}' if isinstance(rec[c], float) else rec[c]
                    for c in columns
                ])
        vol = result.volume
        with open(stage.path('results.json'), 'w', encoding='utf-8') as f:
            json.dump(
                dict(
                    source={
                        k: v
                        for k, v in vol.source.items()
                    },
                    shape_zyx=[int(v) for v in vol.hu.shape],
                    spacing_xyz=[float(v) for v in vol.spacing],
                    classes=list(result.classes),
                    positive_class=result.classes[-1],
                    crop=result.settings,
                    nodules=records,
                    timings=result.timings),
                f,
                indent=1)
    return stage.written
