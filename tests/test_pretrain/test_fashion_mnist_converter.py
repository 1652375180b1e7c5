import gzip
import os
import os.path as osp
import struct

import cv2
import numpy as np
import pytest

from tool_loader import load_tool

fm = load_tool('tools/dataset_converters/fashion_mnist_to_folder.py')


def _write_idx(path, arr, compress):
    header = struct.pack('>BBBB', 0, 0, 8, arr.ndim) + struct.pack(
        '>' + 'I' * arr.ndim, *arr.shape)
    opener = gzip.open if compress else open
    with opener(path + ('.gz' if compress else ''), 'wb') as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _fake_fashion_mnist(src, n_train=30, n_val=20):
    os.makedirs(src, exist_ok=True)
    rng = np.random.RandomState(0)
    data = {}
    for stem, n, compress in (('train', n_train, True), ('t10k', n_val,
                                                         False)):
        images = rng.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = np.arange(n) % 10
        _write_idx(
            osp.join(src, f'{stem}-images-idx3-ubyte'), images, compress)
        _write_idx(
            osp.join(src, f'{stem}-labels-idx1-ubyte'), labels, compress)
        data[stem] = (images, labels)
    return data


def test_convert_full_and_limited(tmp_path):
    src = str(tmp_path / 'src')
    data = _fake_fashion_mnist(src)
    out = str(tmp_path / 'out')
    assert fm.main(['--src', src, '--out-dir', out]) == 0
    classes = sorted(os.listdir(osp.join(out, 'train')))
    assert classes[0] == '0_t-shirt' and classes[9] == '9_ankle-boot'
    assert len(os.listdir(osp.join(out, 'train', '3_dress'))) == 3
    img = cv2.imread(
        osp.join(out, 'train', '3_dress', '00013.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(img, data['train'][0][13])
    n_val = sum(len(files) for _, _, files in os.walk(osp.join(out, 'val')))
    assert n_val == 20

    out2 = str(tmp_path / 'out2')
    assert fm.main([
        '--src', src, '--out-dir', out2, '--limit-train', '12', '--limit-val',
        '10'
    ]) == 0
    per_class = [
        len(os.listdir(osp.join(out2, 'train', c)))
        for c in sorted(os.listdir(osp.join(out2, 'train')))
    ]
    assert sum(per_class) == 12 and per_class[:2] == [2, 2]
    assert max(per_class) - min(per_class) <= 1


def test_bad_input(tmp_path, capsys):
    assert fm.main(['--src',
                    str(tmp_path), '--out-dir',
                    str(tmp_path / 'o')]) == 1
    assert 'dataset-fashion-mnist' in capsys.readouterr().err
    bad = str(tmp_path / 'bad-idx')
    with open(bad, 'wb') as f:
        f.write(b'\x00\x00\x08\x01' + struct.pack('>I', 10) + b'\x00' * 3)
    with pytest.raises(ValueError, match='expected 10 bytes'):
        fm.read_idx(bad)
