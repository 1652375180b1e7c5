"""Extract the backbone weights of a checkpoint into a standalone file.

    python tools/misc/extract_backbone.py CKPT OUT \
        [--prefix backbone.] [--keep-prefix]

Writes ``{'state_dict': {...}, 'meta': {...}}`` holding only the tensors
whose key starts with ``--prefix`` (default ``backbone.``). By default the
prefix is **stripped** (keys like ``conv1.weight``), so the file can be
loaded directly into a backbone, e.g. with
``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` (no prefix) or
``init_cfg=dict(type='cspr_det.PretrainedBackbone', checkpoint=OUT)`` (which
accepts both forms). ``--keep-prefix`` keeps the keys unchanged (then use
``prefix='backbone.'`` when loading). Optimizer state and message-hub data
are dropped, which makes the file much smaller than a training checkpoint.
The backbone architecture record of a converted checkpoint
(``meta['backbone_arch']``) is kept, so the extracted file is checked the
same way when it is loaded.
"""
import argparse
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

from cspr_det.utils import UserInputError  # noqa: E402


def extract(ckpt_path: str,
            out_path: str,
            prefix: str = 'backbone.',
            keep_prefix: bool = False,
            trust_checkpoint: bool = False) -> int:
    """Write the backbone tensors of ``ckpt_path`` to ``out_path``
    (``trust_checkpoint``: read it without the allow-list of checkpoint
    globals, only for a file you trust).

    Returns:
        int: Number of tensors written.
    """
    import torch

    import cspr_det  # noqa: F401  (checkpoint loader for torch >= 2.6)
    from cspr_det.models.utils import (read_checkpoint, read_state_dict,
                                       split_prefix)

    ckpt = read_checkpoint(ckpt_path, trust_checkpoint=trust_checkpoint)
    state = read_state_dict(ckpt)
    inside, _ = split_prefix(state, prefix)
    if not inside:
        raise ValueError(
            f'no key of {ckpt_path} starts with {prefix!r}; first keys: '
            f'{sorted(state)[:5]}')
    picked = {
        (prefix + k if keep_prefix else k): v.clone()
        for k, v in inside.items()
    }
    meta = dict(
        source=osp.abspath(ckpt_path),
        prefix=prefix,
        prefix_kept=keep_prefix,
        num_tensors=len(picked))
    old_meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if isinstance(old_meta, dict) and 'backbone_arch' in old_meta:
        meta['backbone_arch'] = old_meta['backbone_arch']
    out_dir = osp.dirname(osp.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(dict(state_dict=picked, meta=meta), out_path)
    return len(picked)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Extract backbone.* weights from a checkpoint')
    parser.add_argument('checkpoint', help='pre-training checkpoint (.pth)')
    parser.add_argument('out', help='output file (.pth)')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help='key prefix to extract (default backbone.)')
    parser.add_argument(
        '--keep-prefix',
        action='store_true',
        help='keep the prefix in the written keys')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='read CHECKPOINT without the allow-list of '
        'checkpoint globals: for an old file you trust '
        'only, since unpickling it can run code (see '
        'docs/security.md)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        print(
            f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 1
    try:
        n = extract(args.checkpoint, args.out, args.prefix, args.keep_prefix,
                    args.trust_checkpoint)
    except (ValueError, UserInputError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    how = 'prefix kept' if args.keep_prefix else 'prefix stripped'
    print(f'wrote {n} tensors ({how}) to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
