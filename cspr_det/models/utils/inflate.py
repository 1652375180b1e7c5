"""Inflate a 2D ResNet state dict into P3D / MP3D / 3D ResNets.

Rules (``inflate_2d_resnet``):

- Key layouts accepted: torchvision / timm (``conv1.weight``, ``bn1.*``,
  ``layer1.0.conv1.weight``, ``layer1.0.bn1.*``, ``downsample.0/1``,
  ``fc.*``), mmpretrain / mmcls / mmdet (the same under ``backbone.``, plus
  ``head.*`` / ``neck.*``), GN variants (``gn1`` ...). Wrappers
  (``state_dict``/``model``) and ``module.`` prefixes are removed.
  ``fc``/``head``/``neck`` keys are reported as unused.
- Spatial kernels copy the 2D kernels: a 2D ``(O, I, k, k)`` weight becomes
  ``(O, I, 1, k, k)`` (P3D ``conv_s``, all 1x1 convs) or, for full 3D
  kernels ``(O, I, kd, k, k)`` (ResNet3D), is put in the centre depth tap
  ``kd // 2`` with zeros elsewhere. On a volume whose slices are identical,
  such a conv gives the 2D response on every slice.
- First conv, 3 RGB channels -> ``K`` windows: ``K == 3`` copies;
  otherwise the 2D kernel is summed over RGB and divided by ``K``, i.e.
  ``K = 1`` gets the sum. Reason: a grey slice replicated to R=G=B gives the
  2D network exactly the response of the summed kernel on that slice.
- Depth convolutions of P3D units (``conv_t``, ``(3, 1, 1)``) start as the
  identity: centre tap 1 on the channel diagonal, 0 elsewhere. Their norms
  (``norm_t``):

  * type A (``T(S(x))``): identity norm (BN weight 1, bias 0, running mean 0,
    running var ``1 - eps`` so that ``1/sqrt(var + eps) = 1`` exactly). With
    ReLU idempotent, ``relu(T(relu(S x))) = relu(S x)``: the 2D conv.
  * type B (``S(x) + T(x)``): norm weight and bias 0, so the depth branch
    contributes 0 and the unit equals ``S``. With
    ``act_before_sum=True`` (reference formulation) this branch then sits
    at ReLU's flat zero and gets no gradient; build the backbone with
    ``act_before_sum=False`` when training from inflated weights (a
    warning is logged).
  * type C (``S(x) + T(S(x))``): identity norm *and* the spatial norm's
    weight and bias halved: ``s' = relu(bn_s(S x)) / 2`` and the unit gives
    ``s' + relu(s') = s``: the 2D conv, with a live depth branch.

  Together: for bottleneck depths (63/131/199) with ``style='pytorch'`` and
  BatchNorm in eval mode, an inflated P3DResNet/MP3DResNet on identical
  slices reproduces the 2D ResNet-50/101/152 stage outputs (GTM starts as
  the mean, P3D takes the centre slice); ResNet3D (18/34/50) reproduces
  ResNet-18/34/50. Basic P3D blocks ('18ba', '34ba') follow the MP3D
  reference, whose second unit ends in ReLU before the residual sum, so
  the weights load but the output is not the 2D one. With GroupNorm the
  identity norm is not exact (GN renormalises).
- Depth-collapse weights (GTM) are not in a 2D model; they keep their
  initialisation (mean over depth).
"""
import re
from typing import Dict, List, Mapping, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.p3d_unit import P3DUnit
from .state_dict_io import StateDict, read_state_dict, split_prefix

_BACKBONE_KEY = re.compile(r'^(conv1|bn1|layer[1-4])\.')
# Sub-module prefixes of classifiers that hold the ResNet (mmpretrain /
# mmcls / mmdet ``backbone.``; ``model.`` / ``encoder.`` wrappers).
_SUBMODULE_PREFIXES = ('backbone.', 'model.', 'encoder.')


def normalize_2d_resnet_keys(
        state_dict: Mapping[str, torch.Tensor]) -> Tuple[StateDict, List[str]]:
    """Bring a 2D ResNet state dict to the torchvision key layout.

    Wrappers and a ``module.`` prefix are removed by
    :func:`~cspr_det.models.utils.read_state_dict`; when keys carry one of
    the prefixes ``backbone.``, ``model.``, ``encoder.`` (tried in this
    order, the first that holds ResNet keys wins), that sub-module is taken.

    Returns:
        ``(backbone_state_dict, dropped_keys)``: keys of the stem and
        ``layer1..4`` with ``bn``-style norm names, and every other key
        (``fc``, ``head``, ``neck`` ...) in its original spelling.
    """
    state_dict = read_state_dict(state_dict)
    prefix = ''
    for candidate in _SUBMODULE_PREFIXES:
        inside, _ = split_prefix(state_dict, candidate)
        if any(_BACKBONE_KEY.match(k) for k in inside):
            prefix = candidate
            break
    out, dropped = {}, []
    for orig, v in state_dict.items():
        k = orig[len(prefix):] if prefix and orig.startswith(prefix) else orig
        k = re.sub(r'(^|\.)(gn|norm)(\d+)\.', r'\1bn\3.', k)
        if orig.startswith(prefix) and _BACKBONE_KEY.match(k):
            out[k] = v
        else:
            dropped.append(orig)
    if not out:
        raise ValueError('no 2D ResNet keys (conv1 / bn1 / layer1..4) found; '
                         f'first keys: {list(state_dict)[:8]}')
    return out, dropped


def _source_key(target_key: str) -> str:
    """2D (torchvision layout) key that feeds a target key."""
    k = re.sub(r'\.conv(\d)\.conv_s\.', r'.conv\1.', target_key)
    k = re.sub(r'\.conv(\d)\.norm_s\.', r'.bn\1.', k)
    k = re.sub(r'(^|\.)norm(\d)\.', r'\1bn\2.', k)
    return k


def inflate_conv_weight(w2d: torch.Tensor,
                        target_shape: torch.Size) -> torch.Tensor:
    """Inflate ``(O, I, kh, kw)`` to ``target_shape = (O, I', kd, kh, kw)``.

    ``I'`` may differ from ``I = 3`` (first conv, see module docstring);
    ``kd > 1`` puts the kernel in the centre tap.

    Raises:
        ValueError: Shapes cannot be reconciled.
    """
    o, i, kh, kw = w2d.shape
    o2, i2, kd, kh2, kw2 = target_shape
    if (o, kh, kw) != (o2, kh2, kw2):
        raise ValueError(f'cannot inflate {tuple(w2d.shape)} into '
                         f'{tuple(target_shape)}')
    if i2 != i:
        if i != 3:
            raise ValueError(f'cannot map {i} input channels to {i2} '
                             f'(shapes {tuple(w2d.shape)} -> '
                             f'{tuple(target_shape)})')
        w2d = (w2d.sum(dim=1, keepdim=True) / i2).expand(o, i2, kh, kw)
    out = w2d.new_zeros(target_shape)
    out[:, :, kd // 2] = w2d
    return out


@torch.no_grad()
def init_p3d_depth_identity(model: nn.Module) -> List[str]:
    """Set every :class:`P3DUnit` of ``model`` so that it computes its
    spatial conv only (rules in the module docstring). Returns the names of
    the tensors that were set."""
    touched = []
    warn_b = False
    for name, unit in model.named_modules():
        if not isinstance(unit, P3DUnit):
            continue
        w = unit.conv_t.weight
        w.zero_()
        n = min(w.size(0), w.size(1))
        idx = torch.arange(n)
        w[idx, idx, w.size(2) // 2, 0, 0] = 1.0
        touched.append(f'{name}.conv_t.weight')
        norm = unit.norm_t
        gate = 0.0 if unit.p3d_type == 'B' else 1.0
        if unit.p3d_type == 'B' and unit.act_before_sum:
            warn_b = True
        if getattr(norm, 'weight', None) is not None:
            norm.weight.fill_(gate)
            norm.bias.zero_()
        if isinstance(norm, _BatchNorm) and norm.track_running_stats:
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        touched += [f'{name}.norm_t.{k}' for k, _ in norm.state_dict().items()]
        if unit.p3d_type == 'C':
            ns = unit.norm_s
            if getattr(ns, 'weight', None) is not None:
                ns.weight.mul_(0.5)
                ns.bias.mul_(0.5)
    if warn_b:
        print_log(
            'P3D type-B units start with a zero depth branch; with '
            'act_before_sum=True that branch receives no gradient through '
            'its ReLU. Build the backbone with act_before_sum=False to train '
            'it from inflated 2D weights.',
            logger='current',
            level=30)
    return touched


def inflate_2d_resnet(model: nn.Module,
                      src: Union[str, Mapping[str, torch.Tensor]],
                      strict: bool = False,
                      trust_checkpoint: bool = False) -> Dict[str, List[str]]:
    """Load a 2D ResNet checkpoint into a P3DResNet, MP3DResNet or ResNet3D.

    Args:
        model: The (already built) 3D backbone; modified in place.
        src: Checkpoint path or state dict (any layout listed in the module
            docstring).
        strict: Raise if any target tensor outside the depth convs / depth
            collapse could not be filled, or any 2D backbone key was unused.
        trust_checkpoint: Read a ``src`` file without the allow-list of
            checkpoint globals (it can run code: only for trusted files).

    Returns:
        Report dict with lists ``loaded`` (target keys filled from 2D),
        ``depth_init`` (P3D depth tensors set to identity/zero),
        ``kept`` (target keys left as initialised, e.g. GTM),
        ``mismatched`` (``'key: 2D shape -> 3D shape'``),
        ``unused`` (2D keys not used, including ``fc``/``head``).

    Raises:
        ValueError: ``strict`` and something did not match.
    """
    sd2d, dropped = normalize_2d_resnet_keys(
        read_state_dict(src, trust_checkpoint=trust_checkpoint))
    target = model.state_dict()
    new_sd = {}
    used = set()
    report = dict(loaded=[], depth_init=[], kept=[], mismatched=[], unused=[])
    for k, t in target.items():
        if '.conv_t.' in k or '.norm_t.' in k:
            new_sd[k] = t
            continue
        sk = _source_key(k)
        if sk not in sd2d:
            new_sd[k] = t
            report['kept'].append(k)
            continue
        s = sd2d[sk]
        used.add(sk)
        try:
            if s.dim() == 4 and t.dim() == 5:
                v = inflate_conv_weight(s, t.shape)
            elif s.shape == t.shape:
                v = s
            else:
                raise ValueError('shape')
        except ValueError:
            report['mismatched'].append(
                f'{k}: {tuple(s.shape)} -> {tuple(t.shape)}')
            new_sd[k] = t
            continue
        new_sd[k] = v.to(t.dtype).clone()
        report['loaded'].append(k)
    model.load_state_dict(new_sd, strict=True)
    report['depth_init'] = init_p3d_depth_identity(model)
    report['unused'] = sorted(set(sd2d) - used) + dropped
    if strict:
        bad_kept = [k for k in report['kept'] if not k.startswith('collapse')]
        if bad_kept or report['mismatched'] or (set(sd2d) - used):
            raise ValueError('inflation did not match: kept=' + str(bad_kept) +
                             ' mismatched=' + str(report['mismatched']) +
                             ' unused=' + str(sorted(set(sd2d) - used)))
    return report
