from .fcn_head_3d import FCNHead3D
from .lidc_fusion_head_3d import LIDCFusionHead3D
from .linear_cls_head_3d import LinearClsHead3D

__all__ = ['LinearClsHead3D', 'FCNHead3D', 'LIDCFusionHead3D']
