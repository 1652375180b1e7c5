"""Convert a legacy CSPR 3D ResNet checkpoint (mmcls 0.6 fork) to cspr_det.

Legacy layout assumed (see cspr_det/models/utils/legacy.py):
``backbone.conv1.weight``, ``backbone.bn1.*``, ``backbone.layerI.J.conv1/2``,
``.bn1/2``, ``.downsample.0/1``, ``head.fc.*``. Backbone keys become
``backbone.<cspr_det ResNet3D key>`` (``bnK`` -> ``normK``); ``head.*`` is
copied unchanged. The backbone is loaded strictly into a ResNet3D built from
the checkpoint's own shapes; every unmatched key is printed and the tool
exits with status 1 if anything did not match.

Example:
    python tools/model_converters/convert_cspr_resnet3d.py \
        legacy_r3d18.pth r3d18_cspr_det.pth
    # then: init_cfg=dict(type='Pretrained', checkpoint='r3d18_cspr_det.pth',
    #                     prefix='backbone.')
"""
import argparse
import sys

import cspr_det  # noqa: F401
from cspr_det.models.utils import (conversion_summary, convert_cspr_resnet3d,
                                   infer_cspr_resnet3d_config,
                                   read_state_dict, save_converted)


def convert(src, dst: str) -> dict:
    """Convert ``src`` (path or state dict) and write ``dst``; returns the
    load report (plus ``passed_through``)."""
    legacy = read_state_dict(src)
    cfg = infer_cspr_resnet3d_config(legacy)
    backbone, others = convert_cspr_resnet3d(legacy)
    return save_converted(backbone, others, cfg, dst,
                          'convert_cspr_resnet3d')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src')
    p.add_argument('dst')
    args = p.parse_args(argv)
    text, code = conversion_summary(convert(args.src, args.dst), args.dst)
    print(text)
    return code


if __name__ == '__main__':
    sys.exit(main())
