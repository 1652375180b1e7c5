"""DeepLesion key-slice FROC as an mmengine metric, with strata, COCO AP50,
report files and a detection dump that can be re-scored offline."""
import contextlib
import csv
import io
import json
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from cspr_det.evaluation.functional.froc import (DEFAULT_FPS,
                                                 MEAN_SENS_RANGE,
                                                 check_choice, check_fps,
                                                 check_protocol,
                                                 curve_corners, froc,
                                                 stratum_froc)
from cspr_det.registry import METRICS

# Coarse_lesion_type codes 1..8 of DL_info.csv, in order.
DEEPLESION_TYPE_NAMES = ('bone', 'abdomen', 'mediastinum', 'liver', 'lung',
                         'kidney', 'soft_tissue', 'pelvis')
DUMP_FORMAT = 'cspr_det.deeplesion_detections'
DUMP_VERSION = 1
NOISY_MODES = ('drop', 'keep')
_META_HINT = ("the test pipeline's PackDetInputs meta_keys must include "
              "'instances', 'slice_interval' and 'spacing'")


def _fmt(value: float) -> str:
    """Short number text: 1.0 -> '1', 0.5 -> '0.5'."""
    return f'{float(value):g}'


def size_bin_names(size_bins_mm: Sequence[float]) -> List[str]:
    """Names of the lesion-size strata: ``(10, 30)`` gives ``['<10mm',
    '10-30mm', '>30mm']``. Bin ``i`` holds long diameters ``d`` with
    ``edges[i-1] <= d < edges[i]`` (so '>30mm' holds ``d >= 30``)."""
    edges = [_fmt(b) for b in size_bins_mm]
    names = [f'<{edges[0]}mm']
    names += [f'{a}-{b}mm' for a, b in zip(edges[:-1], edges[1:])]
    names.append(f'>{edges[-1]}mm')
    return names


def _type_name_map(names) -> Dict[int, str]:
    if names is None:
        return {}
    if isinstance(names, Mapping):
        return {int(k): str(v) for k, v in names.items()}
    # a sequence names the DeepLesion codes 1, 2, ...
    return {i + 1: str(n) for i, n in enumerate(names)}


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


def _clean_instance(inst: Mapping, where: str) -> dict:
    if 'bbox' not in inst:
        raise KeyError(f'{where} has no bbox (keys: {sorted(inst)})')
    bbox = [float(v) for v in np.asarray(inst['bbox']).reshape(-1)]
    if len(bbox) != 4:
        raise ValueError(f'{where} bbox must have 4 values x1, y1, x2, y2, '
                         f'got {bbox}')
    diam = inst.get('diameters')
    if diam is not None:
        diam = [float(v) for v in np.asarray(diam).reshape(-1)]
    lesion_type = inst.get('lesion_type', -1)
    return dict(
        bbox=bbox,
        lesion_type=-1 if lesion_type is None else int(lesion_type),
        noisy=int(bool(inst.get('noisy', 0))),
        diameters=diam)


def _clean_record(record: Mapping, where: str) -> dict:
    """Normalise one image record (from ``process`` or a dump)."""
    for key in ('instances', 'pred_bboxes', 'pred_scores'):
        if key not in record:
            raise KeyError(f'{where} has no {key!r}')
    boxes = np.asarray(record['pred_bboxes'], dtype=np.float32)
    boxes = boxes.reshape(0, 4) if boxes.size == 0 else boxes
    scores = np.asarray(record['pred_scores'], dtype=np.float32).reshape(-1)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or \
            boxes.shape[0] != scores.shape[0]:
        raise ValueError(
            f'{where}: pred_bboxes must be (n, 4) and pred_scores (n,), got '
            f'{tuple(boxes.shape)} and {tuple(scores.shape)}')
    spacing = record.get('spacing')
    if spacing is not None:
        spacing = [float(v) for v in np.asarray(spacing).reshape(-1)]
    interval = record.get('slice_interval')
    return dict(
        img_id=record.get('img_id'),
        img_path=record.get('img_path'),
        slice_interval=None if interval is None else float(interval),
        spacing=spacing,
        instances=[
            _clean_instance(inst, f'{where} instance {k}')
            for k, inst in enumerate(record['instances'])
        ],
        pred_bboxes=boxes,
        pred_scores=scores)


def save_detection_dump(records: Sequence[dict], path: str,
                        extra: Optional[dict] = None) -> None:
    """Write image records (detections + ground truth meta) to JSON.

    Args:
        records: Image records as stored by :class:`DeepLesionFROCMetric`.
        path: Output ``.json`` file; parent folders are created.
        extra: Additional top-level entries (e.g. the protocol used).
    """
    images = []
    for rec in records:
        item = {k: rec[k] for k in ('img_id', 'img_path', 'slice_interval',
                                    'spacing', 'instances')}
        if isinstance(item['img_id'], np.generic):
            item['img_id'] = item['img_id'].item()
        item['pred_bboxes'] = np.asarray(rec['pred_bboxes']).tolist()
        item['pred_scores'] = np.asarray(rec['pred_scores']).tolist()
        images.append(item)
    out = dict(format=DUMP_FORMAT, version=DUMP_VERSION,
               num_images=len(images), images=images)
    if extra:
        out.update(extra)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(out, f)


def load_detection_dump(path: str) -> Tuple[List[dict], dict]:
    """Read a dump written by :func:`save_detection_dump`.

    Returns:
        tuple: ``(records, meta)``: the image records accepted by
        :func:`evaluate_froc_records` and the other top-level entries (e.g.
        ``protocol_at_dump``, the metric options used when dumping).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'detection dump not found: {path}')
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f'{path} is not valid JSON: {exc}') from exc
    if not isinstance(data, dict) or data.get('format') != DUMP_FORMAT:
        raise ValueError(f'{path} is not a cspr_det detection dump (expected '
                         f"format '{DUMP_FORMAT}')")
    if data.get('version') != DUMP_VERSION:
        raise ValueError(f"{path} has dump version {data.get('version')}; "
                         f'this code reads version {DUMP_VERSION}')
    records = [
        _clean_record(rec, f'{path} image {i}')
        for i, rec in enumerate(data.pop('images'))
    ]
    return records, data


def _coco_ap50(gt_boxes: List[np.ndarray], pred_boxes: List[np.ndarray],
               pred_scores: List[np.ndarray]) -> float:
    """COCO AP at IoU 0.5 (pycocotools, single class, up to 100 detections
    per image, standard continuous widths ``x2 - x1``)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (gt, det, score) in enumerate(zip(gt_boxes, pred_boxes,
                                             pred_scores)):
        images.append(dict(id=i + 1))
        for b in np.asarray(gt, dtype=np.float64):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=1,
                             bbox=[b[0], b[1], w, h], area=w * h, iscrowd=0))
        for b, s in zip(np.asarray(det, dtype=np.float64), score):
            dets.append(dict(image_id=i + 1, category_id=1, score=float(s),
                             bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]]))
    if not anns:
        return float('nan')
    if not dets:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dict(images=images, annotations=anns,
                               categories=[dict(id=1, name='lesion')])
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        coco_eval = COCOeval(coco_gt, coco_dt, 'bbox')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    ap50 = float(coco_eval.stats[1])
    return ap50 if ap50 >= 0 else float('nan')


def evaluate_froc_records(
        records: Sequence[dict],
        fps: Sequence[float] = DEFAULT_FPS,
        iou_thr: float = 0.5,
        overlap: str = 'iou',
        plus_one: bool = False,
        noisy: str = 'drop',
        exact_rate: str = 'first',
        size_bins_mm: Optional[Sequence[float]] = (10, 30),
        lesion_type_names=DEEPLESION_TYPE_NAMES,
        compute_ap50: bool = True) -> Tuple[Dict[str, float], dict]:
    """FROC of DeepLesion image records with strata and AP50.

    Args:
        records: Image records (see :class:`DeepLesionFROCMetric`).
        fps, iou_thr, overlap, plus_one, exact_rate: FROC options, see
            :func:`cspr_det.evaluation.froc`.
        noisy: ``'drop'`` removes lesions flagged noisy and the images left
            without lesion (with their detections), ``'keep'`` keeps them.
        size_bins_mm: Edges of the long-diameter strata in mm (None: no
            size strata).
        lesion_type_names: Names of lesion-type codes (sequence for codes
            1, 2, ... or dict code -> name; None: no type strata).
        compute_ap50: Also compute COCO AP50.

    Returns:
        tuple: ``(metrics, report)``: the flat metric dict (see
        :class:`DeepLesionFROCMetric`) and a report dict with the protocol,
        counts, per-stratum rows and the thinned curve.
    """
    check_choice('noisy', noisy, NOISY_MODES)
    fps_arr = check_fps(fps)
    if size_bins_mm is not None:
        bins = np.asarray(list(size_bins_mm), dtype=np.float64)
        if bins.size == 0 or (bins <= 0).any() or (np.diff(bins) <= 0).any():
            raise ValueError('size_bins_mm must be increasing positive mm '
                             f'values, got {list(size_bins_mm)}')
    type_names = _type_name_map(lesion_type_names)
    if len(records) == 0:
        raise ValueError('no image to evaluate (empty results)')

    pred_boxes, pred_scores, gt_boxes = [], [], []
    les_type, les_size, les_interval = [], [], []
    dropped_images = dropped_lesions = 0
    for rec in records:
        lesions = rec['instances']
        if noisy == 'drop':
            kept = [inst for inst in lesions if not inst['noisy']]
            dropped_lesions += len(lesions) - len(kept)
            if lesions and not kept:
                dropped_images += 1
                continue
            lesions = kept
        pred_boxes.append(np.asarray(rec['pred_bboxes']))
        pred_scores.append(np.asarray(rec['pred_scores']))
        gt_boxes.append(
            np.array([inst['bbox'] for inst in lesions],
                     dtype=np.float64).reshape(-1, 4))
        spacing = rec.get('spacing')
        interval = rec.get('slice_interval')
        if interval is None and spacing is not None and len(spacing) >= 3:
            interval = spacing[2]
        for inst in lesions:
            les_type.append(inst['lesion_type'])
            diam = inst.get('diameters')
            if diam and spacing:
                les_size.append(float(diam[0]) * float(spacing[0]))
            else:
                les_size.append(np.nan)
            les_interval.append(np.nan if interval is None else
                                round(float(interval), 3))
    if not gt_boxes:
        raise ValueError('no image left to evaluate: every image had only '
                         "noisy lesions (noisy='drop')")

    res = froc(pred_boxes, pred_scores, gt_boxes, fps_arr, iou_thr, overlap,
               plus_one, exact_rate)
    les_type = np.asarray(les_type, dtype=np.int64)
    les_size = np.asarray(les_size, dtype=np.float64)
    les_interval = np.asarray(les_interval, dtype=np.float64)

    rows = [dict(group='all', name='all', num_lesions=res['num_lesions'],
                 num_found=res['num_found'], sens=res['sens'],
                 mean_sens=res['mean_sens'])]
    strata = []  # (group, name, key, mask)
    for code in sorted(set(les_type[les_type > 0].tolist())):
        name = type_names.get(code, f'type{code}') if type_names else None
        if name is not None:
            strata.append(('type', name, f'type_{name}', les_type == code))
    if size_bins_mm is not None:
        known = ~np.isnan(les_size)
        idx = np.digitize(np.where(known, les_size, 0.0), bins, right=False)
        for b, name in enumerate(size_bin_names(bins)):
            strata.append(('size', name, f'size_{name}', known & (idx == b)))
    for value in np.unique(les_interval[~np.isnan(les_interval)]):
        name = f'interval_{_fmt(value)}mm'
        strata.append(('interval', name, name, les_interval == value))

    metrics: Dict[str, float] = OrderedDict()
    for f, s in zip(res['fps'], res['sens']):
        metrics[f'sens@{_fmt(f)}'] = float(s)
    metrics['mean_sens'] = float(res['mean_sens'])
    ap50 = None
    if compute_ap50:
        ap50 = _coco_ap50(gt_boxes, pred_boxes, pred_scores)
        metrics['ap50'] = ap50
    for group, name, key, mask in strata:
        sub = stratum_froc(res, mask)
        if sub['num_lesions'] == 0:
            continue
        rows.append(dict(group=group, name=name,
                         num_lesions=sub['num_lesions'],
                         num_found=sub['num_found'], sens=sub['sens'],
                         mean_sens=sub['mean_sens']))
        metrics[key] = float(sub['mean_sens'])
    metrics['num_images'] = res['num_images']
    metrics['num_lesions'] = res['num_lesions']

    max_rate = float(np.max(fps_arr))
    cx, cy = curve_corners(res['curve_fps'], res['curve_sens'],
                           max_fps=max_rate)
    protocol = dict(
        noisy=noisy, overlap=overlap, iou_thr=float(iou_thr),
        plus_one=bool(plus_one), exact_rate=exact_rate,
        fps=[float(f) for f in fps_arr],
        mean_sens_range=list(MEAN_SENS_RANGE),
        beyond_last_fp_rate='clamped to the final sensitivity',
        strata_fp_axis='FPs per image over all images (not stratified)',
        size_bins_mm=None if size_bins_mm is None else bins.tolist(),
        ap50='pycocotools COCO AP at IoU 0.5, continuous widths, '
        'maxDets 100' if compute_ap50 else None)
    report = dict(
        protocol=protocol,
        num_images=res['num_images'],
        num_lesions=res['num_lesions'],
        num_detections=res['num_detections'],
        num_fp=res['num_fp'],
        num_images_input=len(records),
        dropped_noisy_lesions=dropped_lesions,
        dropped_images=dropped_images,
        max_fps=res['max_fps'],
        final_sens=res['final_sens'],
        clamped=[bool(c) for c in res['clamped']],
        ap50=ap50,
        metrics=dict(metrics),
        rows=[dict(r, sens=[float(s) for s in r['sens']],
                   mean_sens=float(r['mean_sens'])) for r in rows],
        curve=dict(fps=cx.tolist(), sens=cy.tolist()))
    return metrics, report


def protocol_line(report: dict) -> str:
    """One line stating the protocol and counts of a report."""
    p = report['protocol']
    line = (f"DeepLesion FROC: {report['num_images']} images, "
            f"{report['num_lesions']} lesions, noisy={p['noisy']}")
    if p['noisy'] == 'drop':
        line += (f" ({report['dropped_noisy_lesions']} noisy lesions and "
                 f"{report['dropped_images']} images dropped)")
    line += (f"; {p['overlap'].upper()} >= {_fmt(p['iou_thr'])}"
             f"{' (+1 pixel widths)' if p['plus_one'] else ''}; "
             f"exact rates read the {p['exact_rate']} point; last observed "
             f"FP rate {report['max_fps']:.3f}/image, sensitivities beyond "
             'it clamped; strata share the FP axis of all images')
    return line


def format_table(report: dict) -> str:
    """The per-stratum sensitivity table of a report, as text."""
    from terminaltables import AsciiTable

    fps = report['protocol']['fps']
    header = ['stratum', 'lesions'] + [f'sens@{_fmt(f)}' for f in fps]
    header.append('mean(0.5-4)')
    table = [header]
    for r in report['rows']:
        cells = [r['name'], str(r['num_lesions'])]
        cells += [f'{s:.4f}' for s in r['sens']]
        cells.append(f"{r['mean_sens']:.4f}")
        table.append(cells)
    marks = [f'{_fmt(f)}' for f, c in zip(fps, report['clamped']) if c]
    text = AsciiTable(table).table
    lines = [protocol_line(report), text]
    if marks:
        lines.append('clamped (beyond the last observed FP rate): @' +
                     ', @'.join(marks))
    if report.get('ap50') is not None:
        lines.append(f"AP50 (COCO): {report['ap50']:.4f}")
    return '\n'.join(lines)


def write_report_files(report: dict, out_dir: str,
                       curve_png: bool = True) -> List[str]:
    """Write ``froc.json``, ``froc.csv`` and ``froc_curve.png`` to
    ``out_dir`` and return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    json_path = osp.join(out_dir, 'froc.json')
    with open(json_path, 'w') as f:
        json.dump(report, f, indent=1, default=float)
    paths.append(json_path)
    csv_path = osp.join(out_dir, 'froc.csv')
    fps = report['protocol']['fps']
    with open(csv_path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['group', 'stratum', 'num_lesions', 'num_found'] +
                        [f'sens@{_fmt(v)}' for v in fps] + ['mean_sens'])
        for r in report['rows']:
            writer.writerow([r['group'], r['name'], r['num_lesions'],
                             r['num_found']] +
                            [f'{s:.6f}' for s in r['sens']] +
                            [f"{r['mean_sens']:.6f}"])
    paths.append(csv_path)
    if curve_png:
        paths.append(_plot_curve(report, osp.join(out_dir,
                                                  'froc_curve.png')))
    return paths


def _plot_curve(report: dict, path: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fps = np.asarray(report['protocol']['fps'])
    overall = report['rows'][0]
    x = np.asarray(report['curve']['fps'])
    y = np.asarray(report['curve']['sens'])
    low = min(fps.min(), 0.125) / 2
    fig = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    # extend the last point flat to the right edge (clamping)
    xs = np.append(np.maximum(x, low), max(fps.max(), x[-1]) * 1.2)
    ax.plot(xs, np.append(y, y[-1]), drawstyle='steps-post', lw=1.5,
            label='FROC')
    ax.plot(fps, overall['sens'], 'o', label='reported rates')
    for f, s in zip(fps, overall['sens']):
        ax.annotate(f'{s:.3f}', (f, s), textcoords='offset points',
                    xytext=(0, -14), ha='center', fontsize=8)
    ax.set_xscale('log')
    ax.set_xlim(low, max(fps.max(), 1) * 1.2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('false positives per image')
    ax.set_ylabel('sensitivity')
    p = report['protocol']
    ax.set_title(f"DeepLesion FROC (noisy={p['noisy']}, "
                 f"{p['overlap'].upper()}>={_fmt(p['iou_thr'])}), "
                 f"mean {overall['mean_sens']:.4f}", fontsize=10)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(path)
    return path


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

    Metrics (prefixed ``deeplesion/``): ``sens@<f>`` for each rate,
    ``mean_sens`` (mean over the rates in [0.5, 4]; the key for
    ``save_best='deeplesion/mean_sens'``), ``ap50``, the mean sensitivity of
    each stratum (``type_<name>``, ``size_<bin>``, ``interval_<v>mm``; a
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
            ``diameters[0] * spacing[0]``); None disables them.
        lesion_type_names: Names of ``lesion_type`` codes: a sequence for
            codes 1, 2, ... (default: the 8 DeepLesion coarse types) or a
            dict code -> name; None disables type strata. Codes <= 0 are
            unknown and not stratified.
        compute_ap50: Compute COCO AP50 with pycocotools.
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
                 size_bins_mm: Optional[Sequence[float]] = (10, 30),
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
            collect_device=collect_device, prefix=prefix,
            collect_dir=collect_dir)
        self.fps = tuple(float(f) for f in check_fps(fps))
        check_protocol(iou_thr, overlap, exact_rate)
        check_choice('noisy', noisy, NOISY_MODES)
        if size_bins_mm is not None:
            size_bin_names(size_bins_mm)  # validates the type early
        self.iou_thr = float(iou_thr)
        self.overlap = overlap
        self.plus_one = bool(plus_one)
        self.noisy = noisy
        self.exact_rate = exact_rate
        self.size_bins_mm = None if size_bins_mm is None else tuple(
            float(b) for b in size_bins_mm)
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
            self.results.append(_clean_record(record, where))

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
            save_detection_dump(results, self.dump_detections,
                                extra=dict(protocol_at_dump=self._options()))
            print_log(f'detections of {len(results)} images written to '
                      f'{self.dump_detections}', logger=logger)
        missing = sum(r['spacing'] is None for r in results)
        if missing and self.size_bins_mm is not None:
            print_log(f"{missing} images have no 'spacing' meta: their "
                      f'lesions are left out of the size strata '
                      f'({_META_HINT})', logger=logger, level=logging.WARNING)
        metrics, report = evaluate_froc_records(results, **self._options())
        self.last_report = report
        print_log('\n' + format_table(report), logger=logger)
        out_dir = self.resolve_out_dir()
        if out_dir:
            paths = write_report_files(report, out_dir)
            print_log(f"FROC report written to {', '.join(paths)}",
                      logger=logger)
        return dict(metrics)

    def _options(self) -> dict:
        return dict(
            fps=self.fps, iou_thr=self.iou_thr, overlap=self.overlap,
            plus_one=self.plus_one, noisy=self.noisy,
            exact_rate=self.exact_rate, size_bins_mm=self.size_bins_mm,
            lesion_type_names=self.lesion_type_names,
            compute_ap50=self.compute_ap50)
