"""DeepLesion image records (detections + ground-truth meta) and their JSON
dump, which ``tools/analysis_tools/rescore_detections.py`` re-scores."""
import json
import os
import os.path as osp
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

DUMP_FORMAT = 'cspr_det.deeplesion_detections'
DUMP_VERSION = 1


def clean_instance(inst: Mapping, where: str) -> dict:
    """Normalise one ground-truth lesion of a record.

    Args:
        inst: Dict with ``bbox`` [x1, y1, x2, y2] and optionally
            ``lesion_type`` (int, -1 unknown), ``noisy`` (0/1) and
            ``diameters`` [long, short] pixels. Other keys (``ignore_flag``,
            ``bbox_label``, ...) are not read: every instance is a lesion,
            including a box clipped to the image edge or leaving it.
        where: Text naming the lesion in error messages.

    Returns:
        dict: ``bbox`` (4 floats), ``lesion_type``, ``noisy``, ``diameters``
        (list of floats or None).
    """
    if 'bbox' not in inst:
        raise KeyError(f'{where} has no bbox (keys: {sorted(inst)})')
    bbox = [float(v) for v in np.asarray(inst['bbox']).reshape(-1)]
    if len(bbox) != 4:
        raise ValueError(f'{where} bbox must have 4 values x1, y1, x2, y2, '
                         f'got {bbox}')
    diam = inst.get('diameters')
    if diam is not None:
        diam = [float(v) for v in np.asarray(diam).reshape(-1)]
    lesion_type = inst.get('lesion_type', -1)
    return dict(
        bbox=bbox,
        lesion_type=-1 if lesion_type is None else int(lesion_type),
        noisy=int(bool(inst.get('noisy', 0))),
        diameters=diam)


def clean_record(record: Mapping, where: str) -> dict:
    """Normalise one image record (from the metric's ``process`` or a dump).

    Args:
        record: Dict with ``instances`` (see :func:`clean_instance`),
            ``pred_bboxes`` ``(n, 4)`` and ``pred_scores`` ``(n,)``, and
            optionally ``img_id``, ``img_path``, ``slice_interval`` (mm) and
            ``spacing`` ([x, y, z] mm).
        where: Text naming the record in error messages.

    Returns:
        dict: the same keys with ``pred_bboxes`` ``(n, 4)`` and
        ``pred_scores`` ``(n,)`` float32 arrays.
    """
    for key in ('instances', 'pred_bboxes', 'pred_scores'):
        if key not in record:
            raise KeyError(f'{where} has no {key!r}')
    boxes = np.asarray(record['pred_bboxes'], dtype=np.float32)
    boxes = boxes.reshape(0, 4) if boxes.size == 0 else boxes
    scores = np.asarray(record['pred_scores'], dtype=np.float32).reshape(-1)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or \
            boxes.shape[0] != scores.shape[0]:
        raise ValueError(
            f'{where}: pred_bboxes must be (n, 4) and pred_scores (n,), got '
            f'{tuple(boxes.shape)} and {tuple(scores.shape)}')
    spacing = record.get('spacing')
    if spacing is not None:
        spacing = [float(v) for v in np.asarray(spacing).reshape(-1)]
    interval = record.get('slice_interval')
    return dict(
        img_id=record.get('img_id'),
        img_path=record.get('img_path'),
        slice_interval=None if interval is None else float(interval),
        spacing=spacing,
        instances=[
            clean_instance(inst, f'{where} instance {k}')
            for k, inst in enumerate(record['instances'])
        ],
        pred_bboxes=boxes,
        pred_scores=scores)


def save_detection_dump(records: Sequence[dict],
                        path: str,
                        extra: Optional[dict] = None) -> None:
    """Write image records (detections + ground truth meta) to JSON.

    Args:
        records: Image records as stored by the DeepLesion FROC metric.
        path: Output ``.json`` file; parent folders are created.
        extra: Additional top-level entries (e.g. the protocol used).
    """
    images = []
    for rec in records:
        item = {
            k: rec[k]
            for k in ('img_id', 'img_path', 'slice_interval', 'spacing',
                      'instances')
        }
        if isinstance(item['img_id'], np.generic):
            item['img_id'] = item['img_id'].item()
        item['pred_bboxes'] = np.asarray(rec['pred_bboxes']).tolist()
        item['pred_scores'] = np.asarray(rec['pred_scores']).tolist()
        images.append(item)
    out = dict(
        format=DUMP_FORMAT,
        version=DUMP_VERSION,
        num_images=len(images),
        images=images)
    if extra:
        out.update(extra)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(out, f)


def load_detection_dump(path: str) -> Tuple[List[dict], dict]:
    """Read a dump written by :func:`save_detection_dump`.

    Returns:
        tuple: ``(records, meta)``: the image records accepted by
        ``evaluate_froc_records`` and the other top-level entries (e.g.
        ``protocol_at_dump``, the metric options used when dumping).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'detection dump not found: {path}')
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f'{path} is not valid JSON: {exc}') from exc
    if not isinstance(data, dict) or data.get('format') != DUMP_FORMAT:
        raise ValueError(f'{path} is not a cspr_det detection dump (expected '
                         f"format '{DUMP_FORMAT}')")
    if data.get('version') != DUMP_VERSION:
        raise ValueError(f"{path} has dump version {data.get('version')}; "
                         f'this code reads version {DUMP_VERSION}')
    images = data.pop('images', None)
    if not isinstance(images, list):
        raise ValueError(f"{path} has no list of 'images'")
    records = [
        clean_record(rec, f'{path} image {i}') for i, rec in enumerate(images)
    ]
    return records, data
