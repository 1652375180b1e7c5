"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

The checkpoint is loaded strictly: a missing, unexpected or shape-mismatched
key, or a converted checkpoint whose recorded backbone architecture differs
from the config's, stops the run with one line giving the counts and the
first keys of each (or naming every architecture difference).
``--non-strict`` loads the matching tensors and prints the same summary as a
warning.

``--dump-detections FILE`` writes every image's raw detections (original pixel
coordinates) with its ground truth to JSON, so the FROC can be re-scored under
other protocol options with ``tools/analysis_tools/rescore_detections.py``.

``--show-dir DIR`` draws every test key slice (soft-tissue window, ground
truth green, predictions scoring at least ``--show-score-thr`` red) to
``DIR/<series>_<NNN>.png`` with the DeepLesion visualiser.
"""
import argparse
import os.path as osp

from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.cli.train_test import (add_common_args, check_data_roots,
                                     load_config, run_with_runner)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a cspr_det model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_common_args(parser)
    parser.add_argument(
        '--dump-detections',
        help='write raw detections and ground truth of every test image to '
        'this JSON file')
    parser.add_argument(
        '--out', help='dump mmengine predictions to a pickle file')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load a checkpoint that does not match the model (missing, '
        'unexpected or shape-mismatched keys, another backbone '
        'architecture): only the matching tensors are loaded, with a warning')
    parser.add_argument(
        '--show-dir',
        help='draw every test sample (key slice, ground truth, predictions) '
        'into this folder')
    parser.add_argument(
        '--show-score-thr',
        type=float,
        default=0.3,
        help='smallest prediction score drawn with --show-dir')
    return parser.parse_args(argv)


def _evaluator_metrics(evaluator):
    """The metric configs of a ``test_evaluator`` (a metric, a list of
    metrics or an ``Evaluator`` dict with ``metrics``)."""
    if isinstance(evaluator, (list, tuple)):
        return list(evaluator)
    if evaluator.get('type', 'Evaluator') == 'Evaluator' and \
            'metrics' in evaluator:
        metrics = evaluator['metrics']
        return list(metrics) if isinstance(metrics,
                                           (list, tuple)) else [metrics]
    return [evaluator]


def main(args) -> int:
    import cspr_det  # noqa: F401

    cfg = load_config(args)
    if not osp.isfile(args.checkpoint):
        raise CLIError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    check_data_roots(cfg, ('test_dataloader', ))
    froc_metrics = [
        m for m in _evaluator_metrics(cfg.test_evaluator)
        if m.get('type', '').endswith('DeepLesionFROCMetric')
    ]
    if args.dump_detections and not froc_metrics:
        raise CLIError('--dump-detections needs a DeepLesionFROCMetric in '
                       'test_evaluator')
    for metric in froc_metrics:
        metric.setdefault('out_dir', cfg.work_dir)
        if args.dump_detections:
            metric['dump_detections'] = args.dump_detections
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise CLIError('--out must end with .pkl or .pickle')
        dump = dict(type='DumpResults', out_file_path=args.out)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = list(cfg.test_evaluator) + [dump]
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump]
    if args.show_dir:
        from cspr_det.visualization import enable_test_visualization
        enable_test_visualization(cfg, args.show_dir, args.show_score_thr)
    run_with_runner(
        cfg,
        args.launcher,
        'test',
        load_strict=not args.non_strict,
        load_check_arch=not args.non_strict,
        load_hint='run with --non-strict to evaluate the matching tensors '
        'anyway',
        trust_checkpoint=args.trust_checkpoint)
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
