"""Train a model from a config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os.path as osp

from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.cli.train_test import (add_common_args, check_data_roots,
                                     load_config, run_with_runner)
from cspr_det.datasets.data_check import DataCheckError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a cspr_det model')
    parser.add_argument('config', help='config file path')
    add_common_args(parser)
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by (total batch size / base batch size)')
    parser.add_argument(
        '--skip-data-check',
        action='store_true',
        help='do not check, before the first iteration, that every training '
        'and validation sample exists and matches its index')
    return parser.parse_args(argv)


def main(args) -> int:
    import cspr_det  # noqa: F401  (registries, checkpoint loader)

    cfg = load_config(args)
    if args.amp and \
            cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
            raise CLIError(
                '--auto-scale-lr needs auto_scale_lr.base_batch_size '
                'in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise CLIError(
                f'checkpoint to resume from not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    if cfg.get('load_from') and not args.resume and not osp.isfile(
            cfg.load_from):
        raise CLIError(f'load_from checkpoint not found: {cfg.load_from}')
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
    if not args.skip_data_check:
        cfg.custom_hooks = list(cfg.get('custom_hooks')
                                or []) + [dict(type='cspr_det.DataCheckHook')]
    try:
        run_with_runner(
            cfg,
            args.launcher,
            'train',
            trust_checkpoint=args.trust_checkpoint)
    except DataCheckError as err:
        raise CLIError(str(err)) from None
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
