"""3D segmentation dataset over converted volumes (LiTS, BTCV, ...)."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from cspr_det.registry import DATASETS
from .data_check import (DataCheckReport, SkipUnreadableMixin, check_npy,
                         run_checks)
from .patient_subsets import choose_patients
from .volume_converter import load_index

#: dtypes of the converted arrays (``volume_converter.convert_case``).
ARRAY_DTYPES = dict(image=np.int16, label=np.uint8)


def build_label_lut(label_map: Dict[int, int],
                    classes: Sequence[str]) -> np.ndarray:
    """(256,) uint8 table: source label value -> training id, 255 (ignore)
    for values ``label_map`` does not list; ValueError when it maps a value
    outside the ``classes``."""
    lut = np.full(256, 255, np.uint8)
    n = len(classes)
    for src, dst in label_map.items():
        if not 0 <= dst < n:
            raise ValueError(f'label_map maps {src} to {dst}, outside the '
                             f'{n} classes {tuple(classes)}')
        lut[src] = dst
    return lut


@DATASETS.register_module()
class BaseVolumeSegDataset(SkipUnreadableMixin, BaseDataset):
    """Cases of one split of a converted volume dataset.

    Reads ``index.json`` written by the LiTS / BTCV converters
    (``tools/dataset_converters/{lits,btcv}.py``, see
    :func:`~cspr_det.datasets.volume_converter.convert_dataset`): per-case
    ``.npy`` arrays (int16 HU, uint8 labels) on the canonical grid and their
    geometry.

    Every ``data_list`` entry holds ``img_path``, ``seg_map_path``,
    ``case_id``, ``spacing`` (z, y, x mm), ``origin``, ``direction``,
    ``source`` (the source NIfTI geometry, for writing predictions back),
    ``ori_shape`` (D, H, W), ``fg_z_range`` and ``class_z_ranges`` (in
    training ids) and ``label_lut`` (256 uint8: source label -> training id,
    255 = ignore).

    Bad cases (missing arrays, source label values outside the task's
    ``label_map``, empty foreground) raise a one-line error naming the case,
    or, with ``skip_bad_cases`` (the default for training), are skipped with
    one warning that counts and names them.

    :meth:`check_data` (the start-up data check of ``tools/train.py``)
    reports every case whose arrays are missing or differ from the index
    (header shape and dtype, file size), skipped cases included; a case
    that becomes unreadable during training is skipped with a counted
    warning (:class:`~cspr_det.datasets.data_check.SkipUnreadableMixin`,
    with ``skip_bad_cases``).

    Args:
        ann_file: The converted index, relative to ``data_root``.
        data_root: Converted dataset folder, e.g. ``'data/lits/converted/'``.
        split: Split name(s) to use (``'train'``, ``'val'``, ``'test'``).
        case_ids: Optional subset of case ids (in this order) within the
            split, e.g. for data-efficiency studies.
        label_map: Source label value -> training id; values not listed are
            rejected. Defaults to the class attribute ``LABEL_MAP``
            (identity over the classes when None).
        skip_bad_cases: Skip bad cases with a counted warning instead of
            raising. Defaults to ``not test_mode``.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``pipeline``, ``test_mode``, ``metainfo``, ``indices``, ...).
    """

    METAINFO: dict = dict(classes=())
    #: Source label value -> training id (None: identity over the classes).
    LABEL_MAP: Optional[Dict[int, int]] = None
    #: Expected ``dataset`` field of the index (None accepts any).
    DATASET_NAME: Optional[str] = None

    def __init__(self,
                 ann_file: str = 'index.json',
                 data_root: Optional[str] = None,
                 split: Union[str, Sequence[str]] = 'train',
                 case_ids: Optional[Sequence[str]] = None,
                 label_map: Optional[Dict[int, int]] = None,
                 case_fraction: float = 1.0,
                 case_fraction_seed: int = 0,
                 skip_bad_cases: Optional[bool] = None,
                 test_mode: bool = False,
                 **kwargs) -> None:
        self.split = (split, ) if isinstance(split, str) else tuple(split)
        self.case_ids = None if case_ids is None else list(case_ids)
        if not 0.0 < float(case_fraction) <= 1.0:
            raise ValueError(f'{type(self).__name__}: case_fraction must be '
                             f'in (0, 1], got {case_fraction}')
        self.case_fraction = float(case_fraction)
        self.case_fraction_seed = int(case_fraction_seed)
        self.skip_bad_cases = (not test_mode) if skip_bad_cases is None \
            else bool(skip_bad_cases)
        self._label_map_arg = label_map
        self.skipped_cases: Dict[str, str] = {}
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            test_mode=test_mode,
            **kwargs)

    # ------------------------------------------------------------------ #
    @property
    def label_map(self) -> Dict[int, int]:
        """Source label value -> training id."""
        if self._label_map_arg is not None:
            return {int(k): int(v) for k, v in self._label_map_arg.items()}
        if self.LABEL_MAP is not None:
            return dict(self.LABEL_MAP)
        return {i: i for i in range(len(self._metainfo['classes']))}

    def label_lut(self) -> np.ndarray:
        """(256,) uint8 table: source value -> training id (255 ignore)."""
        return build_label_lut(self.label_map, self._metainfo['classes'])

    def _case_problem(self, case: dict, root: str) -> Optional[str]:
        for key in ('image', 'label'):
            path = osp.join(root, case[key])
            if not osp.isfile(path):
                return f'{key} array not found: {path}'
        bad = [
            v for v in case.get('label_values', [])
            if int(v) not in self.label_map
        ]
        if bad:
            return (f'label value(s) {", ".join(map(str, bad))} outside the '
                    f'class range of {type(self).__name__} (source values '
                    f'{sorted(self.label_map)})')
        if case.get('fg_z_range') is None or not any(
                self.label_map.get(int(v), 0) > 0
                for v in case.get('label_values', [])):
            return 'empty foreground'
        return None

    def load_data_list(self) -> List[dict]:
        """Read the index and build the data list of ``split``."""
        index = load_index(self.ann_file)
        if self.DATASET_NAME and index.get('dataset') != self.DATASET_NAME:
            raise ValueError(
                f'{self.ann_file} holds a {index.get("dataset")!r} dataset, '
                f'{type(self).__name__} expects {self.DATASET_NAME!r}')
        root = osp.dirname(self.ann_file)
        cases = [c for c in index['cases'] if c.get('split') in self.split]
        if self.case_ids is not None:
            by_id = {c['case_id']: c for c in cases}
            missing = [c for c in self.case_ids if c not in by_id]
            if missing:
                raise ValueError(
                    f'case_ids not in split {"/".join(self.split)} of '
                    f'{self.ann_file}: {", ".join(missing[:5])}')
            cases = [by_id[c] for c in self.case_ids]
        if self.case_fraction < 1.0:
            keep = set(
                choose_patients([c['case_id'] for c in cases],
                                self.case_fraction, self.case_fraction_seed))
            cases = [c for c in cases if c['case_id'] in keep]
        lut = self.label_lut()
        data_list = []
        self._case_arrays = {
            c['case_id']: [(key, osp.join(root, c[key]), c.get('shape'))
                           for key in ('image', 'label')]
            for c in cases
        }
        for case in cases:
            problem = self._case_problem(case, root)
            if problem is not None:
                if not self.skip_bad_cases:
                    raise ValueError(f'{case["case_id"]}: {problem}')
                self.skipped_cases[case['case_id']] = problem
                continue
            class_ranges: Dict[int, List[int]] = {}
            for value, rng in case.get('class_z_ranges', {}).items():
                cls = int(lut[int(value)])
                if cls in (0, 255):
                    continue
                r = class_ranges.setdefault(cls, list(rng))
                r[0], r[1] = min(r[0], rng[0]), max(r[1], rng[1])
            data_list.append(
                dict(
                    img_path=osp.join(root, case['image']),
                    seg_map_path=osp.join(root, case['label']),
                    case_id=case['case_id'],
                    spacing=tuple(case['spacing']),
                    origin=tuple(case['origin']),
                    direction=tuple(case['direction']),
                    source=case['source'],
                    ori_shape=tuple(case['shape']),
                    fg_z_range=case.get('fg_z_range'),
                    class_z_ranges=dict(sorted(class_ranges.items())),
                    label_lut=lut))
        if self.skipped_cases:
            print_log(
                f'{type(self).__name__}: skipped {len(self.skipped_cases)} '
                f'bad case(s) of {len(cases)}: ' +
                '; '.join(f'{k}: {v}' for k, v in self.skipped_cases.items()),
                logger='current',
                level=logging.WARNING)
        if not data_list:
            raise ValueError(
                f'no usable case in split {"/".join(self.split)} of '
                f'{self.ann_file} (splits in the index: '
                f'{index.get("splits")}, skipped: {len(self.skipped_cases)})')
        return data_list

    def skip_unreadable(self) -> bool:
        """Skip cases that turn unreadable mid-run (``skip_bad_cases``)."""
        return self.skip_bad_cases

    def check_data(self) -> DataCheckReport:
        """Both arrays of every case of the split (skipped cases included):
        exist, ``.npy`` header with the index's shape and the converter's
        dtype (int16 image, uint8 label), file size = header + data.
        Reads headers only.

        Returns:
            DataCheckReport: ``problems`` as ``(case id, problem)``.
        """
        self.full_init()

        def check(item):
            case_id, arrays = item
            for key, path, shape in arrays:
                problem = check_npy(path, shape, ARRAY_DTYPES[key])
                if problem is not None:
                    return case_id, f'{key} {path}: {problem}'
            return None

        cases = getattr(self, '_case_arrays', {})
        return DataCheckReport(
            checked=len(cases),
            problems=run_checks(cases.items(), check),
            unit='case')
