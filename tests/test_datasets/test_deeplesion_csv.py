"""DL_info.csv parsing and conversion, on real rows of the official file.

``DL_info_edge_row.csv`` holds one official test row whose box leaves the
image: its File_name, Bounding_boxes and Image_size are those of the real
row (``003957_03_01_586.png``, box ``489.818, 252.689, 513.681, 284.578`` on
512 x 512); the other cells are consistent stand-ins (RECIST marks = the box
less its 5 px margin, test split, soft-tissue type).
"""
import csv
import json
import os.path as osp
import shutil

import pytest

from cspr_det.datasets.deeplesion_coco import (convert_deeplesion_csv,
                                               format_summary)
from cspr_det.datasets.deeplesion_csv import (DL_INFO_HEADER, LESION_TYPES,
                                              deeplesion_row,
                                              parse_deeplesion_row,
                                              read_deeplesion_csv)
from tool_loader import load_tool

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'deeplesion')
EXCERPT = osp.join(DATA, 'DL_info_excerpt.csv')
EDGE_ROW = osp.join(DATA, 'DL_info_edge_row.csv')


def _rows():
    with open(EXCERPT, newline='') as f:
        return list(csv.reader(f))


def _write(path, rows):
    with open(path, 'w', newline='') as f:
        csv.writer(f, lineterminator='\n').writerows(rows)


def _load(out_dir, split):
    with open(osp.join(out_dir, f'deeplesion_{split}.json')) as f:
        return json.load(f)


def test_header_and_row_roundtrip():
    rows = _rows()
    assert tuple(rows[0]) == DL_INFO_HEADER
    assert len(LESION_TYPES) == 8
    # formatting parsed records reproduces the official cells exactly
    records, rejected = read_deeplesion_csv(EXCERPT)
    assert not rejected and len(records) == 158
    for rec, row in zip(records, rows[1:]):
        assert deeplesion_row(rec) == row


def test_convert_excerpt(tmp_path):
    summary = convert_deeplesion_csv(EXCERPT, str(tmp_path))
    assert summary['rows'] == 158 and summary['rows_ok'] == 158
    assert not summary['rejected']
    # 105 train / 18 val / 35 test lesions; several lesions share key slices
    assert {
        k: v['lesions']
        for k, v in summary['splits'].items()
    } == dict(
        train=105, val=18, test=35)
    assert {
        k: v['images']
        for k, v in summary['splits'].items()
    } == dict(
        train=103, val=17, test=32)
    train, test = _load(tmp_path, 'train'), _load(tmp_path, 'test')
    assert train['categories'] == [dict(id=1, name='lesion')]

    # CSV line 2: 000089_01_01_037.png, box "132.977, 171.808, 165.939,
    # 214.029" (1-based), spacing 0.859375 mm, 5 mm slices, range 31-43
    img = next(i for i in train['images']
               if i['file_name'] == '000089_01_01/037.png')
    assert img['series'] == '000089_01_01' and img['key_slice'] == 37
    assert img['slice_interval'] == 5.0
    assert img['spacing'] == [0.859375, 0.859375, 5.0]
    assert img['slice_range'] == [31, 43]
    assert img['dicom_window'] == [-175.0, 275.0]
    assert (img['height'], img['width']) == (512, 512)
    assert img['gender'] == 'F' and img['age'] == 71.0 and img['split'] == 1
    ann = [a for a in train['annotations'] if a['image_id'] == img['id']]
    assert len(ann) == 1
    assert ann[0]['bbox'] == pytest.approx(
        [131.977, 170.808, 165.939 - 132.977, 214.029 - 171.808])
    assert ann[0]['area'] == pytest.approx(32.962 * 42.221)
    assert ann[0]['lesion_type'] == -1 and ann[0]['noisy'] == 0
    assert ann[0]['recist'][:2] == pytest.approx([153.273, 175.808])
    assert ann[0]['diameters'] == pytest.approx([33.8477, 24.7578])

    # CSV lines 123-124: two test lesions (type 2) on 000097_02_01_065.png
    img = next(i for i in test['images']
               if i['file_name'] == '000097_02_01/065.png')
    anns = [a for a in test['annotations'] if a['image_id'] == img['id']]
    assert len(anns) == 2
    assert [a['lesion_type'] for a in anns] == [2, 2]
    assert anns[0]['bbox'] == pytest.approx(
        [86.826, 190.836, 111.541 - 87.826, 221.881 - 191.836])
    # ids are unique across splits
    ids = [
        i['id'] for s in ('train', 'val', 'test')
        for i in _load(tmp_path, s)['images']
    ]
    assert len(ids) == len(set(ids))
    text = format_summary(summary)
    assert 'train' in text and 'kept' in text


def test_noisy_kept_or_dropped(tmp_path):
    rows = _rows()
    col = DL_INFO_HEADER.index('Possibly_noisy')
    # line 124 shares its key slice with line 123; line 128 is alone
    rows[123 - 1][col] = '1'
    rows[128 - 1][col] = '1'
    csv_path = tmp_path / 'DL_info.csv'
    _write(csv_path, rows)
    keep = convert_deeplesion_csv(str(csv_path), str(tmp_path / 'keep'))
    assert keep['splits']['test'] == dict(images=32, lesions=35, noisy=2)
    drop = convert_deeplesion_csv(
        str(csv_path), str(tmp_path / 'drop'), drop_noisy=True)
    assert drop['noisy_dropped'] == 2 and drop['images_dropped'] == 1
    assert drop['splits']['test'] == dict(images=31, lesions=33, noisy=0)
    names = [
        i['file_name'] for i in _load(tmp_path / 'drop', 'test')['images']
    ]
    assert '000097_02_01/115.png' not in names
    assert '000097_02_01/065.png' in names


@pytest.mark.parametrize(
    'column,value,reason',
    [
        ('Bounding_boxes', '87.826, 191.836, 111.541', 'bad_vector'),
        ('Bounding_boxes', '87.826, abc, 111.541, 221.881', 'bad_vector'),
        ('Measurement_coordinates', '1, 2', 'bad_vector'),
        ('Bounding_boxes', '87.826, 191.836, 87.826, 221.881',
         'zero_size_box'),
        # 1-based 514 = 0-based 513: starts right of the 512 px wide image
        ('Bounding_boxes', '514, 191.836, 530, 221.881', 'box_outside_image'),
        # 1-based 1 = 0-based 0: ends at the left border
        ('Bounding_boxes', '-20, 191.836, 1, 221.881', 'box_outside_image'),
        ('Bounding_boxes', '87.826, 600, 111.541, 621.881',
         'box_outside_image'),
        ('Key_slice_index', 'x', 'bad_integer'),
        ('File_name', '000097_02_01_066.png', 'bad_file_name'),
        ('Train_Val_Test', '4', 'bad_split'),
        ('Slice_range', '70, 98', 'bad_slice_range'),
        ('Spacing_mm_px_', '0.9, 0.9, 0', 'bad_spacing'),
        ('DICOM_windows', '275, -175', 'bad_window'),
        ('Coarse_lesion_type', '9', 'bad_lesion_type'),
        ('Patient_age', 'old', 'bad_age'),
    ])
def test_bad_rows_rejected_and_counted(tmp_path, column, value, reason):
    rows = _rows()
    rows[123 - 1][DL_INFO_HEADER.index(column)] = value
    csv_path = tmp_path / 'DL_info.csv'
    _write(csv_path, rows)
    summary = convert_deeplesion_csv(str(csv_path), str(tmp_path / 'out'))
    assert summary['rejected'] == {reason: 1}
    assert summary['rows'] == 158 and summary['rows_ok'] == 157
    msg = summary['rejected_rows'][0]['message']
    assert 'line 123' in msg and summary['rejected_rows'][0]['line'] == 123
    assert summary['splits']['test']['lesions'] == 34
    assert reason in format_summary(summary)
    assert summary['clipped'] == 0
    if reason == 'box_outside_image':
        assert 'lies entirely outside the 512x512 image' in msg


def test_official_edge_lesion_is_clipped_and_kept(tmp_path):
    """The real test lesion whose padded box leaves the image is kept,
    clipped to the image and counted; the official 4,831 / 4,927 test
    images / lesions depend on it."""
    with open(EDGE_ROW, newline='') as f:
        edge = list(csv.reader(f))
    assert tuple(edge[0]) == DL_INFO_HEADER
    rec = parse_deeplesion_row(edge[1], 'DL_info.csv line 160')
    assert rec['bbox_xyxy'] == pytest.approx(
        [488.818, 251.689, 512.0, 283.578])
    assert 'line 160' in rec['bbox_clipped']
    assert "'489.818, 252.689, 513.681, 284.578'" in rec['bbox_clipped']

    csv_path = tmp_path / 'DL_info.csv'
    _write(csv_path, _rows() + edge[1:])
    summary = convert_deeplesion_csv(str(csv_path), str(tmp_path / 'out'))
    assert summary['rows'] == summary['rows_ok'] == 159
    assert not summary['rejected'] and summary['clipped'] == 1
    assert [r['line'] for r in summary['clipped_rows']] == [160]
    assert summary['splits']['test'] == dict(images=33, lesions=36, noisy=0)
    img = next(
        i for i in _load(tmp_path / 'out', 'test')['images']
        if i['file_name'] == '003957_03_01/586.png')
    ann = [
        a for a in _load(tmp_path / 'out', 'test')['annotations']
        if a['image_id'] == img['id']
    ]
    assert len(ann) == 1
    assert ann[0]['bbox'] == pytest.approx(
        [488.818, 251.689, 512 - 488.818, 283.578 - 251.689])
    assert ann[0]['area'] == pytest.approx(
        (512 - 488.818) * (283.578 - 251.689))
    # the RECIST marks are inside the image and stay as they are
    assert ann[0]['recist'][:2] == pytest.approx([500.75, 256.689])
    text = format_summary(summary)
    assert '(1 with the box clipped to the image)' in text
    assert 'line 160: Bounding_boxes' in text and 'clipped to 0-based' in text


@pytest.mark.parametrize('value,expected', [
    ('500, 191.836, 530, 221.881', [499, 190.836, 512, 220.881]),
    ('-20, 191.836, 30, 221.881', [0, 190.836, 29, 220.881]),
    ('87.826, 491.836, 111.541, 521.881', [86.826, 490.836, 110.541, 512]),
])
def test_box_past_an_edge_is_clipped_and_counted(tmp_path, value, expected):
    rows = _rows()
    rows[123 - 1][DL_INFO_HEADER.index('Bounding_boxes')] = value
    csv_path = tmp_path / 'DL_info.csv'
    _write(csv_path, rows)
    summary = convert_deeplesion_csv(str(csv_path), str(tmp_path / 'out'))
    assert not summary['rejected'] and summary['rows_ok'] == 158
    assert summary['clipped'] == 1
    assert summary['clipped_rows'][0]['line'] == 123
    assert summary['splits']['test']['lesions'] == 35
    boxes = [a['bbox'] for a in _load(tmp_path / 'out', 'test')['annotations']]
    x1, y1, x2, y2 = expected
    assert [x1, y1, x2 - x1, y2 - y1] in [pytest.approx(b) for b in boxes]


def test_box_touching_the_border_is_not_clipped(tmp_path):
    # 1-based 513 = 0-based 512 = the right border of a 512 px image
    rows = _rows()
    rows[123 - 1][DL_INFO_HEADER.index('Bounding_boxes')] = \
        '500, 191.836, 513, 221.881'
    csv_path = tmp_path / 'DL_info.csv'
    _write(csv_path, rows)
    summary = convert_deeplesion_csv(str(csv_path), str(tmp_path / 'out'))
    assert summary['clipped'] == 0 and not summary['rejected']


def test_wrong_column_count_and_empty_age(tmp_path):
    rows = _rows()
    rows[10 - 1] = rows[10 - 1][:-1]  # 17 columns
    rows[11 - 1] = rows[11 - 1] + ['extra']  # 19 columns
    age = DL_INFO_HEADER.index('Patient_age')
    rows[12 - 1][age] = ''  # empty age is allowed
    csv_path = tmp_path / 'DL_info.csv'
    _write(csv_path, rows)
    summary = convert_deeplesion_csv(str(csv_path), str(tmp_path / 'out'))
    assert summary['rejected'] == {'column_count': 2}
    assert [r['line'] for r in summary['rejected_rows']] == [10, 11]
    name = rows[12 - 1][0]
    name = name[:12] + '/' + name[13:]
    img = next(
        i for i in _load(tmp_path / 'out', 'train')['images']
        if i['file_name'] == name)
    assert img['age'] is None


def test_parse_row_errors_name_the_row():
    row = _rows()[1]
    rec = parse_deeplesion_row(row, 'my.csv line 2')
    assert rec['bbox_xyxy'] == pytest.approx(
        [131.977, 170.808, 164.939, 213.029])
    assert rec['bbox_clipped'] is None
    with pytest.raises(ValueError, match='my.csv line 2: expected 18'):
        parse_deeplesion_row(row[:5], 'my.csv line 2')


def test_bad_header_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        convert_deeplesion_csv(str(tmp_path / 'nope.csv'), str(tmp_path))
    rows = _rows()
    rows[0][0] = 'Filename'
    _write(tmp_path / 'bad.csv', rows)
    with pytest.raises(ValueError, match='header'):
        convert_deeplesion_csv(str(tmp_path / 'bad.csv'), str(tmp_path))


def test_converter_cli(tmp_path, capsys):
    mod = load_tool('tools/dataset_converters/deeplesion.py')
    shutil.copy(EXCERPT, tmp_path / 'DL_info.csv')
    rc = mod.main([
        '--csv',
        str(tmp_path / 'DL_info.csv'), '--out-dir',
        str(tmp_path / 'ann'), '--drop-noisy'
    ])
    out = capsys.readouterr().out
    assert rc == 0
    assert 'rows read: 158' in out and '0 dropped' in out
    for split in ('train', 'val', 'test'):
        assert (tmp_path / 'ann' / f'deeplesion_{split}.json').is_file()
    assert mod.main(
        ['--csv', str(tmp_path / 'x.csv'), '--out-dir',
         str(tmp_path)]) == 1
