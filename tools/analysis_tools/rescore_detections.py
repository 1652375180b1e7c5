"""Re-score a detection dump under other FROC protocol options, without the
model.

The dump is written by ``tools/test.py CONFIG CKPT --dump-detections FILE``
(or ``DeepLesionFROCMetric(dump_detections=FILE)``); it holds every test
image's raw detections (original pixels) and ground-truth meta, noisy lesions
included, so both noisy protocols can be computed from it.

Examples::

    python tools/analysis_tools/rescore_detections.py dets.json
    python tools/analysis_tools/rescore_detections.py dets.json \\
        --noisy keep --overlap iobb --plus-one --out-dir work_dirs/rescore
    python tools/analysis_tools/rescore_detections.py dets.json \\
        --exact-rate last --interval-bins 1 2.5 5
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Re-score a DeepLesion detection dump (FROC, strata, '
        'AP50) under chosen protocol options')
    parser.add_argument('dump', help='detection dump (JSON)')
    parser.add_argument(
        '--iou-thr', type=float, default=0.5, help='overlap threshold')
    parser.add_argument(
        '--overlap',
        choices=['iou', 'iobb'],
        default='iou',
        help='iou, or iobb (intersection over the detected box)')
    parser.add_argument(
        '--plus-one',
        action='store_true',
        help='inclusive-pixel widths x2-x1+1 (classic 3DCE code)')
    parser.add_argument(
        '--noisy',
        choices=['drop', 'keep'],
        default='drop',
        help='drop: classic 3DCE/MULAN protocol; keep: MVP-Net/MP3D')
    parser.add_argument(
        '--exact-rate',
        choices=['first', 'last'],
        default='first',
        help='point read at rates the curve reaches exactly: first (default) '
        '= the classic 3DCE code, the sensitivity when the FP reaching the '
        'rate is counted; last = numpy.interp, the sensitivity just before '
        'the next FP')
    parser.add_argument(
        '--fps',
        type=float,
        nargs='+',
        default=[0.5, 1, 2, 4, 8, 16],
        help='FPs-per-image rates')
    parser.add_argument(
        '--size-bins',
        type=float,
        nargs='+',
        help='long-diameter strata edges in mm (bins <a, a-b, >=b; '
        'default: those of the dumping metric, else 10 30)')
    parser.add_argument(
        '--interval-bins',
        type=float,
        nargs='+',
        help='slice-interval strata edges in mm (bins <=a, a-b, >b; '
        'default: those of the dumping metric, else 1.5 3.5)')
    parser.add_argument(
        '--no-ap50',
        action='store_true',
        help='skip AP50 (COCO IoU >= 0.5, whatever --overlap/--plus-one)')
    parser.add_argument(
        '--out-dir', help='write froc.json, froc.csv and froc_curve.png here')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show full tracebacks instead of one-line errors')
    return parser.parse_args(argv)


def main(args) -> dict:
    """Re-score ``args.dump``; prints the table and returns the metrics."""
    from cspr_det.evaluation.metrics import (DEEPLESION_TYPE_NAMES,
                                             evaluate_froc_records,
                                             format_table, load_detection_dump,
                                             write_report_files)
    from cspr_det.evaluation.metrics.deeplesion_strata import (
        DEFAULT_INTERVAL_BINS_MM, DEFAULT_SIZE_BINS_MM)

    records, meta = load_detection_dump(args.dump)
    # strata as configured in the metric that wrote the dump
    dumped = meta.get('protocol_at_dump') or {}
    size_bins = args.size_bins or dumped.get('size_bins_mm',
                                             DEFAULT_SIZE_BINS_MM)
    interval_bins = args.interval_bins or dumped.get('interval_bins_mm',
                                                     DEFAULT_INTERVAL_BINS_MM)
    type_names = dumped.get('lesion_type_names', DEEPLESION_TYPE_NAMES)
    if isinstance(type_names, dict):  # JSON turned int keys into strings
        type_names = {int(k): v for k, v in type_names.items()}
    metrics, report = evaluate_froc_records(
        records,
        fps=args.fps,
        iou_thr=args.iou_thr,
        overlap=args.overlap,
        plus_one=args.plus_one,
        noisy=args.noisy,
        exact_rate=args.exact_rate,
        size_bins_mm=size_bins,
        interval_bins_mm=interval_bins,
        lesion_type_names=type_names,
        compute_ap50=not args.no_ap50)
    print(format_table(report))
    if args.out_dir:
        paths = write_report_files(report, args.out_dir)
        print('written: ' + ', '.join(paths))
    return dict(metrics)


if __name__ == '__main__':
    from cspr_det.cli.errors import run_cli

    cli_args = parse_args()
    run_cli(lambda: (main(cli_args), 0)[1], debug=cli_args.debug)
