"""Presets and defaults of the synthetic DeepLesion generator."""
from typing import Dict, Optional

#: Generator presets; keyword arguments of :func:`make_synthetic_deeplesion`
#: override them.
PRESETS: Dict[str, dict] = dict(
    # trains a small detector on a CPU in minutes
    demo=dict(
        num_patients=56,
        image_size=128,
        studies_per_patient=(1, 3),
        series_per_study=(1, 1),
        keys_per_series=(2, 4),
        slice_intervals=((1.0, 0.1), (2.0, 0.3), (5.0, 0.6)),
        split_fractions=(0.72, 0.12, 0.16),
        # conspicuous enough for a from-scratch detector trained for minutes
        lesion_contrast_hu=(100.0, 200.0),
        min_lesion_px=8.0,
        tubes_per_series=(1, 2)),
    # loader benchmark: 512 x 512, alternating 1 mm and 5 mm series
    bench=dict(
        num_patients=4,
        image_size=512,
        studies_per_patient=(1, 1),
        series_per_study=(2, 2),
        keys_per_series=(3, 3),
        slice_intervals=((1.0, 0.5), (5.0, 0.5)),
        cycle_intervals=True,
        split_fractions=(1.0, 0.0, 0.0)),
    # DeepLesion-like sizes for longer experiments
    large=dict(
        num_patients=200,
        image_size=512,
        studies_per_patient=(1, 3),
        series_per_study=(1, 2),
        keys_per_series=(1, 4),
        slice_intervals=((1.0, 0.35), (2.0, 0.15), (5.0, 0.5)),
        split_fractions=(0.7, 0.15, 0.15)),
)

#: Settings every preset starts from (see :func:`make_synthetic_deeplesion`).
DEFAULTS: Dict[str, object] = dict(
    context_mm=30.0,
    lesion_diameter_mm=(5.0, 40.0),
    lesion_contrast_hu=(40.0, 120.0),
    min_lesion_px=6.0,
    tubes_per_series=(1, 3),
    multi_lesion_prob=0.3,
    noisy_fraction=0.02,
    series_length_mm=(220.0, 380.0),
    noise_hu=(10.0, 20.0),
    fov_fill=(0.98, 1.1),
    cycle_intervals=False)


def resolve_config(preset: str,
                   num_patients: Optional[int] = None,
                   image_size: Optional[int] = None,
                   **overrides) -> dict:
    """The generator settings: :data:`DEFAULTS`, then the preset, then the
    overrides.

    Args:
        preset (str): A key of :data:`PRESETS`.
        num_patients (int, optional): Overrides the preset's value.
        image_size (int, optional): Overrides the preset's value.
        **overrides: Any key of :data:`DEFAULTS` or of the preset.

    Returns:
        dict: The settings, in the order above (it is written to
        ``synthetic_truth.json``).

    Raises:
        ValueError: For an unknown preset, fewer than 1 patient or images
            smaller than 32 px.
        TypeError: For an unknown override.
    """
    if preset not in PRESETS:
        raise ValueError(
            f'unknown preset {preset!r}; choose from {sorted(PRESETS)}')
    cfg = dict(DEFAULTS)
    cfg.update(PRESETS[preset])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise TypeError(f'unknown arguments {sorted(unknown)}')
    cfg.update(overrides)
    if num_patients is not None:
        cfg['num_patients'] = num_patients
    if image_size is not None:
        cfg['image_size'] = image_size
    n_pat, size = int(cfg['num_patients']), int(cfg['image_size'])
    if n_pat < 1 or size < 32:
        raise ValueError('num_patients must be >= 1 and image_size >= 32, '
                         f'got {n_pat} and {size}')
    return cfg
