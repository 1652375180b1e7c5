"""NIH DeepLesion key-slice detection dataset."""
import copy
import logging
import os
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Set, Tuple

from mmdet.datasets import BaseDetDataset
from mmengine.fileio import load
from mmengine.logging import print_log

from cspr_det.registry import DATASETS
from cspr_det.utils.safe_pickle import safe_load
from .clip_box import clip_box_to_image
from .data_check import DataCheckReport, check_png, run_checks
from .deeplesion_csv import LESION_TYPES, slice_file_name
from .patient_subsets import choose_patients

# ``PPPPPP_SS_ss`` (patient, study, series) in a DeepLesion path
_SERIES_RE = re.compile(r'(?:^|[/\\])(\d{6})_\d{2}_\d{2}(?:[/\\_]|$)')
_PATIENT_KEYS = ('patient', 'patient_id', 'Patient_index', 'patient_index')


def deeplesion_patient_id(record: Dict[str, Any],
                          patient_key: Optional[str] = None) -> str:
    """Patient id of one ``images`` record of a converted annotation file.

    The first of ``patient_key``, ``patient``, ``patient_id``,
    ``Patient_index`` and ``patient_index`` that the record holds (an
    all-digit value without its leading zeros: ``'000007'`` and ``7`` are
    ``'7'``), else the ``PPPPPP`` of a DeepLesion ``PPPPPP_SS_ss`` series
    name in ``file_name``, ``img_path`` or ``series``.

    Args:
        record: The image record.
        patient_key: Field holding the patient id, tried first.

    Returns:
        str: The patient id.

    Raises:
        KeyError: No patient id can be found (the record is named).
    """
    keys = ([patient_key] if patient_key else []) + list(_PATIENT_KEYS)
    for key in keys:
        value = record.get(key)
        if value not in (None, ''):
            text = str(value)
            return str(int(text)) if text.isdigit() else text
    for key in ('file_name', 'img_path', 'series'):
        value = record.get(key)
        if isinstance(value, str):
            match = _SERIES_RE.search(value)
            if match:
                return str(int(match.group(1)))
    raise KeyError(f'no patient id in image record {str(record)[:200]}: '
                   'give it a "patient" field or set patient_key')


@DATASETS.register_module()
class DeepLesionDataset(BaseDetDataset):
    """DeepLesion lesion detection on key slices.

    Reads the COCO-style files written by
    ``tools/dataset_converters/deeplesion.py`` (``deeplesion_{train,val,
    test}.json``, one per official split). Every image is a key slice; the
    3D context is loaded by :class:`LoadDeepLesionSlices` from the series
    folder.

    ``data_list`` entries hold ``img_path`` (key slice PNG), ``img_id``,
    ``height``, ``width``, ``series_dir`` (folder of the series),
    ``key_slice`` (int), ``slice_interval`` (mm), ``spacing`` ([x, y, z]
    mm), ``slice_range`` ([first, last] slice index available around the
    key slice), ``dicom_window`` ([min, max] HU) and ``instances``: a list of
    ``dict(bbox=[x1, y1, x2, y2] (0-based floats), bbox_label=0,
    ignore_flag=0, lesion_type, noisy, recist, diameters)``.

    Boxes are clipped to the image (``[0, width] x [0, height]``), as the
    converter does: a box that leaves the image is kept, clipped, and the
    number of such boxes is logged as a warning; a box of zero size or
    entirely outside its image raises a ``ValueError`` naming the
    annotation.

    :meth:`check_data` (the start-up data check of ``tools/train.py``)
    checks the key slice PNG of every image and lists missing context
    slices; during training an unreadable slice is replaced by the nearest
    readable one and a sample without any is skipped
    (:class:`LoadDeepLesionSlices` ``skip_unreadable``).

    Args:
        ann_file (str): Converted annotation file (relative to
            ``data_root`` unless absolute).
        data_root (str): Dataset root, e.g. ``'data/deeplesion/'``.
        data_prefix (dict): ``img`` = folder of the series folders relative
            to ``data_root``. Defaults to ``dict(img='Images_png/')``.
        drop_noisy (bool): Drop lesions flagged ``Possibly_noisy`` and the
            images left without lesions (the classic 4,817-image test
            protocol). Defaults to False (keep them: 4,831 images).
        patient_fraction (float): Keep this fraction of the patients
            (data-efficiency studies), the same argument as
            :class:`LIDCNoduleDataset`'s: the patients with at least one
            annotation in ``ann_file`` (before ``drop_noisy``) are
            subsampled by :func:`choose_patients` (one fixed random order
            per ``patient_fraction_seed``, the first
            ``ceil(fraction * n)`` kept, so smaller fractions are subsets
            of larger ones) and every image of a kept patient is kept.
            Defaults to 1.0 (every image of the file).
        patient_fraction_seed (int): Seed of the patient order. Defaults
            to 0.
        patient_key (str, optional): Image field holding the patient id,
            tried before the fields :func:`deeplesion_patient_id` knows.
        **kwargs: Other :class:`mmdet.datasets.BaseDetDataset` arguments
            (``pipeline``, ``test_mode``, ``filter_cfg``,
            ``serialize_data``, ``backend_args``, ...). ``filter_cfg`` accepts
            ``filter_empty_gt`` and ``min_size`` (pixels) as in mmdet's
            COCO dataset.
    """

    METAINFO = dict(
        classes=('lesion', ),
        palette=[(220, 20, 60)],
        lesion_types=LESION_TYPES,
    )

    def __init__(self,
                 ann_file: str = '',
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img='Images_png/'),
                 drop_noisy: bool = False,
                 patient_fraction: float = 1.0,
                 patient_fraction_seed: int = 0,
                 patient_key: Optional[str] = None,
                 **kwargs) -> None:
        if not 0.0 < float(patient_fraction) <= 1.0:
            raise ValueError('DeepLesionDataset: patient_fraction must be in '
                             f'(0, 1], got {patient_fraction}')
        self.drop_noisy = drop_noisy
        self.patient_fraction = float(patient_fraction)
        self.patient_fraction_seed = int(patient_fraction_seed)
        self.patient_key = patient_key
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=copy.deepcopy(data_prefix),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the converted annotation file into ``data_list``."""
        if not osp.isfile(self.ann_file) and '://' not in self.ann_file:
            raise FileNotFoundError(
                f'DeepLesion annotation file not found: {self.ann_file} '
                '(create it with tools/dataset_converters/deeplesion.py)')
        if self.ann_file.lower().endswith('.csv'):
            raise ValueError(
                f'{self.ann_file}: DeepLesionDataset reads the COCO-style '
                'JSON of a split; convert DL_info.csv with '
                'tools/dataset_converters/deeplesion.py first')
        if self.ann_file.lower().endswith(('.pkl', '.pickle')):
            coco = safe_load(self.ann_file)  # never run a pickle's code
        else:
            coco = load(self.ann_file, backend_args=self.backend_args)
        for key in ('images', 'annotations'):
            if key not in coco:
                raise KeyError(
                    f'{self.ann_file} has no {key!r}: not a DeepLesion '
                    'annotation file')
        anns_per_image = {}
        for ann in coco['annotations']:
            anns_per_image.setdefault(ann['image_id'], []).append(ann)
        images, patients = self._patient_subset(coco['images'], anns_per_image)
        img_prefix = self.data_prefix.get('img', self.data_root or '')
        data_list = []
        num_clipped = 0
        for img, patient in zip(images, patients):
            instances = []
            for ann in anns_per_image.get(img['id'], []):
                if self.drop_noisy and ann.get('noisy', 0):
                    continue
                bbox, clipped = self._clip_bbox(ann, img)
                num_clipped += clipped
                instances.append(
                    dict(
                        bbox=bbox,
                        bbox_label=0,
                        ignore_flag=0,
                        lesion_type=int(ann.get('lesion_type', -1)),
                        noisy=int(ann.get('noisy', 0)),
                        recist=list(ann.get('recist', [])),
                        diameters=list(ann.get('diameters', []))))
            if self.drop_noisy and not instances:
                continue
            series = img.get('series') or osp.dirname(img['file_name'])
            data_list.append(
                dict(
                    img_path=osp.join(img_prefix, img['file_name']),
                    img_id=img['id'],
                    height=img['height'],
                    width=img['width'],
                    series_dir=osp.join(img_prefix, series),
                    key_slice=int(img['key_slice']),
                    slice_interval=float(img['slice_interval']),
                    spacing=list(img['spacing']),
                    slice_range=list(img['slice_range']),
                    dicom_window=list(img['dicom_window']),
                    patient_id=patient,
                    instances=instances))
        if num_clipped:
            print_log(
                f'{self.ann_file}: {num_clipped} boxes leave their image and '
                'were clipped to it',
                logger='current',
                level=logging.WARNING)
        return data_list

    def _patient_subset(
        self, images: List[dict], anns_per_image: Dict[Any, List[dict]]
    ) -> Tuple[List[dict], List[Optional[str]]]:
        """The image records of the kept patients and their patient ids.

        With ``patient_fraction < 1`` every record must name its patient
        (KeyError otherwise); with 1.0 every record is kept and a record
        without a patient gets None.
        """
        subsample = self.patient_fraction < 1.0
        patients = []
        for img in images:
            try:
                patients.append(deeplesion_patient_id(img, self.patient_key))
            except KeyError as e:
                if subsample:
                    raise KeyError(f'{self.ann_file}: {e.args[0]}') from None
                patients.append(None)
        if not subsample:
            return images, patients
        annotated = {
            p
            for img, p in zip(images, patients) if img['id'] in anns_per_image
        }
        if not annotated:
            raise ValueError(f'{self.ann_file}: no annotated patient to '
                             'subsample')
        keep = set(
            choose_patients(
                sorted(annotated), self.patient_fraction,
                self.patient_fraction_seed))
        kept = [(img, p) for img, p in zip(images, patients) if p in keep]
        print_log(
            f'{self.ann_file}: patient fraction {self.patient_fraction:g} '
            f'(seed {self.patient_fraction_seed}): {len(keep)} of '
            f'{len(annotated)} annotated patients, {len(kept)} of '
            f'{len(images)} images',
            logger='current')
        return [k[0] for k in kept], [k[1] for k in kept]

    def _clip_bbox(self, ann: dict, img: dict) -> Tuple[List[float], bool]:
        """The ``[x, y, w, h]`` box of an annotation as ``[x1, y1, x2, y2]``
        clipped to its image, and whether it was clipped."""
        where = (f'{self.ann_file}: annotation {ann.get("id")} of image '
                 f'{img["file_name"]}')
        bbox = ann.get('bbox')
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise ValueError(f'{where}: bbox must be [x, y, w, h], got '
                             f'{bbox!r}')
        try:
            x, y, w, h = (float(v) for v in bbox)
            return clip_box_to_image([x, y, x + w, y + h], img['height'],
                                     img['width'])
        except (TypeError, ValueError) as e:  # InvalidBoxError included
            raise ValueError(f'{where}: {e}') from None

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` (``filter_empty_gt``, ``min_size``)."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        valid = []
        for info in self.data_list:
            if filter_empty_gt and not info['instances']:
                continue
            if min(info['width'], info['height']) < min_size:
                continue
            valid.append(info)
        return valid

    def check_data(self) -> DataCheckReport:
        """Check the PNG slices the annotation file lists.

        Problems: a key slice that is missing, empty, not a PNG, not 16-bit
        or not of the recorded width x height (33 header bytes read per
        key slice). Notes (warnings only; the loader replaces a missing
        context slice by the nearest readable one): slices of an image's
        ``slice_range`` missing from its series folder (one listing per
        series).

        Returns:
            DataCheckReport: ``(series/slice.png, problem)`` pairs; remote
            paths (``backend_args``) are not checked.
        """
        self.full_init()
        infos = [self.get_data_info(i) for i in range(len(self))]
        report = DataCheckReport(checked=len(infos), unit='key slice')
        if any('://' in info['img_path'] for info in infos):
            report.notes.append(('all', 'remote paths, not checked'))
            return report

        def name(info: dict) -> str:
            return osp.join(
                osp.basename(osp.normpath(info['series_dir'])),
                osp.basename(info['img_path']))

        def check(info: dict) -> Optional[Tuple[str, str]]:
            problem = check_png(info['img_path'], info['width'],
                                info['height'], 16)
            return None if problem is None else (name(info), problem)

        report.problems = run_checks(infos, check)
        listings: Dict[str, Set[str]] = {}
        for info in infos:
            series = info['series_dir']
            if series not in listings:
                try:
                    listings[series] = set(os.listdir(series))
                except OSError:
                    listings[series] = set()
            first, last = (int(v) for v in info['slice_range'])
            missing = [
                i for i in range(first, last + 1)
                if slice_file_name(i) not in listings[series]
            ]
            if missing:
                report.notes.append(
                    (name(info), f'{len(missing)} context slice(s) of '
                     f'{first}-{last} missing, e.g. '
                     f'{slice_file_name(missing[0])}'))
        return report
