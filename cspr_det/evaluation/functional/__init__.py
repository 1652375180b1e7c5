from .froc import (DEFAULT_FPS, MEAN_SENS_RANGE, curve_corners, froc,
                   interpolate_sensitivity, mean_sensitivity,
                   pairwise_overlaps, stratum_froc)

__all__ = [
    'DEFAULT_FPS', 'MEAN_SENS_RANGE', 'froc', 'stratum_froc',
    'interpolate_sensitivity', 'mean_sensitivity', 'pairwise_overlaps',
    'curve_corners'
]
