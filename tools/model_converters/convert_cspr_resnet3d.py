"""Convert a legacy CSPR 3D ResNet checkpoint (mmcls 0.6 fork) to cspr_det.

Legacy layout assumed (see cspr_det/models/utils/legacy.py):
``backbone.conv1.weight``, ``backbone.bn1.*``, ``backbone.layerI.J.conv1/2``,
``.bn1/2``, ``.downsample.0/1``, ``head.fc.*``. The released files may carry
no ``backbone.`` prefix (``conv1.weight``, ``bn1.*``, ``layer1.0.bn1.*``) and
may be wrapped in ``{'state_dict': ...}`` or carry a ``module.`` prefix: all
are accepted. Backbone keys become ``backbone.<cspr_det ResNet3D key>``
(``bnK`` -> ``normK``); other keys (``head.*``) are copied unchanged. The
backbone is loaded strictly into a ResNet3D built from the checkpoint's own
shapes; every unmatched key is printed and the tool exits with status 1 if
anything did not match.

On success it writes DST (``meta['backbone_arch']`` records depth, widths,
stem kernel and norm: loading DST into a backbone built otherwise fails,
naming each difference) and DST with ``.py`` instead of ``.pth``: a config
that inherits ``--base-config`` (default: the VDT ResNet3D-18 classifier)
with this backbone and ``load_from`` set to DST.

Example:
    python tools/model_converters/convert_cspr_resnet3d.py \
        legacy_r3d18.pth checkpoints/r3d18_cspr_det.pth
    # as the encoder of another model:
    #   init_cfg=dict(type='cspr_det.PretrainedBackbone',
    #                 checkpoint='checkpoints/r3d18_cspr_det.pth')
"""
import argparse
import sys

import cspr_det  # noqa: F401
from cspr_det.models.utils import (RESNET3D_ARCH_KEYS, conversion_summary,
                                   convert_cspr_resnet3d,
                                   infer_cspr_resnet3d_config, read_state_dict,
                                   save_converted)
from cspr_det.utils import UserInputError  # noqa: E402


def convert(src,
            dst: str,
            base_config: str = None,
            trust_checkpoint: bool = False) -> dict:
    """Convert ``src`` (path or state dict) and write ``dst`` and its config;
    returns the load report (plus ``passed_through`` and ``written``).
    ``trust_checkpoint`` reads a ``src`` file without the allow-list of
    checkpoint globals (only for files you trust)."""
    legacy = read_state_dict(src, trust_checkpoint=trust_checkpoint)
    cfg = infer_cspr_resnet3d_config(legacy)
    backbone, others = convert_cspr_resnet3d(legacy)
    return save_converted(
        backbone,
        others,
        cfg,
        dst,
        'convert_cspr_resnet3d',
        arch_keys=RESNET3D_ARCH_KEYS,
        source=src if isinstance(src, str) else None,
        base_config=base_config)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='legacy checkpoint')
    p.add_argument(
        'dst',
        help='output checkpoint (.pth); its config is '
        'written beside it (.py)')
    p.add_argument(
        '--base-config',
        help='config the written config inherits (default: the '
        'VDT ResNet3D-18 classifier config)')
    p.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='read SRC without the allow-list of checkpoint '
        'globals: for an old file you trust only, since '
        'unpickling it can run code (see docs/security.md)')
    args = p.parse_args(argv)
    try:
        report = convert(
            args.src,
            args.dst,
            base_config=args.base_config,
            trust_checkpoint=args.trust_checkpoint)
    except (UserInputError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    text, code = conversion_summary(report, args.dst)
    print(text)
    return code


if __name__ == '__main__':
    sys.exit(main())
