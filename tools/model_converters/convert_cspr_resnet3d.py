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

import torch

import cspr_det  # noqa: F401
from cspr_det.registry import MODELS
from cspr_det.models.utils import (convert_cspr_resnet3d, format_report,
                                   infer_cspr_resnet3d_config,
                                   load_strict_with_report, read_state_dict,
                                   report_is_clean)


def convert(src, dst: str) -> dict:
    """Convert ``src`` (path or state dict) and write ``dst``; returns the
    load report (plus ``passed_through``)."""
    legacy = read_state_dict(src)
    cfg = infer_cspr_resnet3d_config(legacy)
    backbone, others = convert_cspr_resnet3d(legacy)
    model = MODELS.build(cfg)
    report = load_strict_with_report(model, backbone)
    report['passed_through'] = sorted(others)
    if report_is_clean(report):
        sd = {f'backbone.{k}': v for k, v in backbone.items()}
        sd.update(others)
        torch.save(dict(state_dict=sd, meta=dict(backbone_cfg=cfg,
                                                 converter='convert_cspr_'
                                                 'resnet3d')), dst)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src')
    p.add_argument('dst')
    args = p.parse_args(argv)
    report = convert(args.src, args.dst)
    print(format_report(report))
    if not report_is_clean(report):
        print('NOT converted: the checkpoint does not match the assumed '
              'legacy layout (see the keys above)')
        return 1
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
