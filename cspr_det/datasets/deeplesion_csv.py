"""Reading, writing and converting NIH DeepLesion's ``DL_info.csv``.

The CSV has one row per lesion and 18 columns (see ``DL_INFO_HEADER``).
Vector cells (RECIST marks, boxes, spacings, ...) are single quoted fields
whose values are separated by ``", "``. All pixel coordinates in the CSV are
1-based; everything this module returns is 0-based.

The same functions serve the converter (``tools/dataset_converters/
deeplesion.py``) and the synthetic generator, so both agree on the format.
The COCO conversion lives in :mod:`.deeplesion_coco` and the image check in
:mod:`.deeplesion_image_check`.
"""
import csv
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .clip_box import InvalidBoxError, clip_box_to_image

DL_INFO_HEADER: Tuple[str,
                      ...] = ('File_name', 'Patient_index', 'Study_index',
                              'Series_ID', 'Key_slice_index',
                              'Measurement_coordinates', 'Bounding_boxes',
                              'Lesion_diameters_Pixel_',
                              'Normalized_lesion_location',
                              'Coarse_lesion_type', 'Possibly_noisy',
                              'Slice_range', 'Spacing_mm_px_', 'Image_size',
                              'DICOM_windows', 'Patient_gender', 'Patient_age',
                              'Train_Val_Test')

#: Coarse_lesion_type codes 1..8 (index 0 is type 1). Training rows carry -1.
LESION_TYPES: Tuple[str, ...] = ('bone', 'abdomen', 'mediastinum', 'liver',
                                 'lung', 'kidney', 'soft tissue', 'pelvis')

#: Train_Val_Test codes.
SPLITS: Dict[int, str] = {1: 'train', 2: 'val', 3: 'test'}

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
REJECT_REASONS: Tuple[str,
                      ...] = ('column_count', 'bad_integer', 'bad_vector',
                              'bad_file_name', 'bad_image_size', 'bad_spacing',
                              'bad_slice_range', 'bad_window', 'bad_split',
                              'bad_lesion_type', 'bad_noisy_flag', 'bad_age',
                              'zero_size_box', 'box_outside_image',
                              'inconsistent_image')


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


_INT_COLUMNS: Tuple[str, ...] = ('Patient_index', 'Study_index', 'Series_ID',
                                 'Key_slice_index', 'Coarse_lesion_type',
                                 'Possibly_noisy', 'Train_Val_Test')


def _check_identity(cell: Dict[str, str], ints: Dict[str, int],
                    where: str) -> str:
    """Check the patient/study/series/key slice indices against File_name;
    return the series folder name."""
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
    return series


def _check_image_size(cell: Dict[str, str], vec: Dict[str, List[float]],
                      where: str) -> Tuple[int, int]:
    """Image_size (rows, cols) as positive integers ``(height, width)``."""
    rows_, cols_ = vec['Image_size']
    if rows_ <= 0 or cols_ <= 0 or rows_ != int(rows_) or cols_ != int(cols_):
        raise DeepLesionRowError(
            'bad_image_size',
            f'{where}: Image_size {cell["Image_size"]!r} is not positive')
    return int(rows_), int(cols_)


def _check_geometry(cell: Dict[str, str], vec: Dict[str, List[float]],
                    key: int, where: str) -> None:
    """Check the spacing, the slice range around the key slice and the
    DICOM window."""
    if min(vec['Spacing_mm_px_']) <= 0:
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


def _check_labels(ints: Dict[str, int], where: str) -> None:
    """Check the split, lesion type and noisy flag codes."""
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


def _parse_age(text: str, where: str) -> Optional[float]:
    """Patient_age as a float; None when the cell is empty."""
    text = text.strip()
    if not text:
        return None
    try:
        age = float(text)
    except ValueError:
        raise DeepLesionRowError(
            'bad_age',
            f'{where}: Patient_age {text!r} is not a number') from None
    if not math.isfinite(age):
        raise DeepLesionRowError(
            'bad_age', f'{where}: Patient_age {text!r} is not finite')
    return age


def _parse_box(text: str, box_1based: List[float], height: int, width: int,
               where: str) -> Tuple[List[float], Optional[str]]:
    """The 0-based box clipped to the image (see :func:`clip_box_to_image`).

    Returns:
        tuple[list[float], str | None]: The box and, when it was clipped, a
        message naming the row and both boxes.
    """
    box = [v - 1 for v in box_1based]  # 1-based -> 0-based
    try:
        clipped, changed = clip_box_to_image(box, height, width)
    except InvalidBoxError as e:
        what = ('has zero or negative size' if e.reason == 'zero_size_box' else
                f'(1-based) lies entirely outside the {height}x{width} '
                'image')
        raise DeepLesionRowError(
            e.reason, f'{where}: Bounding_boxes {text!r} {what}') from None
    if not changed:
        return clipped, None
    return clipped, (f'{where}: Bounding_boxes {text!r} (1-based) leaves the '
                     f'{height}x{width} image; clipped to 0-based '
                     f'[{format_vector(clipped)}]')


def parse_deeplesion_row(row: Sequence[str], where: str = 'row') -> dict:
    """Parse and validate one ``DL_info.csv`` row.

    A box that leaves the image is clipped to it (DeepLesion boxes carry a
    5 px margin around the RECIST marks, so lesions at the image edge do
    this) and the row is kept; only a box of zero size or entirely outside
    the image rejects the row.

    Args:
        row (Sequence[str]): The 18 cells as read by :mod:`csv`.
        where (str): Name of the row used in error messages,
            e.g. ``'DL_info.csv line 12'``.

    Returns:
        dict: Parsed lesion record with 0-based pixel coordinates:
        ``file_name`` ('000001_01_01/109.png'), ``series``, ``patient``,
        ``study``, ``series_id``, ``key_slice``, ``recist`` (8 floats,
        as in the file), ``bbox_xyxy`` (4 floats, clipped to ``[0, width] x
        [0, height]``), ``bbox_clipped`` (None, or the message saying how
        the box was clipped), ``diameters`` (2), ``location`` (3),
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
    ints = {col: _parse_int(cell[col], col, where) for col in _INT_COLUMNS}
    vec = {
        col: _parse_vector(cell[col], n, col, where)
        for col, n in _VECTOR_COLUMNS.items()
    }
    series = _check_identity(cell, ints, where)
    height, width = _check_image_size(cell, vec, where)
    key = ints['Key_slice_index']
    _check_geometry(cell, vec, key, where)
    _check_labels(ints, where)
    age = _parse_age(cell['Patient_age'], where)
    bbox, clipped = _parse_box(cell['Bounding_boxes'], vec['Bounding_boxes'],
                               height, width, where)
    first, last = vec['Slice_range']
    return dict(
        csv_file_name=cell['File_name'].strip(),
        file_name=f'{series}/{slice_file_name(key)}',
        series=series,
        patient=ints['Patient_index'],
        study=ints['Study_index'],
        series_id=ints['Series_ID'],
        key_slice=key,
        recist=[v - 1 for v in vec['Measurement_coordinates']],
        bbox_xyxy=bbox,
        bbox_clipped=clipped,
        diameters=vec['Lesion_diameters_Pixel_'],
        location=vec['Normalized_lesion_location'],
        lesion_type=ints['Coarse_lesion_type'],
        noisy=ints['Possibly_noisy'],
        slice_range=[int(first), int(last)],
        spacing=vec['Spacing_mm_px_'],
        slice_interval=vec['Spacing_mm_px_'][2],
        height=height,
        width=width,
        dicom_window=vec['DICOM_windows'],
        gender=cell['Patient_gender'].strip(),
        age=age,
        split=ints['Train_Val_Test'])


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
