"""Convert Fashion-MNIST (IDX files) to the ImageNet folder layout.

    python tools/dataset_converters/fashion_mnist_to_folder.py \
        --out-dir data/fashion_mnist [--src DIR] \
        [--limit-train N] [--limit-val N]

Reads ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` from
``--src`` (default: where Debian's ``dataset-fashion-mnist`` package installs
them, ``/usr/share/datasets/fashion-mnist``) and writes 28x28 grayscale PNGs:

    OUT/train/<class>/<index>.png   (the 60,000 official training images)
    OUT/val/<class>/<index>.png     (the 10,000 official test images)

Class folder names are ``<label>_<name>`` (e.g. ``0_t-shirt``) so that the
alphabetical order used by ``cspr_det.ImageFolderDataset`` equals the
official label order. ``--limit-*`` keep the first N images of a split with
the same number per class (balanced, deterministic).
"""
import argparse
import gzip
import os
import os.path as osp
import struct
import sys

import numpy as np

DEFAULT_SRC = '/usr/share/datasets/fashion-mnist'
CLASSES = ('t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal',
           'shirt', 'sneaker', 'bag', 'ankle-boot')
SPLITS = dict(train='train', val='t10k')


def _open(path_wo_gz: str):
    for path in (path_wo_gz, path_wo_gz + '.gz'):
        if osp.isfile(path):
            return gzip.open(path, 'rb') if path.endswith('.gz') else open(
                path, 'rb')
    raise FileNotFoundError(
        f'{path_wo_gz}[.gz] not found; install Fashion-MNIST with '
        '`apt-get install dataset-fashion-mnist` or pass --src')


def read_idx(path_wo_gz: str) -> np.ndarray:
    """Read an IDX file (uint8 data) into an array.

    Args:
        path_wo_gz: Path without the optional ``.gz`` suffix.

    Returns:
        np.ndarray: (N,) labels or (N, rows, cols) images, uint8.
    """
    with _open(path_wo_gz) as f:
        header = f.read(4)
        if len(header) != 4 or header[:2] != b'\x00\x00':
            raise ValueError(f'{path_wo_gz}: not an IDX file')
        if header[2] != 0x08:
            raise ValueError(f'{path_wo_gz}: only uint8 IDX data supported '
                             f'(type code 0x{header[2]:02x})')
        ndim = header[3]
        dims = struct.unpack('>' + 'I' * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f'{path_wo_gz}: expected {int(np.prod(dims))} bytes '
                         f'of data for shape {dims}, found {data.size}')
    return data.reshape(dims)


def balanced_subset(labels: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first ``limit // num_classes`` images of every class
    (the remainder is taken from the lowest labels), in increasing order."""
    classes = np.unique(labels)
    per_class = limit // len(classes)
    extra = limit - per_class * len(classes)
    keep = []
    for i, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        keep.append(idx[:per_class + (1 if i < extra else 0)])
    return np.sort(np.concatenate(keep))


def convert(src: str, out_dir: str, limits: dict) -> dict:
    """Write the PNG folders. Returns ``{split: number_of_images}``."""
    import cv2
    counts = {}
    for split, stem in SPLITS.items():
        images = read_idx(osp.join(src, f'{stem}-images-idx3-ubyte'))
        labels = read_idx(osp.join(src, f'{stem}-labels-idx1-ubyte'))
        if len(images) != len(labels):
            raise ValueError(f'{split}: {len(images)} images but '
                             f'{len(labels)} labels in {src}')
        index = np.arange(len(labels))
        if limits.get(split):
            index = balanced_subset(labels, limits[split])
        for c, name in enumerate(CLASSES):
            os.makedirs(osp.join(out_dir, split, f'{c}_{name}'), exist_ok=True)
        for i in index:
            label = int(labels[i])
            path = osp.join(out_dir, split, f'{label}_{CLASSES[label]}',
                            f'{i:05d}.png')
            if not cv2.imwrite(path, images[i]):
                raise IOError(f'cannot write {path}')
        counts[split] = len(index)
    return counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fashion-MNIST IDX files -> train/<class>/*.png and '
        'val/<class>/*.png')
    parser.add_argument(
        '--src',
        default=DEFAULT_SRC,
        help='folder with the IDX files (default '
        f'{DEFAULT_SRC})')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--limit-train',
        type=int,
        default=0,
        help='keep N balanced training images (0 = all)')
    parser.add_argument(
        '--limit-val',
        type=int,
        default=0,
        help='keep N balanced validation images (0 = all)')
    parser.add_argument(
        '--limit',
        type=int,
        default=0,
        help='shortcut: same N for both splits')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    limits = dict(
        train=args.limit_train or args.limit, val=args.limit_val or args.limit)
    for split, n in limits.items():
        if n < 0:
            print(f'error: --limit-{split} must be >= 0', file=sys.stderr)
            return 2
    try:
        counts = convert(args.src, args.out_dir, limits)
    except (OSError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    for split, n in counts.items():
        print(f'{split}: {n} images -> {osp.join(args.out_dir, split)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
