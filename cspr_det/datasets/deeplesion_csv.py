"""Reading, writing and converting NIH DeepLesion's ``DL_info.csv``.

The CSV has one row per lesion and 18 columns (see ``DL_INFO_HEADER``).
Vector cells (RECIST marks, boxes, spacings, ...) are single quoted fields
whose values are separated by ``", "``. All pixel coordinates in the CSV are
1-based; everything this module returns is 0-based.

The same functions serve the converter (``tools/dataset_converters/
deeplesion.py``) and the synthetic generator, so both agree on the format.
"""
import csv
import math
import os
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

DL_INFO_HEADER: Tuple[str, ...] = (
    'File_name', 'Patient_index', 'Study_index', 'Series_ID',
    'Key_slice_index', 'Measurement_coordinates', 'Bounding_boxes',
    'Lesion_diameters_Pixel_', 'Normalized_lesion_location',
    'Coarse_lesion_type', 'Possibly_noisy', 'Slice_range', 'Spacing_mm_px_',
    'Image_size', 'DICOM_windows', 'Patient_gender', 'Patient_age',
    'Train_Val_Test')

#: Coarse_lesion_type codes 1..8 (index 0 is type 1). Training rows carry -1.
LESION_TYPES: Tuple[str, ...] = ('bone', 'abdomen', 'mediastinum', 'liver',
                                 'lung', 'kidney', 'soft tissue', 'pelvis')

#: Train_Val_Test codes.
SPLITS: Dict[int, str] = {1: 'train', 2: 'val', 3: 'test'}

#: Offset between the stored uint16 pixel values and Hounsfield units.
HU_OFFSET = 32768

# (column, number of values) of the vector cells
_VECTOR_COLUMNS = OrderedDict([
    ('Measurement_coordinates', 8),
    ('Bounding_boxes', 4),
    ('Lesion_diameters_Pixel_', 2),
    ('Normalized_lesion_location', 3),
    ('Slice_range', 2),
    ('Spacing_mm_px_', 3),
    ('Image_size', 2),
    ('DICOM_windows', 2),
])

#: Reasons a row can be rejected for (keys of ``summary['rejected']``).
REJECT_REASONS: Tuple[str, ...] = (
    'column_count', 'bad_integer', 'bad_vector', 'bad_file_name',
    'bad_image_size', 'bad_spacing', 'bad_slice_range', 'bad_window',
    'bad_split', 'bad_lesion_type', 'bad_noisy_flag', 'bad_age',
    'zero_size_box', 'box_outside_image', 'inconsistent_image')


class DeepLesionRowError(ValueError):
    """A ``DL_info.csv`` row that cannot be used.

    Args:
        reason (str): One of :data:`REJECT_REASONS`.
        message (str): Human readable explanation (names the row).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def series_name(patient: int, study: int, series: int) -> str:
    """Folder name ``%06d_%02d_%02d`` of a series under ``Images_png``."""
    return f'{patient:06d}_{study:02d}_{series:02d}'


def slice_file_name(index: int) -> str:
    """PNG name of a slice (``%03d.png``; 4 digits from 1000 on)."""
    return f'{index:03d}.png'


def format_number(value: float) -> str:
    """Format a number the way ``DL_info.csv`` does (6 significant digits,
    no trailing zeros, integers without a decimal point)."""
    value = float(value)
    if value == 0:
        return '0'
    text = f'{value:.6g}'
    if 'e' in text:  # keep plain notation like the official file
        text = f'{value:.6f}'.rstrip('0').rstrip('.')
    return text


def format_vector(values: Iterable[float]) -> str:
    """Join numbers with ``', '`` as in a vector cell of ``DL_info.csv``."""
    return ', '.join(format_number(v) for v in values)


def _parse_vector(text: str, length: int, column: str,
                  where: str) -> List[float]:
    parts = [p.strip() for p in text.split(',')]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise DeepLesionRowError(
            'bad_vector', f'{where}: column {column} = {text!r} is not a '
            f'list of {length} numbers') from None
    if len(values) != length or not all(math.isfinite(v) for v in values):
        raise DeepLesionRowError(
            'bad_vector', f'{where}: column {column} = {text!r} must hold '
            f'{length} finite numbers, got {len(values)}')
    return values


def _parse_int(text: str, column: str, where: str) -> int:
    try:
        value = float(text.strip())
    except ValueError:
        raise DeepLesionRowError(
            'bad_integer',
            f'{where}: column {column} = {text!r} is not an integer') from None
    if not math.isfinite(value) or value != int(value):
        raise DeepLesionRowError(
            'bad_integer',
            f'{where}: column {column} = {text!r} is not an integer')
    return int(value)


def parse_deeplesion_row(row: Sequence[str], where: str = 'row') -> dict:
    """Parse and validate one ``DL_info.csv`` row.

    Args:
        row (Sequence[str]): The 18 cells as read by :mod:`csv`.
        where (str): Name of the row used in error messages,
            e.g. ``'DL_info.csv line 12'``.

    Returns:
        dict: Parsed lesion record with 0-based pixel coordinates:
        ``file_name`` ('000001_01_01/109.png'), ``series``, ``patient``,
        ``study``, ``series_id``, ``key_slice``, ``recist`` (8 floats),
        ``bbox_xyxy`` (4 floats), ``diameters`` (2), ``location`` (3),
        ``lesion_type`` (int), ``noisy`` (0/1), ``slice_range`` [first,
        last], ``spacing`` [x, y, z] (mm), ``slice_interval`` (mm),
        ``height``, ``width``, ``dicom_window`` [min, max] (HU), ``gender``,
        ``age`` (float or None), ``split`` (1/2/3), ``csv_file_name``.

    Raises:
        DeepLesionRowError: With a ``reason`` from :data:`REJECT_REASONS`.
    """
    if len(row) != len(DL_INFO_HEADER):
        raise DeepLesionRowError(
            'column_count', f'{where}: expected {len(DL_INFO_HEADER)} '
            f'columns, got {len(row)}')
    cell = dict(zip(DL_INFO_HEADER, row))
    ints = {}
    for col in ('Patient_index', 'Study_index', 'Series_ID',
                'Key_slice_index', 'Coarse_lesion_type', 'Possibly_noisy',
                'Train_Val_Test'):
        ints[col] = _parse_int(cell[col], col, where)
    vec = {
        col: _parse_vector(cell[col], n, col, where)
        for col, n in _VECTOR_COLUMNS.items()
    }

    patient, study, series_id = (ints['Patient_index'], ints['Study_index'],
                                 ints['Series_ID'])
    key = ints['Key_slice_index']
    if min(patient, study, series_id, key) < 1:
        raise DeepLesionRowError(
            'bad_integer', f'{where}: patient/study/series/key slice indices '
            'must be >= 1')
    series = series_name(patient, study, series_id)
    csv_name = cell['File_name'].strip()
    expected = f'{series}_{slice_file_name(key)}'
    if csv_name != expected:
        raise DeepLesionRowError(
            'bad_file_name', f'{where}: File_name {csv_name!r} does not match '
            f'the patient/study/series/key slice columns ({expected!r})')

    rows_, cols_ = vec['Image_size']
    if rows_ <= 0 or cols_ <= 0 or rows_ != int(rows_) or cols_ != int(
            cols_):
        raise DeepLesionRowError(
            'bad_image_size',
            f'{where}: Image_size {cell["Image_size"]!r} is not positive')
    height, width = int(rows_), int(cols_)

    spacing = vec['Spacing_mm_px_']
    if min(spacing) <= 0:
        raise DeepLesionRowError(
            'bad_spacing',
            f'{where}: Spacing_mm_px_ {cell["Spacing_mm_px_"]!r} must be > 0')

    first, last = vec['Slice_range']
    if first != int(first) or last != int(last) or not (1 <= first <= key <=
                                                        last):
        raise DeepLesionRowError(
            'bad_slice_range', f'{where}: Slice_range '
            f'{cell["Slice_range"]!r} must be integers containing the key '
            f'slice {key}')

    wmin, wmax = vec['DICOM_windows']
    if not wmin < wmax:
        raise DeepLesionRowError(
            'bad_window', f'{where}: DICOM_windows {cell["DICOM_windows"]!r} '
            'must be min < max (HU)')

    split = ints['Train_Val_Test']
    if split not in SPLITS:
        raise DeepLesionRowError(
            'bad_split',
            f'{where}: Train_Val_Test must be 1, 2 or 3, got {split}')
    lesion_type = ints['Coarse_lesion_type']
    if lesion_type != -1 and not 1 <= lesion_type <= len(LESION_TYPES):
        raise DeepLesionRowError(
            'bad_lesion_type',
            f'{where}: Coarse_lesion_type must be -1 or 1..8, got '
            f'{lesion_type}')
    noisy = ints['Possibly_noisy']
    if noisy not in (0, 1):
        raise DeepLesionRowError(
            'bad_noisy_flag',
            f'{where}: Possibly_noisy must be 0 or 1, got {noisy}')

    age_text = cell['Patient_age'].strip()
    age: Optional[float] = None
    if age_text:
        try:
            age = float(age_text)
        except ValueError:
            raise DeepLesionRowError(
                'bad_age',
                f'{where}: Patient_age {age_text!r} is not a number') from None
        if not math.isfinite(age):
            raise DeepLesionRowError(
                'bad_age', f'{where}: Patient_age {age_text!r} is not finite')

    # 1-based -> 0-based pixel coordinates
    x1, y1, x2, y2 = (v - 1 for v in vec['Bounding_boxes'])
    if not (x2 > x1 and y2 > y1):
        raise DeepLesionRowError(
            'zero_size_box', f'{where}: Bounding_boxes '
            f'{cell["Bounding_boxes"]!r} has zero or negative size')
    # 0-based corners may touch the image border with 1 px tolerance
    if x1 < -1 or y1 < -1 or x2 > width or y2 > height:
        raise DeepLesionRowError(
            'box_outside_image', f'{where}: Bounding_boxes '
            f'{cell["Bounding_boxes"]!r} (1-based) leaves the {height}x'
            f'{width} image')
    recist = [v - 1 for v in vec['Measurement_coordinates']]

    return dict(
        csv_file_name=csv_name,
        file_name=f'{series}/{slice_file_name(key)}',
        series=series,
        patient=patient,
        study=study,
        series_id=series_id,
        key_slice=key,
        recist=recist,
        bbox_xyxy=[x1, y1, x2, y2],
        diameters=vec['Lesion_diameters_Pixel_'],
        location=vec['Normalized_lesion_location'],
        lesion_type=lesion_type,
        noisy=noisy,
        slice_range=[int(first), int(last)],
        spacing=spacing,
        slice_interval=spacing[2],
        height=height,
        width=width,
        dicom_window=[wmin, wmax],
        gender=cell['Patient_gender'].strip(),
        age=age,
        split=split)


def read_deeplesion_csv(csv_path: str) -> Tuple[List[dict], List[dict]]:
    """Read ``DL_info.csv`` and validate every row.

    Args:
        csv_path (str): Path of the CSV file.

    Returns:
        tuple[list[dict], list[dict]]: The parsed lesion records (see
        :func:`parse_deeplesion_row`, plus ``line``) and the rejected rows,
        each ``dict(line=int, reason=str, message=str)``.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the header is not the official one.
    """
    if not osp.isfile(csv_path):
        raise FileNotFoundError(f'DeepLesion CSV not found: {csv_path}')
    records, rejected = [], []
    with open(csv_path, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip()
                                   for h in header) != DL_INFO_HEADER:
            raise ValueError(
                f'{csv_path}: the header is not the DL_info.csv header '
                f'{",".join(DL_INFO_HEADER)!r}; got {header!r}')
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue  # blank line
            where = f'{osp.basename(csv_path)} line {line}'
            try:
                rec = parse_deeplesion_row(row, where)
            except DeepLesionRowError as e:
                rejected.append(
                    dict(line=line, reason=e.reason, message=str(e)))
                continue
            rec['line'] = line
            records.append(rec)
    return records, rejected


def deeplesion_row(rec: dict) -> List[str]:
    """Format a lesion record (0-based, as returned by
    :func:`parse_deeplesion_row`) back into the 18 ``DL_info.csv`` cells."""
    age = rec.get('age')
    x1, y1, x2, y2 = rec['bbox_xyxy']
    return [
        f'{rec["series"]}_{slice_file_name(rec["key_slice"])}',
        str(rec['patient']),
        str(rec['study']),
        str(rec['series_id']),
        str(rec['key_slice']),
        format_vector(v + 1 for v in rec['recist']),
        format_vector([x1 + 1, y1 + 1, x2 + 1, y2 + 1]),
        format_vector(rec['diameters']),
        format_vector(rec['location']),
        str(rec['lesion_type']),
        str(rec['noisy']),
        format_vector(rec['slice_range']),
        format_vector(rec['spacing']),
        format_vector([rec['height'], rec['width']]),
        format_vector(rec['dicom_window']),
        rec['gender'],
        '' if age is None else format_number(age),
        str(rec['split']),
    ]


def write_deeplesion_csv(records: Sequence[dict], csv_path: str) -> None:
    """Write lesion records as an official-format ``DL_info.csv``."""
    os.makedirs(osp.dirname(osp.abspath(csv_path)), exist_ok=True)
    with open(csv_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(DL_INFO_HEADER)
        for rec in records:
            writer.writerow(deeplesion_row(rec))


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
            same = (img['height'] == rec['height']
                    and img['width'] == rec['width']
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
        reasons) and ``rejected_rows`` (list of dicts with line, reason,
        message).
    """
    import json
    records, rejected = read_deeplesion_csv(csv_path)
    num_rows = len(records) + len(rejected)
    cocos, info = records_to_coco(records, drop_noisy=drop_noisy)
    rejected = rejected + info['rejected']
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
        rejected_rows=sorted(rejected, key=lambda r: r['line'] or 0))


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
        ranges.setdefault(rec['series'], set()).update(
            range(first, last + 1))
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


def format_summary(summary: dict) -> str:
    """Render a :func:`convert_deeplesion_csv` summary as text."""
    lines = [
        f'rows read: {summary["rows"]}, used: {summary["rows_ok"]}, '
        f'rejected: {sum(summary["rejected"].values())}',
        'noisy lesions: ' + (f'{summary["noisy_dropped"]} dropped '
                             f'({summary["images_dropped"]} images left '
                             'empty and dropped)' if summary['drop_noisy']
                             else 'kept'),
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
    if summary['rejected']:
        lines.append('rejected rows by reason:')
        for reason, n in sorted(summary['rejected'].items()):
            lines.append(f'  {reason}: {n}')
        for r in summary['rejected_rows'][:20]:
            lines.append(f'  {r["message"]}')
        if len(summary['rejected_rows']) > 20:
            lines.append(f'  ... {len(summary["rejected_rows"]) - 20} more')
    return '\n'.join(lines)
