"""Start-up data checks (headers and sizes only) of the file helpers and of
the volume / DeepLesion datasets, and skipping of a case that turns
unreadable during training."""
import io
import json
import logging
import os
import os.path as osp
import shutil
import zipfile

import cv2
import numpy as np
import pytest

import cspr_det.datasets.data_check as data_check
from cspr_det.datasets import (DeepLesionDataset, ImageFolderDataset,
                               LiTSDataset)
from cspr_det.datasets.data_check import (DataCheckReport,
                                          UnreadableSampleError, check_npy,
                                          check_png, npz_headers, png_header,
                                          summarize)
from seg_fixtures import tiny_seg_dataset

PIPELINE = [
    dict(type='cspr_det.LoadVolumeArrays', lazy=True),
    dict(type='cspr_det.HUWindow3D', window=(-200, 250)),
    dict(type='cspr_det.PackVolumeSegInputs')
]


@pytest.fixture(scope='module')
def lits(tmp_path_factory):
    return tiny_seg_dataset(tmp_path_factory, 'lits')


def _truncate(path, keep_fraction=0.5):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep_fraction)])


# --------------------------------------------------------------------- #
# file helpers
# --------------------------------------------------------------------- #
def test_check_npy_reads_the_header_and_compares_sizes(tmp_path):
    path = str(tmp_path / 'a.npy')
    np.save(path, np.zeros((3, 4, 5), np.int16))
    assert check_npy(path, (3, 4, 5), np.int16) is None
    assert check_npy(path, (3, 4, 6), np.int16) == \
        'shape (3, 4, 5), the index records (3, 4, 6)'
    assert check_npy(path, (3, 4, 5), np.uint8) == \
        'dtype int16, expected uint8'
    header = os.path.getsize(path) - 3 * 4 * 5 * 2
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:-50])
    assert check_npy(path) == \
        f'truncated: {header + 70} of {header + 120} bytes'
    with open(path, 'ab') as f:  # too long: a file rewritten in place
        f.write(b'\0' * 130)
    assert check_npy(path) == f'{header + 200} bytes, its header needs ' \
        f'{header + 120}'
    assert check_npy(str(tmp_path / 'gone.npy')) == 'not found'
    (tmp_path / 'bad.npy').write_bytes(b'not an array')
    assert check_npy(str(tmp_path /
                         'bad.npy')).startswith('not a readable .npy (')


def test_check_npy_reads_the_header_only(tmp_path, monkeypatch):
    path = str(tmp_path / 'big.npy')
    np.save(path, np.zeros((64, 64, 64), np.int16))
    read = []

    class Counting(io.FileIO):

        def read(self, *args):
            out = super().read(*args)
            read.append(len(out))
            return out

        def readinto(self, b):
            n = super().readinto(b)
            read.append(n)
            return n

    monkeypatch.setattr(
        data_check,
        'open',
        lambda p, mode='rb': Counting(p, 'r'),
        raising=False)
    assert check_npy(path, (64, 64, 64), np.int16) is None
    assert 0 < sum(read) <= 256  # the header, not the 512 KiB of data


def _npz_with_member(path, name, header_shape, payload):
    """An npz whose member ``name`` has an ``.npy`` header for
    ``header_shape`` (uint8) followed by ``payload`` bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, dict(descr='|u1', fortran_order=False, shape=header_shape))
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name + '.npy', buf.getvalue() + payload)


def test_npz_headers(tmp_path):
    good = str(tmp_path / 'good.npz')
    np.savez_compressed(
        good,
        voxel=np.zeros((4, 5, 6), np.uint8),
        answer1=np.ones((4, 5, 6), bool))
    heads = npz_headers(good)
    assert heads['voxel'] == ((4, 5, 6), np.dtype(np.uint8))
    assert heads['answer1'][0] == (4, 5, 6)
    short = str(tmp_path / 'short.npz')
    _npz_with_member(short, 'voxel', (10, 10), b'\0' * 50)
    with pytest.raises(
            ValueError,
            match=r"array 'voxel' holds \d+ bytes, "
            r'its header needs \d+'):
        npz_headers(short)
    cut = str(tmp_path / 'cut.npz')
    shutil.copy(good, cut)
    _truncate(cut)
    with pytest.raises(zipfile.BadZipFile):
        npz_headers(cut)


def test_png_header_and_check_png(tmp_path):
    path = str(tmp_path / 's.png')
    cv2.imwrite(path, np.full((20, 30), 32768, np.uint16))
    assert png_header(path) == (30, 20, 16)
    assert check_png(path, 30, 20, 16) is None
    assert check_png(path, 32, 20, 16) == \
        '30 x 20 pixels, the index records 32 x 20'
    cv2.imwrite(str(tmp_path / 'u8.png'), np.zeros((20, 30), np.uint8))
    assert check_png(str(tmp_path / 'u8.png'), 30, 20, 16) == \
        '8-bit, expected 16-bit'
    (tmp_path / 'empty.png').write_bytes(b'')
    assert check_png(str(tmp_path / 'empty.png')) == 'empty file'
    (tmp_path / 'text.png').write_bytes(b'hello world, not a png at all')
    assert check_png(str(tmp_path / 'text.png')).startswith('not a PNG')
    assert check_png(str(tmp_path / 'gone.png')) == 'not found'


def test_summary_lists_the_first_names_and_the_count():
    report = DataCheckReport(
        checked=9,
        unit='case',
        problems=[(f'c{i}', 'not found') for i in range(7)])
    assert summarize(
        'train LiTSDataset', report, limit=2) == (
            'train LiTSDataset: 7 of 9 cases: c0 (not found); c1 (not found); '
            '... and 5 more')


# --------------------------------------------------------------------- #
# datasets
# --------------------------------------------------------------------- #
def _damaged_lits(lits, dst):
    """A copy of the converted tiny LiTS with one training case's image
    truncated and another's label removed; returns (root, bad ids)."""
    shutil.copytree(lits['converted'], dst)
    split = json.load(open(lits['split']))
    cut, gone = split['train'][0], split['train'][1]
    _truncate(osp.join(dst, 'images', cut + '.npy'))
    os.remove(osp.join(dst, 'labels', gone + '.npy'))
    return dst, cut, gone


def test_volume_dataset_check_data(lits, tmp_path):
    ok = LiTSDataset(
        data_root=lits['converted'], split='train',
        pipeline=PIPELINE).check_data()
    split = json.load(open(lits['split']))
    assert ok.checked == len(split['train']) and ok.problems == []
    root, cut, gone = _damaged_lits(lits, str(tmp_path / 'c'))
    # the case without a label is skipped when the list is built, but the
    # check still reports it
    ds = LiTSDataset(data_root=root, split='train', pipeline=PIPELINE)
    assert gone in ds.skipped_cases
    report = ds.check_data()
    assert report.checked == len(split['train']) and report.unit == 'case'
    found = dict(report.problems)
    assert sorted(found) == sorted([cut, gone])
    assert found[cut].startswith(
        f'image {osp.join(root, "images", cut + ".npy")}: truncated: ')
    assert found[gone] == \
        f'label {osp.join(root, "labels", gone + ".npy")}: not found'


def test_volume_dataset_check_data_wrong_shape_and_dtype(lits, tmp_path):
    root = str(tmp_path / 'c')
    shutil.copytree(lits['converted'], root)
    split = json.load(open(lits['split']))
    case = split['train'][0]
    image = osp.join(root, 'images', case + '.npy')
    arr = np.load(image)
    np.save(image, arr[:-1])  # one slice fewer than the index records
    label = osp.join(root, 'labels', split['train'][1] + '.npy')
    np.save(label, np.load(label).astype(np.int32))
    report = LiTSDataset(data_root=root, split='train').check_data()
    found = dict(report.problems)
    assert found[case].endswith(
        f'shape {(arr.shape[0] - 1, ) + arr.shape[1:]}, the index records '
        f'{arr.shape}')
    assert found[split['train'][1]].endswith('dtype int32, expected uint8')


def test_unreadable_case_mid_run_is_skipped_and_counted(
        lits, tmp_path, monkeypatch):
    root = str(tmp_path / 'c')
    shutil.copytree(lits['converted'], root)
    ds = LiTSDataset(data_root=root, split='train', pipeline=PIPELINE)
    bad = ds.get_data_info(0)['case_id']
    _truncate(ds.get_data_info(0)['img_path'])  # after the start-up check
    logged = []
    monkeypatch.setattr(
        'cspr_det.datasets.data_check.print_log',
        lambda msg, **kw: logged.append((msg, kw.get('level'))))
    monkeypatch.setattr(ds, '_rand_another', lambda: 1)
    for _ in range(2):
        item = ds[0]  # another case is drawn instead
        assert item['data_samples'].metainfo['case_id'] != bad
    assert ds.num_unreadable == 2 and list(ds.unreadable_samples) == [bad]
    assert len(logged) == 2 and logged[1][1] == logging.WARNING
    assert logged[1][0].startswith(
        f'LiTSDataset: skipped unreadable sample {bad} ({bad}: cannot read '
        'image array ')
    assert logged[1][0].endswith('2 skip(s) of 1 unreadable sample(s) so far')
    # evaluation never leaves a case out silently
    test_ds = LiTSDataset(
        data_root=root, split='train', test_mode=True, pipeline=PIPELINE)
    with pytest.raises(UnreadableSampleError, match=f'^{bad}: cannot read'):
        test_ds[0]


def test_deeplesion_check_data(tiny_deeplesion, tmp_path):
    root = str(tmp_path / 'dl')
    shutil.copytree(tiny_deeplesion, root)

    def build():
        return DeepLesionDataset(
            ann_file='annotations/deeplesion_train.json',
            data_root=root,
            pipeline=[])

    ok = build().check_data()
    assert ok.problems == [] and ok.notes == [] and ok.checked > 2
    infos = [build().get_data_info(i) for i in range(2)]
    os.remove(infos[0]['img_path'])
    open(infos[1]['img_path'], 'wb').close()
    first, last = infos[1]['slice_range']
    context = next(i for i in (first, last) if i != infos[1]['key_slice'])
    os.remove(osp.join(infos[1]['series_dir'], f'{context:03d}.png'))
    report = build().check_data()

    def name(info):
        return osp.join(
            osp.basename(info['series_dir']), osp.basename(info['img_path']))

    assert dict(report.problems) == {
        name(infos[0]): 'not found',
        name(infos[1]): 'empty file'
    }
    assert (name(infos[1]), f'1 context slice(s) of {first}-{last} '
            f'missing, e.g. {context:03d}.png') in report.notes


def test_image_folder_check_data(tmp_path):
    for name in ('a', 'b'):
        os.makedirs(tmp_path / 'img' / name)
        cv2.imwrite(
            str(tmp_path / 'img' / name / 'x.png'), np.zeros((4, 4), np.uint8))
    open(tmp_path / 'img' / 'b' / 'y.png', 'wb').close()
    ds = ImageFolderDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path='img'))
    report = ds.check_data()
    assert report.checked == 3
    assert report.problems == [(str(tmp_path / 'img' / 'b' / 'y.png'),
                                'empty file')]
