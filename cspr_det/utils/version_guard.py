"""Fail fast, with one clear message, when the OpenMMLab stack is out of
range."""
from typing import Tuple

from cspr_det.version import (MMCV_RANGE, MMDET_RANGE, MMENGINE_RANGE,
                              parse_version_info)


def check_version(name: str, installed: str, bounds: Tuple[str, str]) -> None:
    """Raise ``ImportError`` naming the package when ``installed`` is outside
    ``[bounds[0], bounds[1])``.

    Args:
        name: Package name used in the message.
        installed: The installed version string.
        bounds: ``(minimum inclusive, maximum exclusive)``.
    """
    low, high = bounds
    ver = parse_version_info(installed)
    if not (parse_version_info(low) <= ver < parse_version_info(high)):
        raise ImportError(
            f'cspr_det needs {name}>={low},<{high} but {name}=={installed} is '
            'installed. Run `make test` (or tools/setup_env.sh) to create '
            'the project environment, or install the versions in '
            'requirements/mminstall.txt.')


def check_stack() -> None:
    """Check mmengine, mmcv and mmdet versions (mmcv's compiled ops
    included)."""
    import mmengine
    check_version('mmengine', mmengine.__version__, MMENGINE_RANGE)
    try:
        import mmcv
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            'cspr_det needs mmcv (full, with ops) but it cannot be imported: '
            f'{exc}. Build it with tools/setup_env.sh.') from exc
    check_version('mmcv', mmcv.__version__, MMCV_RANGE)
    import mmdet
    check_version('mmdet', mmdet.__version__, MMDET_RANGE)
