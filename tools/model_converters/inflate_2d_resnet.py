"""Inflate a 2D ResNet checkpoint into a P3D/MP3D or 3D ResNet backbone.

Accepts torchvision/timm (``conv1.weight``, ``layer1.0.bn1.*``, ``fc.*``) and
mmpretrain/mmcls/mmdet (``backbone.``-prefixed) layouts. Writes
``{'state_dict': {'backbone.<key>': tensor}, 'meta': {...}}``; load it with
``init_cfg=dict(type='cspr_det.PretrainedBackbone', checkpoint=DST,
exclude=['collapse'])``, which logs how many tensors it loaded (mmengine's
``dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` loads the same
tensors without the count). Depth-collapse (GTM) weights are not written (they
do not exist in 2D and depend on num_slices); they keep their mean
initialisation.

Examples:
    python tools/model_converters/inflate_2d_resnet.py resnet50.pth \
        mp3d63_inflated.pth --arch p3d --depth 63
    python tools/model_converters/inflate_2d_resnet.py resnet18.pth \
        r3d18_inflated.pth --arch resnet3d --depth 18
"""
import argparse
import sys

import torch

import cspr_det  # noqa: F401
from cspr_det.models.utils import format_report, inflate_2d_resnet
from cspr_det.registry import MODELS
from cspr_det.utils import UserInputError


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='2D ResNet checkpoint')
    p.add_argument('dst', help='output checkpoint')
    p.add_argument(
        '--arch',
        choices=['p3d', 'mp3d', 'resnet3d'],
        default='p3d',
        help='p3d and mp3d give identical backbone weights')
    p.add_argument(
        '--depth',
        default='63',
        help="p3d/mp3d: 18ba, 34ba, 63, 131, 199; resnet3d: "
        '18, 34, 50')
    p.add_argument('--in-channels', type=int, default=1)
    p.add_argument('--base-channels', type=int, default=64)
    p.add_argument('--norm', choices=['bn', 'gn'], default='bn')
    p.add_argument(
        '--style',
        choices=['pytorch', 'caffe'],
        default='pytorch',
        help='p3d/mp3d stride position')
    p.add_argument(
        '--strict',
        action='store_true',
        help='fail unless every 2D backbone key is used')
    p.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='read SRC without the allow-list of checkpoint '
        'globals: for an old file you trust only, since '
        'unpickling it can run code (see docs/security.md)')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    norm_cfg = dict(type='BN3d', requires_grad=True) if args.norm == 'bn' \
        else dict(type='GN', num_groups=32, requires_grad=True)
    if args.arch == 'resnet3d':
        cfg = dict(type='cspr_det.ResNet3D', depth=int(args.depth))
    else:
        cfg = dict(
            type='cspr_det.MP3DResNet',
            depth=args.depth,
            collapse='center',
            num_slices=None,
            style=args.style)
    cfg.update(
        in_channels=args.in_channels,
        base_channels=args.base_channels,
        norm_cfg=norm_cfg)
    model = MODELS.build(cfg)
    try:
        report = inflate_2d_resnet(
            model,
            args.src,
            strict=args.strict,
            trust_checkpoint=args.trust_checkpoint)
    except (UserInputError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    sd = {
        f'backbone.{k}': v
        for k, v in model.state_dict().items() if not k.startswith('collapse')
    }
    torch.save(
        dict(
            state_dict=sd,
            meta=dict(
                source=args.src,
                arch=args.arch,
                depth=args.depth,
                converter='inflate_2d_resnet')), args.dst)
    print(format_report(report))
    print(f'wrote {len(sd)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
