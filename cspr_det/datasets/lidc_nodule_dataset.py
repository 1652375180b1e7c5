"""LIDC-IDRI nodule crops for malignancy classification and segmentation."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from cspr_det.registry import DATASETS
from .data_check import DataCheckReport, SkipUnreadableMixin, run_checks
from .lidc_metadata import (INFO_CSV, SPLIT_CSV, TASKS, build_split,
                            nodule_label, read_nodule_info,
                            read_reference_split)
from .lidc_npz import SEG_LABELS, check_nodule_npz, nodule_file_problem
from .patient_subsets import choose_patients

PROTOCOLS = ('patient', 'reference')
_SUBSET_NAMES = ('train', 'val', 'test', 'trainval')
_CLASSES = dict(
    classification=('benign', 'malignant'),
    segmentation=('background', 'nodule'))


@DATASETS.register_module()
class LIDCNoduleDataset(SkipUnreadableMixin, BaseDataset):
    """Nodule crops of LIDC-IDRI (``<data_root>/nodule/lidcP_K.npz``).

    Labels and splits come from the nodule table and the reference split
    CSV (:mod:`cspr_det.datasets.lidc_metadata`): classification keeps the
    nodules whose ``malignancy_mode`` is 1-2 (benign, 0) or 4-5 (malignant,
    1); segmentation keeps every annotated nodule.

    Split protocols (``split_protocol``):

    - ``'patient'`` (default): a seeded **patient-disjoint** split
      (``split_seed``) of the labelled nodules into ``split_fractions``
      (train, val, test) of nodules, stratified by patients with and without
      a malignant nodule;
    - ``'reference'``: the published nodule-level split, which **leaks
      patients** (268 patients in both parts); test is its test column, val
      a patient-level ``reference_val_fraction`` of its train column and
      train the rest (``'trainval'``: the whole train column, 1,323
      nodules for classification). Only for comparison with published
      numbers.

    Every sample's ``data_info``: ``img_path`` (the npz), ``nodule_id``
    (also as ``case_id`` for the segmentation metric),
    ``patient_id`` (``uid``), ``scan``, ``subset``, ``split_protocol``,
    ``malignancy_mode``, ``diameter_mm``, ``gt_label`` (classification),
    ``seg_label`` (segmentation: which reader mask(s), see
    :data:`~cspr_det.datasets.lidc_npz.SEG_LABELS`) and ``spacing`` (1, 1,
    1) mm, the nominal isotropic spacing of the crops.

    Bad nodules (missing or unreadable npz, a crop smaller than
    ``min_size`` per axis, reader masks of another shape than the crop)
    raise a one-line error naming the nodule or, with ``skip_bad_nodules``
    (the default outside ``test_mode``), are skipped with one warning that
    counts and names them (``self.skipped_nodules``).

    :meth:`check_data` (the start-up data check of ``tools/train.py``)
    reports every nodule of the subset whose file is missing or damaged
    (zip directory, array headers and sizes), skipped ones included; a
    nodule that becomes unreadable during training is skipped with a
    counted warning (:class:`~cspr_det.datasets.data_check.
    SkipUnreadableMixin`, with ``skip_bad_nodules``).

    Args:
        ann_file: The nodule table, relative to ``data_root``.
        split_file: The reference split CSV, relative to ``data_root``
            (None: the patient protocol over the whole table).
        nodule_dir: Folder of the npz files, relative to ``data_root``.
        task: ``'classification'`` or ``'segmentation'``.
        subset: ``'train'``, ``'val'``, ``'test'``, ``'trainval'`` or a
            sequence of them (each sample records its ``subset``, so one
            evaluation can pick a threshold on ``val`` and report ``test``).
        split_protocol: ``'patient'`` or ``'reference'``.
        split_fractions: (train, val, test) of the patient protocol.
        reference_val_fraction: Val share of the reference train column.
        split_seed: Seed of the patient split (and the reference val part).
        patient_fraction: Keep this fraction of the training patients
            (data-efficiency studies; nested subsets for one
            ``patient_fraction_seed``); applies to ``train``/``trainval``.
        patient_fraction_seed: Seed of the patient order of the fractions.
        seg_label: Segmentation target: ``'answer1'`` (default), ``'any'``,
            ``'union'`` or ``'majority'``.
        min_size: Smallest crop edge accepted (the 48^3 training crop).
        check_files: Check every npz header when the list is built.
        skip_bad_nodules: Skip bad nodules instead of raising (default:
            ``not test_mode``).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(classes=_CLASSES['classification'], dataset='lidc')

    def __init__(self,
                 ann_file: str = INFO_CSV,
                 split_file: Optional[str] = SPLIT_CSV,
                 nodule_dir: str = 'nodule',
                 task: str = 'classification',
                 subset: Union[str, Sequence[str]] = 'train',
                 split_protocol: str = 'patient',
                 split_fractions: Tuple[float, float, float] = (0.7, 0.1, 0.2),
                 reference_val_fraction: float = 0.1,
                 split_seed: int = 0,
                 patient_fraction: float = 1.0,
                 patient_fraction_seed: int = 0,
                 seg_label: str = 'answer1',
                 min_size: int = 48,
                 check_files: bool = True,
                 skip_bad_nodules: Optional[bool] = None,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if task not in TASKS:
            raise ValueError(f'LIDCNoduleDataset: task must be one of {TASKS}'
                             f', got {task!r}')
        if split_protocol not in PROTOCOLS:
            raise ValueError('LIDCNoduleDataset: split_protocol must be one '
                             f'of {PROTOCOLS}, got {split_protocol!r}')
        subsets = (subset, ) if isinstance(subset, str) else tuple(subset)
        if not subsets or any(s not in _SUBSET_NAMES for s in subsets):
            raise ValueError('LIDCNoduleDataset: subset must be among '
                             f'{_SUBSET_NAMES}, got {subset!r}')
        if seg_label not in SEG_LABELS:
            raise ValueError('LIDCNoduleDataset: seg_label must be one of '
                             f'{SEG_LABELS}, got {seg_label!r}')
        self.task = task
        self.subsets = subsets
        self.split_protocol = split_protocol
        self.split_fractions = tuple(float(f) for f in split_fractions)
        self.reference_val_fraction = float(reference_val_fraction)
        self.split_seed = int(split_seed)
        self.patient_fraction = float(patient_fraction)
        self.patient_fraction_seed = int(patient_fraction_seed)
        self.seg_label = seg_label
        self.min_size = int(min_size)
        self.check_files = check_files
        self.split_file = split_file
        self.nodule_dir = nodule_dir
        self.skip_bad_nodules = (not test_mode) if skip_bad_nodules is None \
            else bool(skip_bad_nodules)
        self.skipped_nodules: Dict[str, str] = {}
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('classes', _CLASSES[task])
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            test_mode=test_mode,
            **kwargs)

    def _path(self, rel: str) -> str:
        if osp.isabs(rel) or not self.data_root:
            return rel
        return osp.join(self.data_root, rel)

    def _subset_ids(self) -> Tuple[Dict, List[Tuple[str, str]]]:
        """The nodule table and the ``(nodule id, subset)`` pairs to use."""
        info = read_nodule_info(self.ann_file)
        reference = None if self.split_file is None else \
            read_reference_split(self._path(self.split_file))
        split = build_split(info, reference, self.task, self.split_protocol,
                            self.split_fractions, self.reference_val_fraction,
                            self.split_seed)
        if 'trainval' not in split:
            split['trainval'] = split['train'] + split['val']
        pairs = []
        for name in self.subsets:
            ids = split[name]
            if self.patient_fraction < 1.0 and name in ('train', 'trainval'):
                keep = set(
                    choose_patients([info[i].uid for i in ids],
                                    self.patient_fraction,
                                    self.patient_fraction_seed))
                ids = [i for i in ids if info[i].uid in keep]
            pairs += [(i, name) for i in ids]
        return info, pairs

    def load_data_list(self) -> List[dict]:
        """Build the sample list of ``subset`` (see the class docstring)."""
        info, pairs = self._subset_ids()
        folder = self._path(self.nodule_dir)
        data_list = []
        self._npz_files = {}
        for index, subset in pairs:
            nodule = info[index]
            path = osp.join(folder, f'{index}.npz')
            self._npz_files[index] = path
            if self.check_files:
                problem = check_nodule_npz(path, self.min_size,
                                           self.task == 'segmentation',
                                           self.seg_label)
                if problem is not None:
                    if not self.skip_bad_nodules:
                        raise ValueError(f'LIDC nodule {index}: {problem}')
                    self.skipped_nodules[index] = problem
                    continue
            item = dict(
                img_path=path,
                case_id=index,
                nodule_id=index,
                patient_id=nodule.uid,
                scan=nodule.scan,
                subset=subset,
                split_protocol=self.split_protocol,
                malignancy_mode=nodule.malignancy_mode,
                diameter_mm=nodule.diameter_mm,
                spacing=(1.0, 1.0, 1.0))
            if self.task == 'classification':
                item['gt_label'] = nodule_label(nodule, self.task)
            else:
                item['seg_label'] = self.seg_label
            data_list.append(item)
        self._log_summary(pairs, data_list)
        if not data_list:
            raise ValueError(
                f'LIDCNoduleDataset: no usable nodule in subset '
                f'{"+".join(self.subsets)} ({self.split_protocol} split of '
                f'{self.ann_file}; skipped {len(self.skipped_nodules)})')
        return data_list

    def _log_summary(self, pairs: list, data_list: List[dict]) -> None:
        if self.skipped_nodules:
            print_log(
                f'LIDCNoduleDataset: skipped {len(self.skipped_nodules)} bad '
                f'nodule(s) of {len(pairs)}: ' +
                '; '.join(f'{k}: {v}'
                          for k, v in self.skipped_nodules.items()),
                logger='current',
                level=logging.WARNING)
        text = (f'LIDCNoduleDataset: {self.split_protocol} split (seed '
                f'{self.split_seed}), {"+".join(self.subsets)}: '
                f'{len(data_list)} nodules of '
                f'{len({d["patient_id"] for d in data_list})} patients')
        if self.task == 'classification':
            pos = sum(d['gt_label'] for d in data_list)
            text += f' ({len(data_list) - pos} benign / {pos} malignant)'
        if self.patient_fraction < 1.0:
            text += f', training patient fraction {self.patient_fraction:g}'
        print_log(text, logger='current')

    SAMPLE_NAME_KEY = 'nodule_id'

    def skip_unreadable(self) -> bool:
        """Skip nodules that turn unreadable mid-run (``skip_bad_nodules``)."""
        return self.skip_bad_nodules

    def check_data(self) -> DataCheckReport:
        """Every nodule file of the subset (skipped nodules included):
        exists, readable zip directory and array headers, member sizes
        that match the headers, a 3D ``voxel`` and reader masks of its
        shape. Reads headers only.

        Returns:
            DataCheckReport: ``problems`` as ``(nodule id, problem)``.
        """

        def check(item):
            problem = nodule_file_problem(item[1])
            return None if problem is None else (item[0], problem)

        self.full_init()
        files = getattr(self, '_npz_files', {})
        return DataCheckReport(
            checked=len(files),
            problems=run_checks(files.items(), check),
            unit='nodule')

    def get_cat_ids(self, idx: int) -> List[int]:
        """Class of sample ``idx`` (classification), for class-aware
        samplers."""
        info = self.get_data_info(idx)
        return [info['gt_label']] if 'gt_label' in info else []


__all__ = ['LIDCNoduleDataset', 'PROTOCOLS']
