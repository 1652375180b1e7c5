from .linear_cls_head_3d import LinearClsHead3D

__all__ = ['LinearClsHead3D']
