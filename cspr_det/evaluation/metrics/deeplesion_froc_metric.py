"""DeepLesion key-slice FROC as an mmengine metric.

The metric stores each image's detections and ground-truth meta
(:mod:`.detection_dump` records), evaluates them with
:func:`.deeplesion_froc_eval.evaluate_froc_records` (FROC, strata, COCO
AP50) and writes the report files of :mod:`.froc_report`.
"""
import logging
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from cspr_det.evaluation.functional.froc_options import (DEFAULT_FPS,
                                                         check_choice,
                                                         check_fps,
                                                         check_protocol)
from cspr_det.registry import METRICS
from .deeplesion_froc_eval import NOISY_MODES, evaluate_froc_records
from .deeplesion_strata import (DEEPLESION_TYPE_NAMES,
                                DEFAULT_INTERVAL_BINS_MM, DEFAULT_SIZE_BINS_MM,
                                check_bins)
from .detection_dump import clean_record, save_detection_dump
from .froc_report import format_table, write_report_files

__all__ = ['DeepLesionFROCMetric']

_META_HINT = ("the test pipeline's PackDetInputs meta_keys must include "
              "'instances', 'slice_interval' and 'spacing'")


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _sample_get(sample, key: str, default=None):
    """Read ``key`` from a data sample given as dict or DetDataSample."""
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    if hasattr(sample, 'metainfo') and key in sample.metainfo:
        return sample.metainfo[key]
    return getattr(sample, key, default) if hasattr(sample, key) else default


@METRICS.register_module()
class DeepLesionFROCMetric(BaseMetric):
    """Key-slice FROC of DeepLesion lesion detection.

    Reads from every data sample ``pred_instances`` (``bboxes`` ``(n, 4)``
    x1, y1, x2, y2 in original image pixels, i.e. predicted with
    ``rescale=True``; ``scores`` ``(n,)``; labels are ignored: every
    detection is a lesion candidate) and the meta keys ``img_id``,
    ``img_path``, ``instances`` (list of dicts with ``bbox`` [x1, y1, x2, y2]
    0-based original pixels, ``lesion_type`` int (-1 unknown), ``noisy`` 0/1,
    ``diameters`` [long, short] pixels), ``slice_interval`` (mm) and
    ``spacing`` ([x, y, z] mm). The test pipeline's ``PackDetInputs`` must
    list ``instances``, ``slice_interval`` and ``spacing`` in ``meta_keys``.

    Every instance is a lesion: a box clipped to the image edge, or one
    leaving the image, counts like any other (``ignore_flag`` is not read).

    Metrics (prefixed ``deeplesion/``): ``sens@<f>`` for each rate,
    ``mean_sens`` (mean over the rates in [0.5, 4]; the key for
    ``save_best='deeplesion/mean_sens'``), ``ap50`` (COCO AP at IoU 0.5,
    whatever ``overlap``/``plus_one``), the mean sensitivity of each
    non-empty stratum (``type_<name>``, ``size_<bin>`` e.g.
    ``size_>=30mm``, ``interval_<bin>`` e.g. ``interval_<=1.5mm``; a
    stratum's sensitivity counts its lesions only, its FPs per image are
    those of all images), ``num_images`` and ``num_lesions``.

    Args:
        fps: FPs-per-image rates to report.
        iou_thr: Overlap threshold.
        overlap: ``'iou'`` or ``'iobb'`` (intersection over detected box).
        plus_one: Inclusive-pixel widths (classic 3DCE code).
        noisy: ``'drop'`` (classic 3DCE/MULAN protocol: noisy lesions and
            the images left without lesion are removed, with their
            detections) or ``'keep'`` (MVP-Net/MP3D protocol).
        exact_rate: Reading at rates the curve reaches exactly, ``'first'``
            (classic code) or ``'last'``; see
            :func:`cspr_det.evaluation.interpolate_sensitivity`.
        size_bins_mm: Long-diameter strata edges in mm (long diameter =
            ``diameters[0] * spacing[0]``): bins ``<10mm``, ``10-30mm``
            (``10 <= d < 30``), ``>=30mm`` by default; None disables them.
        interval_bins_mm: Slice-interval strata edges in mm (the image's
            ``slice_interval``, else ``spacing[2]``): bins ``<=1.5mm``,
            ``1.5-3.5mm`` (``1.5 < z <= 3.5``), ``>3.5mm`` by default; None
            disables them. The lesion count of every bin is logged.
        lesion_type_names: Names of ``lesion_type`` codes: a sequence for
            codes 1, 2, ... (default: the 8 DeepLesion coarse types) or a
            dict code -> name; None disables type strata. Codes <= 0 are
            unknown and not stratified.
        compute_ap50: Compute COCO AP50 with pycocotools (standard COCO
            IoU >= 0.5 matching, labelled so in every report; it does not
            follow ``overlap``/``plus_one``, so that it stays comparable
            with AP50 published elsewhere).
        out_dir: Folder for ``froc.json``, ``froc.csv`` and
            ``froc_curve.png``. When None, ``self.work_dir`` is used if a
            tool set it, else the running Runner's log folder (found through
            the current MMLogger's log file), else nothing is written.
        save_files: Set False to never write the report files.
        dump_detections: When set, a JSON file receiving every image's
            detections and ground-truth meta, to re-score with
            ``tools/analysis_tools/rescore_detections.py``.
        collect_device, collect_dir, prefix: See mmengine ``BaseMetric``.
    """
    default_prefix: Optional[str] = 'deeplesion'

    def __init__(self,
                 fps: Sequence[float] = DEFAULT_FPS,
                 iou_thr: float = 0.5,
                 overlap: str = 'iou',
                 plus_one: bool = False,
                 noisy: str = 'drop',
                 exact_rate: str = 'first',
                 size_bins_mm: Optional[Sequence[float]] = (
                     DEFAULT_SIZE_BINS_MM),
                 interval_bins_mm: Optional[Sequence[float]] = (
                     DEFAULT_INTERVAL_BINS_MM),
                 lesion_type_names: Union[Sequence[str], Dict[int, str],
                                          None] = DEEPLESION_TYPE_NAMES,
                 compute_ap50: bool = True,
                 out_dir: Optional[str] = None,
                 save_files: bool = True,
                 dump_detections: Optional[str] = None,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.fps = tuple(float(f) for f in check_fps(fps))
        check_protocol(iou_thr, overlap, exact_rate)
        check_choice('noisy', noisy, NOISY_MODES)
        self.iou_thr = float(iou_thr)
        self.overlap = overlap
        self.plus_one = bool(plus_one)
        self.noisy = noisy
        self.exact_rate = exact_rate
        self.size_bins_mm = None if size_bins_mm is None else tuple(
            check_bins(size_bins_mm, 'size_bins_mm').tolist())
        self.interval_bins_mm = None if interval_bins_mm is None else tuple(
            check_bins(interval_bins_mm, 'interval_bins_mm').tolist())
        self.lesion_type_names = lesion_type_names
        self.compute_ap50 = compute_ap50
        self.out_dir = out_dir
        self.save_files = save_files
        self.dump_detections = dump_detections
        # may be set by tools that know the run's work_dir
        self.work_dir: Optional[str] = None
        self.last_report: Optional[dict] = None

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store detections and ground truth meta of each image."""
        for sample in data_samples:
            img_id = _sample_get(sample, 'img_id')
            where = f'data sample img_id={img_id!r}'
            instances = _sample_get(sample, 'instances')
            if instances is None:
                raise KeyError(f'{where} has no ground truth meta key '
                               f"'instances': {_META_HINT}")
            pred = _sample_get(sample, 'pred_instances')
            if pred is None:
                raise KeyError(f'{where} has no pred_instances')
            record = dict(
                img_id=img_id,
                img_path=_sample_get(sample, 'img_path'),
                slice_interval=_sample_get(sample, 'slice_interval'),
                spacing=_sample_get(sample, 'spacing'),
                instances=instances,
                pred_bboxes=_to_numpy(pred['bboxes']),
                pred_scores=_to_numpy(pred['scores']))
            self.results.append(clean_record(record, where))

    def resolve_out_dir(self) -> Optional[str]:
        """Folder for the report files, or None (see ``out_dir``)."""
        if not self.save_files:
            return None
        if self.out_dir:
            return self.out_dir
        if self.work_dir:
            return self.work_dir
        log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
        return osp.dirname(log_file) if log_file else None

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """FROC, strata and AP50 of all images; logs the table and writes
        the report files and the detection dump when configured."""
        logger = MMLogger.get_current_instance()
        if self.dump_detections:
            save_detection_dump(
                results,
                self.dump_detections,
                extra=dict(protocol_at_dump=self._options()))
            print_log(
                f'detections of {len(results)} images written to '
                f'{self.dump_detections}',
                logger=logger)
        missing = sum(r['spacing'] is None for r in results)
        if missing and self.size_bins_mm is not None:
            print_log(
                f"{missing} images have no 'spacing' meta: their "
                f'lesions are left out of the size strata '
                f'({_META_HINT})',
                logger=logger,
                level=logging.WARNING)
        missing = sum(r['slice_interval'] is None and (
            r['spacing'] is None or len(r['spacing']) < 3) for r in results)
        if missing and self.interval_bins_mm is not None:
            print_log(
                f"{missing} images have no 'slice_interval' meta: "
                'their lesions are left out of the slice-interval '
                f'strata ({_META_HINT})',
                logger=logger,
                level=logging.WARNING)
        metrics, report = evaluate_froc_records(results, **self._options())
        self.last_report = report
        print_log('\n' + format_table(report), logger=logger)
        out_dir = self.resolve_out_dir()
        if out_dir:
            paths = write_report_files(report, out_dir)
            print_log(
                f"FROC report written to {', '.join(paths)}", logger=logger)
        return dict(metrics)

    def _options(self) -> dict:
        return dict(
            fps=self.fps,
            iou_thr=self.iou_thr,
            overlap=self.overlap,
            plus_one=self.plus_one,
            noisy=self.noisy,
            exact_rate=self.exact_rate,
            size_bins_mm=self.size_bins_mm,
            interval_bins_mm=self.interval_bins_mm,
            lesion_type_names=self.lesion_type_names,
            compute_ap50=self.compute_ap50)
