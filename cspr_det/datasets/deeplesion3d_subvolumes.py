"""Sub-volume NIfTI files of the DeepLesion 3D benchmark matched to their
3D annotations.

The files are named the way the NIH ``DL_save_nifti.py`` names them,
``{series}_{first:03d}-{last:03d}.nii.gz`` (``first``/``last``: the PNG
slice numbers the sub-volume holds); they may lie in one folder or in
sub-folders of it.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Union

import numpy as np

from .deeplesion3d_annotations import (AnnotationError, load_3d_annotations,
                                       parse_subvolume_name)

__all__ = ['DeepLesion3DSubvolumes', 'index_subvolume_files']

_SUFFIXES = ('.nii.gz', '.nii')


def index_subvolume_files(folder: str) -> Dict[str, str]:
    """``{name: path}`` of every ``.nii`` / ``.nii.gz`` under ``folder``.

    Raises:
        FileNotFoundError: ``folder`` is not a directory.
        AnnotationError: Two files share a sub-volume name.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder}: no such folder')
    found: Dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for fname in sorted(files):
            for ext in _SUFFIXES:
                if fname.endswith(ext):
                    name = fname[:-len(ext)]
                    path = osp.join(root, fname)
                    if name in found:
                        raise AnnotationError(
                            f'{path}: sub-volume {name} is also '
                            f'{found[name]}')
                    found[name] = path
                    break
    return found


class DeepLesion3DSubvolumes:
    """The annotated sub-volumes of one split and their NIfTI files.

    Args:
        subvolume_dir: Folder of the sub-volume files.
        annotations: Annotation file (pickle or JSON, see
            :func:`~.deeplesion3d_annotations.load_3d_annotations`) or the
            loaded ``{split: {name: boxes}}`` dict.
        split: ``'test'`` or ``'val'`` (any split of the file).
        allow_missing: Keep going when annotated sub-volumes have no file
            (they are listed in :attr:`missing`); by default a missing file
            raises, naming the first ones and the count.

    Attributes:
        entries: One dict per sub-volume with a file, in annotation order:
            ``name``, ``path``, ``series``, ``first``, ``last``,
            ``gt_boxes`` ``(n, 6)`` float64.
        missing: Annotated sub-volumes without a file.
        unannotated: Sub-volume files of the folder absent from the split
            (ignored).
    """

    def __init__(self,
                 subvolume_dir: str,
                 annotations: Union[str, dict],
                 split: str = 'test',
                 allow_missing: bool = False) -> None:
        if isinstance(annotations, str):
            subs = load_3d_annotations(annotations, split)
        else:
            if split not in annotations:
                raise AnnotationError(f'annotations have no split {split!r}')
            subs = annotations[split]
        files = index_subvolume_files(subvolume_dir)
        self.split = split
        self.subvolume_dir = subvolume_dir
        self.entries: List[dict] = []
        self.missing: List[str] = []
        for name, boxes in subs.items():
            series, first, last = parse_subvolume_name(name)
            if name not in files:
                self.missing.append(name)
                continue
            self.entries.append(
                dict(
                    name=name,
                    path=files[name],
                    series=series,
                    first=first,
                    last=last,
                    gt_boxes=np.asarray(boxes, np.float64)))
        self.unannotated = sorted(set(files) - set(subs))
        if self.missing and not allow_missing:
            shown = ', '.join(self.missing[:3])
            more = f' and {len(self.missing) - 3} more' \
                if len(self.missing) > 3 else ''
            raise FileNotFoundError(
                f'{subvolume_dir}: {len(self.missing)} of {len(subs)} '
                f'{split} sub-volumes have no file: {shown}{more} '
                '(expected {name}.nii.gz)')

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        return self.entries[index]

    @property
    def names(self) -> List[str]:
        """Sub-volume names with a file, in annotation order."""
        return [e['name'] for e in self.entries]

    def gt_boxes(self, names: Optional[List[str]] = None) -> List[np.ndarray]:
        """``(n, 6)`` boxes of ``names`` (default: all entries)."""
        by_name = {e['name']: e['gt_boxes'] for e in self.entries}
        return [by_name[n] for n in (names or self.names)]
