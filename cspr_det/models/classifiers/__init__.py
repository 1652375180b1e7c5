from .pretrained_backbone import (PretrainedBackbone, load_pretrained_backbone,
                                  read_state_dict)
from .vdt_classifier import VDTClassifier

__all__ = [
    'VDTClassifier', 'PretrainedBackbone', 'load_pretrained_backbone',
    'read_state_dict'
]
