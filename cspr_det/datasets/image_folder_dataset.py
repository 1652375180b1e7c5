"""ImageNet-style image classification dataset used for VDT pre-training."""
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from cspr_det.registry import DATASETS
from .data_check import DataCheckReport, check_file_size, run_checks

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Image classification dataset read from class folders or a list file.

    Two layouts are supported:

    * **Folders** (``ann_file=''``): ``<data_root>/<data_prefix.img_path>/
      <class>/<image>``, e.g. ``data/imagenet/train/n01440764/x.JPEG``. Class
      names are the sub-folder names sorted alphabetically (or the order given
      in ``metainfo['classes']``); label = position in that list. Files whose
      extension (case-insensitive) is not in ``extensions`` are ignored;
      hidden files and folders are skipped.
    * **List file** (``ann_file='meta/train.txt'``): one ``<path> <label>``
      pair per non-empty line; ``path`` is relative to
      ``<data_root>/<data_prefix.img_path>`` (or absolute) and may contain
      spaces (the label is the last field); ``label`` is a non-negative int.
      Class names come from ``metainfo['classes']`` when given, otherwise
      they are ``'0' ... str(max_label)``.

    Every item of the data list is ``dict(img_path=str, gt_label=int)``.

    Args:
        data_root: Root of the dataset, e.g. ``'data/imagenet/'``.
        data_prefix: ``dict(img_path='train')``: the image folder below
            ``data_root``.
        ann_file: Optional list file (see above). Empty means folder layout.
        extensions: Accepted image file extensions (lower case, with dot).
        metainfo: Optional ``dict(classes=[...])`` fixing the class order.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Raises:
        FileNotFoundError: The image folder or list file does not exist.
        ValueError: No class folder / no image was found, a list-file line is
            malformed (the file and line number are named), or a class folder
            is not in ``metainfo['classes']``.
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 ann_file: str = '',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='')
        if 'img_path' not in data_prefix:
            raise ValueError('ImageFolderDataset: data_prefix must contain '
                             f'the key "img_path", got {data_prefix}')
        self.extensions = tuple(ext.lower() for ext in extensions)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    # ------------------------------------------------------------------ #
    def _is_image(self, name: str) -> bool:
        return (not name.startswith('.')) and name.lower().endswith(
            self.extensions)

    def _scan_folders(self, img_dir: str) -> Tuple[List[str], List[dict]]:
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'ImageFolderDataset: image folder not found: {img_dir}')
        found = sorted(
            d for d in os.listdir(img_dir)
            if not d.startswith('.') and osp.isdir(osp.join(img_dir, d)))
        if not found:
            raise ValueError(
                f'ImageFolderDataset: no class sub-folder in {img_dir} '
                '(expected <img_dir>/<class>/<image>)')
        classes = self._metainfo.get('classes')
        if classes is None:
            classes = found
        else:
            classes = list(classes)
            unknown = [d for d in found if d not in classes]
            if unknown:
                raise ValueError(
                    f'ImageFolderDataset: class folders {unknown[:5]} in '
                    f'{img_dir} are not in metainfo["classes"]')
        label_of = {name: i for i, name in enumerate(classes)}
        data_list = []
        empty = []
        for name in found:
            class_dir = osp.join(img_dir, name)
            files = []
            for root, dirs, fnames in os.walk(class_dir, followlinks=True):
                dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
                files.extend(
                    osp.join(root, f) for f in sorted(fnames)
                    if self._is_image(f))
            if not files:
                empty.append(name)
            data_list.extend(
                dict(img_path=f, gt_label=label_of[name]) for f in files)
        if not data_list:
            raise ValueError(
                f'ImageFolderDataset: no image with an extension in '
                f'{self.extensions} under {img_dir}')
        if empty:
            print_log(
                f'ImageFolderDataset: {len(empty)} class folder(s) without '
                f'images in {img_dir}: {empty[:5]}',
                logger='current',
                level=logging.WARNING)
        return list(classes), data_list

    def _read_list_file(self, img_dir: str) -> Tuple[List[str], List[dict]]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'ImageFolderDataset: list file not found: {self.ann_file}')
        data_list = []
        with open(self.ann_file, encoding='utf-8') as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line:
                    continue
                parts = line.rsplit(None, 1)
                if len(parts) != 2:
                    raise ValueError(
                        f'ImageFolderDataset: {self.ann_file} line {lineno}: '
                        f'expected "<path> <label>", got {line!r}')
                path, label = parts
                try:
                    label = int(label)
                except ValueError:
                    raise ValueError(
                        f'ImageFolderDataset: {self.ann_file} line {lineno}: '
                        f'label {label!r} is not an integer') from None
                if label < 0:
                    raise ValueError(
                        f'ImageFolderDataset: {self.ann_file} line {lineno}: '
                        f'negative label {label}')
                if not osp.isabs(path):
                    path = osp.join(img_dir, path)
                data_list.append(dict(img_path=path, gt_label=label))
        if not data_list:
            raise ValueError(
                f'ImageFolderDataset: list file {self.ann_file} is empty')
        max_label = max(d['gt_label'] for d in data_list)
        classes = self._metainfo.get('classes')
        if classes is None:
            classes = [str(i) for i in range(max_label + 1)]
        elif max_label >= len(classes):
            raise ValueError(
                f'ImageFolderDataset: {self.ann_file} has label {max_label} '
                f'but metainfo["classes"] has only {len(classes)} names')
        return list(classes), data_list

    def load_data_list(self) -> List[dict]:
        """Scan the folders or read the list file.

        Returns:
            list[dict]: ``dict(img_path, gt_label)`` per image.
        """
        img_dir = self.data_prefix['img_path']
        if self.ann_file:
            classes, data_list = self._read_list_file(img_dir)
        else:
            classes, data_list = self._scan_folders(img_dir)
        self._metainfo['classes'] = tuple(classes)
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """Label of the ``idx``-th image as a one-element list."""
        return [int(self.get_data_info(idx)['gt_label'])]

    def check_data(self) -> DataCheckReport:
        """Every listed image exists and is not empty (one ``stat`` per
        image; images are decoded only by the pipeline).

        Returns:
            DataCheckReport: ``problems`` as ``(image path, problem)``.
        """
        self.full_init()
        paths = [self.get_data_info(i)['img_path'] for i in range(len(self))]

        def check(path: str) -> Optional[Tuple[str, str]]:
            problem = check_file_size(path)
            return None if problem is None else (path, problem)

        return DataCheckReport(
            checked=len(paths),
            problems=run_checks(paths, check),
            unit='image')
