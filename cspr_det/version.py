"""Version of cspr_det and the version bounds it checks at import time."""
__version__ = '0.1.0'

# Inclusive minimum, exclusive maximum. Keep in sync with
# requirements/mminstall.txt.
MMENGINE_RANGE = ('0.10.4', '0.11.0')
MMCV_RANGE = ('2.0.0', '2.2.0')
MMDET_RANGE = ('3.2.0', '3.4.0')


def parse_version_info(version_str: str) -> tuple:
    """Parse '2.1.0rc1' into a comparable tuple of ints, e.g. ``(2, 1, 0)``.

    Pre-release and local suffixes are ignored on purpose: bounds are on
    releases.
    """
    parts = []
    for token in version_str.split('+')[0].split('.')[:3]:
        digits = ''
        for ch in token:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


version_info = parse_version_info(__version__)
