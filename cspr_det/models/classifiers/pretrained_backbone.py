"""Moved to :mod:`cspr_det.models.utils.pretrained_backbone` (a weight
initializer, not a classifier); these names stay importable from here."""
from ..utils.pretrained_backbone import (PretrainedBackbone,
                                         adapt_in_channels,
                                         load_pretrained_backbone)
from ..utils.state_dict_io import read_state_dict

__all__ = [
    'PretrainedBackbone', 'adapt_in_channels', 'load_pretrained_backbone',
    'read_state_dict'
]
