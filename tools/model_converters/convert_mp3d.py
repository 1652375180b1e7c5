"""Convert a legacy MP3D / P3D checkpoint (mmdet 2.x fork) to cspr_det.

Legacy layout assumed (see cspr_det/models/utils/legacy.py): stem
``backbone.conv1_custom`` + ``backbone.norm1``; blocks ``conv1..conv4`` /
``norm_1..norm_4`` (S and T convs as separate layers); GTM
``backbone.groupconv_{1..4}`` or dense ``backbone.conv3d_all_{1..4}``
(prefix-less keys and ``module.`` / ``state_dict`` wrappers are accepted).
The target MP3DResNet/P3DResNet config (depth, widths, BN/GN, collapse,
num_slices, style='caffe', stem_pool_kernel=(3,3,3)) is inferred from the
checkpoint. Non-backbone keys (neck, RPN and RoI heads of the detector) are
copied unchanged. The backbone is loaded strictly; every unmatched key is
printed and the tool exits with status 1 if anything did not match.

On success it writes DST (``meta['backbone_arch']`` records the backbone
architecture: loading DST into a backbone built otherwise fails, naming each
difference) and DST with ``.py`` instead of ``.pth``: a ready config that
inherits ``--base-config`` (default: the shipped config for this backbone; for
MP3D-63 the reference leaf ``configs/deeplesion/faster-rcnn_mp3d63-gtm-
reference_fpn_8xb2-24e_deeplesion-9slice.py``) with exactly this backbone and
``load_from`` set to DST.

Example:
    python tools/model_converters/convert_mp3d.py mp3d63_coco.pth \
        checkpoints/mp3d63_cspr_det.pth
    python tools/test.py checkpoints/mp3d63_cspr_det.py \
        checkpoints/mp3d63_cspr_det.pth
"""
import argparse
import sys

import cspr_det  # noqa: F401
from cspr_det.models.utils import (conversion_summary, convert_mp3d,
                                   infer_mp3d_config, read_state_dict,
                                   save_converted)
from cspr_det.utils import UserInputError  # noqa: E402


def convert(src,
            dst: str,
            baseline: bool = False,
            base_config: str = None,
            trust_checkpoint: bool = False) -> dict:
    """Convert ``src`` (path or state dict) and write ``dst`` and its config;
    returns the load report (plus ``passed_through``, ``written`` and
    ``backbone_cfg``). ``trust_checkpoint`` reads a ``src`` file without the
    allow-list of checkpoint globals (only for files you trust)."""
    legacy = read_state_dict(src, trust_checkpoint=trust_checkpoint)
    cfg = infer_mp3d_config(legacy, baseline=baseline)
    backbone, others = convert_mp3d(legacy)
    dropped = []
    if baseline:
        dropped = sorted(k for k in backbone if k.startswith('collapse'))
        backbone = {k: v for k, v in backbone.items() if k not in dropped}
    report = save_converted(
        backbone,
        others,
        cfg,
        dst,
        'convert_mp3d',
        source=src if isinstance(src, str) else None,
        base_config=base_config)
    if baseline:
        report['dropped_depth_collapse'] = dropped
    report['backbone_cfg'] = [repr(cfg)]
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='legacy checkpoint')
    p.add_argument(
        'dst',
        help='output checkpoint (.pth); its config is '
        'written beside it (.py)')
    p.add_argument(
        '--p3d',
        action='store_true',
        help='target the P3DResNet baseline (depth pooling)')
    p.add_argument(
        '--base-config',
        help='config the written config inherits (default: the '
        'shipped detector config for this backbone)')
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
            baseline=args.p3d,
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
