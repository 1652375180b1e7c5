"""cspr_det: pseudo-3D backbones, DeepLesion detection and VDT pre-training on
mmengine + mmcv + mmdet.

Importing the package first checks the environment (``pkg_resources``
present, OpenMMLab versions in range) so that a broken install fails with one
line saying what to run, then creates the cspr_det registries (children of
mmengine's roots, filled lazily) and registers cspr_det's checkpoint loader
(torch's ``weights_only`` loading plus an allow-list of the globals mmengine
checkpoints need; see docs/security.md). The checks must run before anything
imports mmengine's config machinery, hence the imports below them.
"""
import importlib.util

# Same range as requirements/setuptools.txt (a test keeps them equal).
_SETUPTOOLS_SPEC = 'setuptools>=77.0.3,<81'


def _check_pkg_resources() -> None:
    """Raise a one-line ``ImportError`` when ``pkg_resources`` is missing.

    mmengine imports ``pkg_resources`` whenever a config inherits an
    ``mmdet::`` base; setuptools 82 removed it, and a later ``pip install``
    that resolves torch's requirements can upgrade setuptools that far.
    """
    try:
        spec = importlib.util.find_spec('pkg_resources')
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ImportError(
            'pkg_resources is missing (setuptools>=82 removed it; mmengine '
            f"needs it): run  pip install '{_SETUPTOOLS_SPEC}'")


_check_pkg_resources()

from .utils.version_guard import check_stack  # noqa: E402

check_stack()

from . import registry  # noqa: E402,F401
from .utils.checkpoint_loading import register_checkpoint_loader  # noqa: E402
from .version import __version__, version_info  # noqa: E402

register_checkpoint_loader()

__all__ = ['__version__', 'version_info']
