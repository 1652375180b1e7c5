"""Fixtures of the VDT pre-training tests: tiny generated image folders."""
import os.path as osp

import cv2
import numpy as np
import pytest


def write_image_folder(root,
                       split='train',
                       num_classes=3,
                       per_class=4,
                       size=(20, 24),
                       gray_every=3,
                       seed=0):
    """Write ``root/split/class_<c>/<i>.png`` images; every ``gray_every``-th
    image is single-channel. The class is encoded in the mean intensity of
    the red channel so a model can learn it. Returns the class names."""
    rng = np.random.RandomState(seed)
    classes = [f'class_{c}' for c in range(num_classes)]
    for c, name in enumerate(classes):
        folder = osp.join(str(root), split, name)
        import os
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            h, w = size
            img = rng.randint(0, 60, size=(h, w, 3)).astype(np.uint8)
            img[..., 2] += np.uint8(60 * c)  # cv2 writes BGR: index 2 = red
            if gray_every and i % gray_every == gray_every - 1:
                img = img[..., 2]
            cv2.imwrite(osp.join(folder, f'{i:03d}.png'), img)
    return classes


@pytest.fixture
def image_root(tmp_path):
    """A dataset root with train/ and val/ class folders (3 classes)."""
    write_image_folder(tmp_path, 'train', per_class=4, seed=0)
    write_image_folder(tmp_path, 'val', per_class=2, seed=1)
    return tmp_path
