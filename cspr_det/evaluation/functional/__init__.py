from .froc import (DEFAULT_FPS, EXACT_RATE_RULES, MEAN_SENS_RANGE,
                   OVERLAP_MODES, curve_corners, froc,
                   interpolate_sensitivity, mean_sensitivity,
                   pairwise_overlaps, stratum_froc)

__all__ = [
    'DEFAULT_FPS', 'EXACT_RATE_RULES', 'MEAN_SENS_RANGE', 'OVERLAP_MODES',
    'froc', 'stratum_froc',
    'interpolate_sensitivity', 'mean_sensitivity', 'pairwise_overlaps',
    'curve_corners'
]
