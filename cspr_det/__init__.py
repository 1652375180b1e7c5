"""cspr_det: pseudo-3D backbones, DeepLesion detection and VDT pre-training on
mmengine + mmcv + mmdet.

Importing the package checks the OpenMMLab versions, creates the cspr_det
registries (children of mmengine's roots, filled lazily) and makes checkpoint
loading work under torch >= 2.6.
"""
from .utils.version_guard import check_stack

check_stack()

from . import registry  # noqa: E402,F401
from .utils.checkpoint import register_checkpoint_loader  # noqa: E402
from .version import __version__, version_info  # noqa: E402

register_checkpoint_loader()

__all__ = ['__version__', 'version_info']
