import os
import os.path as osp

import pytest

from cspr_det.datasets import ImageFolderDataset


def test_folder_layout(image_root):
    # a non-image file and a hidden folder are ignored
    open(osp.join(str(image_root), 'train', 'class_0', 'notes.txt'),
         'w').close()
    os.makedirs(osp.join(str(image_root), 'train', '.cache'))
    ds = ImageFolderDataset(
        data_root=str(image_root), data_prefix=dict(img_path='train'))
    assert ds.metainfo['classes'] == ('class_0', 'class_1', 'class_2')
    assert len(ds) == 12
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert labels == [0] * 4 + [1] * 4 + [2] * 4
    info = ds.get_data_info(5)
    assert info['img_path'].endswith(osp.join('class_1', '001.png'))
    assert ds.get_cat_ids(5) == [1]


def test_folder_layout_fixed_class_order(image_root):
    ds = ImageFolderDataset(
        data_root=str(image_root),
        data_prefix=dict(img_path='train'),
        metainfo=dict(classes=['class_2', 'class_1', 'class_0', 'unused']))
    assert ds.get_data_info(0)['gt_label'] == 2
    assert len(ds.metainfo['classes']) == 4
    with pytest.raises(ValueError, match='not in metainfo'):
        ImageFolderDataset(
            data_root=str(image_root),
            data_prefix=dict(img_path='train'),
            metainfo=dict(classes=['class_0']))


def test_list_file(image_root):
    meta = osp.join(str(image_root), 'meta')
    os.makedirs(meta)
    with open(osp.join(meta, 'train.txt'), 'w') as f:
        f.write('class_0/000.png 0\n\nclass_2/001.png 2\n')
    ds = ImageFolderDataset(
        data_root=str(image_root),
        data_prefix=dict(img_path='train'),
        ann_file='meta/train.txt')
    assert len(ds) == 2
    assert ds.get_data_info(1)['gt_label'] == 2
    assert ds.get_data_info(1)['img_path'] == osp.join(
        str(image_root), 'train', 'class_2', '001.png')
    assert ds.metainfo['classes'] == ('0', '1', '2')


@pytest.mark.parametrize('line,match', [
    ('class_0/000.png\n', 'line 1'),
    ('class_0/000.png zero\n', 'not an integer'),
    ('class_0/000.png -1\n', 'negative'),
])
def test_list_file_malformed(image_root, line, match):
    path = osp.join(str(image_root), 'bad.txt')
    with open(path, 'w') as f:
        f.write(line)
    with pytest.raises(ValueError, match=match):
        ImageFolderDataset(
            data_root=str(image_root),
            data_prefix=dict(img_path='train'),
            ann_file='bad.txt')


def test_missing_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder not found'):
        ImageFolderDataset(
            data_root=str(tmp_path), data_prefix=dict(img_path='train'))
    os.makedirs(osp.join(str(tmp_path), 'train'))
    with pytest.raises(ValueError, match='no class sub-folder'):
        ImageFolderDataset(
            data_root=str(tmp_path), data_prefix=dict(img_path='train'))
    os.makedirs(osp.join(str(tmp_path), 'train', 'cat'))
    with pytest.raises(ValueError, match='no image'):
        ImageFolderDataset(
            data_root=str(tmp_path), data_prefix=dict(img_path='train'))
    with pytest.raises(FileNotFoundError, match='list file not found'):
        ImageFolderDataset(
            data_root=str(tmp_path),
            data_prefix=dict(img_path='train'),
            ann_file='nope.txt')
