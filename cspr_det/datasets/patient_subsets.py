"""Nested patient subsets for data-efficiency studies."""
import math
from typing import List, Sequence

import numpy as np


def choose_patients(patients: Sequence[str],
                    fraction: float,
                    seed: int = 0) -> List[str]:
    """Deterministic patient subset, nested in ``fraction``.

    The sorted distinct ids are shuffled with ``seed`` (``numpy``
    ``RandomState``) and the first ``max(1, ceil(fraction * n))`` kept, so
    for one seed a smaller fraction is a subset of a larger one. Used by
    every data-efficiency study (DeepLesion patients, LIDC patients, LiTS /
    BTCV cases).

    Args:
        patients: Patient ids (duplicates and order are ignored).
        fraction: Fraction in (0, 1].
        seed: Random seed of the patient order.

    Returns:
        list[str]: The kept patient ids, sorted.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'patient fraction must be in (0, 1], got '
                         f'{fraction}')
    unique = sorted(set(patients))
    if not unique:
        raise ValueError('no patient to subsample')
    order = np.random.RandomState(seed).permutation(len(unique))
    n_keep = max(1, int(math.ceil(fraction * len(unique) - 1e-9)))
    return sorted(unique[i] for i in order[:n_keep])


__all__ = ['choose_patients']
