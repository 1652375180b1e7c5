from .auc import (THRESHOLD_RULES, binary_metrics, choose_threshold,
                  confusion_at, roc_auc, roc_curve)
from .box_overlaps import pairwise_overlaps
from .dice import (confusion_counts, dice_from_counts, dice_per_class,
                   mean_foreground)
from .froc import froc
from .froc3d import (FPS_3D, MODES_3D, OVERLAPS_3D, froc3d, overlaps3d,
                     size_strata, stratum_froc3d)
from .froc_curve import (curve_corners, interpolate_sensitivity,
                         mean_sensitivity, stratum_froc)
from .froc_options import (DEFAULT_FPS, EXACT_RATE_RULES, MEAN_SENS_RANGE,
                           OVERLAP_MODES)
from .hausdorff import hausdorff_distance, surface
from .score_order import score_order

__all__ = [
    'FPS_3D', 'MODES_3D', 'OVERLAPS_3D', 'froc3d', 'overlaps3d', 'size_strata',
    'stratum_froc3d', 'DEFAULT_FPS', 'EXACT_RATE_RULES', 'MEAN_SENS_RANGE',
    'OVERLAP_MODES', 'THRESHOLD_RULES', 'binary_metrics', 'choose_threshold',
    'confusion_at', 'roc_auc', 'roc_curve', 'confusion_counts',
    'curve_corners', 'dice_from_counts', 'dice_per_class', 'froc',
    'hausdorff_distance', 'interpolate_sensitivity', 'mean_foreground',
    'mean_sensitivity', 'pairwise_overlaps', 'score_order', 'stratum_froc',
    'surface'
]
