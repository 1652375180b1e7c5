"""The two steps of a study run (see :mod:`cspr_det.cli.study_runner`) as
Python functions and one entry point:

    python -m cspr_det.cli.study_steps train CONFIG --work-dir DIR \\
        [--launcher L] [--cfg-options k=v ...]
    python -m cspr_det.cli.study_steps test CONFIG CHECKPOINT --work-dir DIR \\
        [--launcher L] [--cfg-options k=v ...]

``train`` builds mmengine's Runner from the config (with the overrides and
the work dir) and trains; ``test`` tests the checkpoint on the config's
test split, loading it strictly (a missing, unexpected or shape-mismatched
key stops the test). Bad input ends a step with one line on stderr and a
non-zero exit status.
"""
import argparse
import os.path as osp
from typing import List, Optional, Sequence

from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.cli.train_test import (add_common_args, check_data_roots,
                                     load_config, run_with_runner)


def _test_metric_cfgs(evaluator) -> List[dict]:
    """The metric configs of a ``test_evaluator`` (a metric, a list of
    metrics or an ``Evaluator`` dict with ``metrics``)."""
    if isinstance(evaluator, (list, tuple)):
        return list(evaluator)
    if evaluator.get('type', 'Evaluator') == 'Evaluator' and \
            'metrics' in evaluator:
        metrics = evaluator['metrics']
        return list(metrics) if isinstance(metrics, (list, tuple)) \
            else [metrics]
    return [evaluator]


def run_train_step(args: argparse.Namespace) -> int:
    """Train ``args.config`` into ``args.work_dir`` (the first step of a
    run): the config with ``--cfg-options`` applied, mmengine's Runner
    built from it in this process."""
    cfg = load_config(args)
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
    run_with_runner(
        cfg, args.launcher, 'train', trust_checkpoint=args.trust_checkpoint)
    return 0


def run_test_step(args: argparse.Namespace) -> int:
    """Test ``args.checkpoint`` of ``args.config`` on the config's test
    split (the second step of a run), loading the checkpoint strictly; a
    DeepLesion FROC metric writes its files into the test work dir."""
    cfg = load_config(args)
    if not osp.isfile(args.checkpoint):
        raise CLIError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    check_data_roots(cfg, ('test_dataloader', ))
    for metric in _test_metric_cfgs(cfg.test_evaluator):
        if str(metric.get('type', '')).endswith('DeepLesionFROCMetric'):
            metric.setdefault('out_dir', cfg.work_dir)
    run_with_runner(
        cfg,
        args.launcher,
        'test',
        load_strict=True,
        load_check_arch=True,
        trust_checkpoint=args.trust_checkpoint)
    return 0


def parse_step_args(
        argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Arguments of ``python -m cspr_det.cli.study_steps {train,test}``."""
    parser = argparse.ArgumentParser(
        prog='python -m cspr_det.cli.study_steps',
        description='One step of a study run: train a config, or test a '
        'checkpoint of it on its test split')
    steps = parser.add_subparsers(dest='step', required=True)
    train = steps.add_parser('train', help='train CONFIG')
    train.add_argument('config', help='config file path')
    add_common_args(train)
    test = steps.add_parser('test', help='test CHECKPOINT of CONFIG')
    test.add_argument('config', help='config file path')
    test.add_argument('checkpoint', help='checkpoint file')
    add_common_args(test)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run one step; bad input ends it with one line on stderr."""
    args = parse_step_args(argv)
    step = run_train_step if args.step == 'train' else run_test_step
    run_cli(lambda: step(args), debug=args.debug)


if __name__ == '__main__':
    main()
