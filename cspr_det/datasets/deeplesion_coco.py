"""Converting parsed ``DL_info.csv`` rows into COCO-style annotation files.

One image per key slice (several rows with the same ``File_name`` become one
image with several boxes), one file per official split. Boxes are 0-based
``[x, y, w, h]``, clipped to the image by :func:`parse_deeplesion_row`.
"""
import json
import os
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .deeplesion_csv import LESION_TYPES, SPLITS, read_deeplesion_csv
from .deeplesion_image_check import check_images


def _image_entry(rec: dict, image_id: int) -> dict:
    return dict(
        id=image_id,
        file_name=rec['file_name'],
        height=rec['height'],
        width=rec['width'],
        slice_interval=rec['slice_interval'],
        spacing=list(rec['spacing']),
        slice_range=list(rec['slice_range']),
        dicom_window=list(rec['dicom_window']),
        key_slice=rec['key_slice'],
        series=rec['series'],
        patient=rec['patient'],
        study=rec['study'],
        series_id=rec['series_id'],
        split=rec['split'],
        gender=rec['gender'],
        age=rec['age'])


def _annotation_entry(rec: dict, ann_id: int, image_id: int) -> dict:
    x1, y1, x2, y2 = rec['bbox_xyxy']
    w, h = x2 - x1, y2 - y1
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=1,
        bbox=[x1, y1, w, h],
        area=w * h,
        iscrowd=0,
        lesion_type=rec['lesion_type'],
        noisy=rec['noisy'],
        recist=list(rec['recist']),
        diameters=list(rec['diameters']),
        location=list(rec['location']),
        csv_line=rec.get('line'))


def records_to_coco(records: Sequence[dict],
                    drop_noisy: bool = False) -> Tuple[Dict[int, dict], dict]:
    """Group lesion records by key slice into one COCO dict per split.

    Image and annotation ids are unique over all splits (order of first
    appearance in the CSV). Rows of one key slice must agree on the image
    fields (size, spacing, window, split); later rows that do not are
    rejected with reason ``inconsistent_image``. Slice ranges of one key
    slice are merged.

    Returns:
        tuple: ``({split_code: coco_dict}, info)`` where ``info`` holds
        ``rejected`` (list) and ``noisy_dropped`` (int) and
        ``images_dropped`` (int, images left without lesions).
    """
    images: 'OrderedDict[str, dict]' = OrderedDict()
    anns: Dict[str, List[dict]] = {}
    rejected = []
    noisy_dropped = 0
    for rec in records:
        key = rec['file_name']
        img = images.get(key)
        if img is None:
            img = _image_entry(rec, len(images) + 1)
            images[key] = img
            anns[key] = []
        else:
            same = (
                img['height'] == rec['height'] and img['width'] == rec['width']
                and img['split'] == rec['split']
                and np.allclose(img['spacing'], rec['spacing'])
                and np.allclose(img['dicom_window'], rec['dicom_window']))
            if not same:
                rejected.append(
                    dict(
                        line=rec.get('line'),
                        reason='inconsistent_image',
                        message=f'line {rec.get("line")}: {key} disagrees '
                        'with an earlier row of the same key slice on '
                        'image size, spacing, window or split'))
                continue
            img['slice_range'] = [
                min(img['slice_range'][0], rec['slice_range'][0]),
                max(img['slice_range'][1], rec['slice_range'][1])
            ]
        if drop_noisy and rec['noisy']:
            noisy_dropped += 1
            continue
        anns[key].append(rec)

    out = {code: dict(images=[], annotations=[]) for code in SPLITS}
    ann_id = 0
    images_dropped = 0
    for key, img in images.items():
        if not anns[key]:
            images_dropped += 1
            continue
        coco = out[img['split']]
        coco['images'].append(img)
        for rec in anns[key]:
            ann_id += 1
            coco['annotations'].append(
                _annotation_entry(rec, ann_id, img['id']))
    for code, coco in out.items():
        coco['categories'] = [dict(id=1, name='lesion')]
        coco['info'] = dict(
            description=f'NIH DeepLesion, {SPLITS[code]} split',
            lesion_types=list(LESION_TYPES),
            drop_noisy=drop_noisy)
    return out, dict(
        rejected=rejected,
        noisy_dropped=noisy_dropped,
        images_dropped=images_dropped)


def convert_deeplesion_csv(csv_path: str,
                           out_dir: str,
                           drop_noisy: bool = False,
                           prefix: str = 'deeplesion',
                           images_dir: Optional[str] = None) -> dict:
    """Convert ``DL_info.csv`` into COCO-style ``{prefix}_{split}.json``.

    Args:
        csv_path (str): Path of ``DL_info.csv``.
        out_dir (str): Output folder (created if needed).
        drop_noisy (bool): Drop lesions flagged ``Possibly_noisy`` and the key
            slices left without lesions. Defaults to False.
        prefix (str): File name prefix. Defaults to 'deeplesion'.
        images_dir (str, optional): ``Images_png`` folder; if given, the
            summary gets ``images_check`` (see :func:`check_images`).
            Images are converted either way.

    Returns:
        dict: Summary with ``files`` {split: path}, ``splits`` {split:
        dict(images, lesions, noisy)}, ``rows``, ``rows_ok``,
        ``noisy_dropped``, ``images_dropped``, ``rejected`` (Counter of
        reasons), ``rejected_rows`` (list of dicts with line, reason,
        message), ``clipped`` (number of used rows whose box left the image
        and was clipped to it) and ``clipped_rows`` (list of dicts with
        line, message).
    """
    records, rejected = read_deeplesion_csv(csv_path)
    num_rows = len(records) + len(rejected)
    cocos, info = records_to_coco(records, drop_noisy=drop_noisy)
    rejected = rejected + info['rejected']
    unused = {r['line'] for r in info['rejected']}
    clipped_rows = [
        dict(line=r['line'], message=r['bbox_clipped']) for r in records
        if r.get('bbox_clipped') and r['line'] not in unused
    ]
    os.makedirs(out_dir, exist_ok=True)
    files, splits = {}, {}
    for code, coco in cocos.items():
        name = SPLITS[code]
        path = osp.join(out_dir, f'{prefix}_{name}.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(coco, f)
        files[name] = path
        splits[name] = dict(
            images=len(coco['images']),
            lesions=len(coco['annotations']),
            noisy=sum(a['noisy'] for a in coco['annotations']))
    images_check = None if images_dir is None else check_images(
        records, images_dir)
    return dict(
        images_check=images_check,
        files=files,
        splits=splits,
        rows=num_rows,
        rows_ok=num_rows - len(rejected),
        drop_noisy=drop_noisy,
        noisy_dropped=info['noisy_dropped'],
        images_dropped=info['images_dropped'],
        rejected=Counter(r['reason'] for r in rejected),
        rejected_rows=sorted(rejected, key=lambda r: r['line'] or 0),
        clipped=len(clipped_rows),
        clipped_rows=clipped_rows)


def _list_rows(title: str, rows: Sequence[dict], limit: int = 20) -> List[str]:
    """``title`` and the messages of the first ``limit`` rows, indented."""
    lines = [title] + [f'  {r["message"]}' for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f'  ... {len(rows) - limit} more')
    return lines


def format_summary(summary: dict) -> str:
    """Render a :func:`convert_deeplesion_csv` summary as text."""
    clipped = summary.get('clipped', 0)
    lines = [
        f'rows read: {summary["rows"]}, used: {summary["rows_ok"]} '
        f'({clipped} with the box clipped to the image), '
        f'rejected: {sum(summary["rejected"].values())}',
        'noisy lesions: ' +
        (f'{summary["noisy_dropped"]} dropped '
         f'({summary["images_dropped"]} images left '
         'empty and dropped)' if summary['drop_noisy'] else 'kept'),
        f'{"split":<6} {"images":>7} {"lesions":>8} {"noisy":>6}  file',
    ]
    for name, s in summary['splits'].items():
        lines.append(f'{name:<6} {s["images"]:>7} {s["lesions"]:>8} '
                     f'{s["noisy"]:>6}  {summary["files"][name]}')
    images = summary.get('images_check')
    if images is not None:
        lines.append(
            f'images: {images["checked"]} slice files checked, '
            f'{len(images["missing_series"])} series folders missing, '
            f'{len(images["missing_key"])} key slices missing, '
            f'{images["missing_context"]} context slices missing')
        for name in (images['missing_series'] + images['missing_key'])[:10]:
            lines.append(f'  missing: {name}')
    if clipped:
        lines += _list_rows('boxes clipped to the image (rows kept):',
                            summary['clipped_rows'])
    if summary['rejected']:
        lines.append('rejected rows by reason:')
        for reason, n in sorted(summary['rejected'].items()):
            lines.append(f'  {reason}: {n}')
        lines += _list_rows('rejected rows:', summary['rejected_rows'])
    return '\n'.join(lines)
