"""Lesion strata of the DeepLesion FROC: lesion type, long diameter and
slice interval."""
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np

# Coarse_lesion_type codes 1..8 of DL_info.csv, in order.
DEEPLESION_TYPE_NAMES = ('bone', 'abdomen', 'mediastinum', 'liver', 'lung',
                         'kidney', 'soft_tissue', 'pelvis')
DEFAULT_SIZE_BINS_MM = (10, 30)
# thin <= 1.5 mm < medium <= 3.5 mm < thick
DEFAULT_INTERVAL_BINS_MM = (1.5, 3.5)


class Stratum(NamedTuple):
    """A subset of the evaluated lesions.

    Attributes:
        group: ``'type'``, ``'size'`` or ``'interval'``.
        name: Name shown in tables (``'liver'``, ``'>=30mm'``,
            ``'interval_<=1.5mm'``).
        key: Metric key of its mean sensitivity (``'type_liver'``, ...).
        mask: ``(M,)`` bool, the lesions in the stratum.
    """
    group: str
    name: str
    key: str
    mask: np.ndarray


def fmt_number(value: float) -> str:
    """Short number text: 1.0 -> '1', 0.5 -> '0.5'."""
    return f'{float(value):g}'


def check_bins(bins: Sequence[float], name: str) -> np.ndarray:
    """Validate strata edges (increasing, positive mm) and return them as a
    float array."""
    try:
        arr = np.asarray(list(bins), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a sequence of mm values, got '
                         f'{bins!r}') from None
    if arr.size == 0 or not np.isfinite(arr).all() or (arr <= 0).any() or \
            (np.diff(arr) <= 0).any():
        raise ValueError(f'{name} must be increasing positive mm values, '
                         f'got {list(bins)}')
    return arr


def size_bin_names(size_bins_mm: Sequence[float]) -> List[str]:
    """Names of the long-diameter strata: ``(10, 30)`` gives ``['<10mm',
    '10-30mm', '>=30mm']``. Bin ``i`` holds long diameters ``d`` with
    ``edges[i-1] <= d < edges[i]``."""
    edges = [fmt_number(b) for b in check_bins(size_bins_mm, 'size_bins_mm')]
    names = [f'<{edges[0]}mm']
    names += [f'{a}-{b}mm' for a, b in zip(edges[:-1], edges[1:])]
    names.append(f'>={edges[-1]}mm')
    return names


def interval_bin_names(interval_bins_mm: Sequence[float]) -> List[str]:
    """Names of the slice-interval strata: ``(1.5, 3.5)`` gives
    ``['interval_<=1.5mm', 'interval_1.5-3.5mm', 'interval_>3.5mm']``. Bin
    ``i`` holds intervals ``z`` with ``edges[i-1] < z <= edges[i]``."""
    edges = [
        fmt_number(b) for b in check_bins(interval_bins_mm, 'interval_bins_mm')
    ]
    names = [f'<={edges[0]}mm']
    names += [f'{a}-{b}mm' for a, b in zip(edges[:-1], edges[1:])]
    names.append(f'>{edges[-1]}mm')
    return [f'interval_{n}' for n in names]


def type_name_map(names) -> Dict[int, str]:
    """Lesion-type code -> name from a sequence (codes 1, 2, ...), a dict
    or None (no names)."""
    if names is None:
        return {}
    if isinstance(names, Mapping):
        return {int(k): str(v) for k, v in names.items()}
    return {i + 1: str(n) for i, n in enumerate(names)}


def lesion_strata(
        lesion_type: np.ndarray,
        long_diameter_mm: np.ndarray,
        slice_interval_mm: np.ndarray,
        lesion_type_names=DEEPLESION_TYPE_NAMES,
        size_bins_mm: Optional[Sequence[float]] = None,
        interval_bins_mm: Optional[Sequence[float]] = None) -> List[Stratum]:
    """Every stratum of a set of lesions, empty bins included.

    Args:
        lesion_type: ``(M,)`` int codes; codes <= 0 are unknown and in no
            type stratum.
        long_diameter_mm: ``(M,)`` long diameters, NaN when unknown (then in
            no size stratum).
        slice_interval_mm: ``(M,)`` slice intervals of the lesions' images,
            NaN when unknown (then in no interval stratum).
        lesion_type_names: See :func:`type_name_map`; None (or empty): no
            type strata. A code without a name is called ``type<code>``.
        size_bins_mm: Long-diameter edges (None: no size strata).
        interval_bins_mm: Slice-interval edges (None: no interval strata).

    Returns:
        list: :class:`Stratum` per type present, per size bin and per
        interval bin, in that order.
    """
    strata: List[Stratum] = []
    names = type_name_map(lesion_type_names)
    if names:
        for code in sorted(set(lesion_type[lesion_type > 0].tolist())):
            name = names.get(code, f'type{code}')
            strata.append(
                Stratum('type', name, f'type_{name}', lesion_type == code))
    if size_bins_mm is not None:
        known = ~np.isnan(long_diameter_mm)
        idx = np.digitize(
            np.where(known, long_diameter_mm, 0.0),
            check_bins(size_bins_mm, 'size_bins_mm'))
        for b, name in enumerate(size_bin_names(size_bins_mm)):
            strata.append(
                Stratum('size', name, f'size_{name}', known & (idx == b)))
    if interval_bins_mm is not None:
        known = ~np.isnan(slice_interval_mm)
        idx = np.digitize(
            np.where(known, slice_interval_mm, 0.0),
            check_bins(interval_bins_mm, 'interval_bins_mm'),
            right=True)
        for b, name in enumerate(interval_bin_names(interval_bins_mm)):
            strata.append(Stratum('interval', name, name, known & (idx == b)))
    return strata
