"""Switching on the visualisation of test and validation samples in a
config (``tools/test.py --show-dir``)."""
import os.path as osp

from mmengine.config import Config

VISUALIZER_TYPE = 'cspr_det.DeepLesionVisualizer'


def use_deeplesion_visualizer(cfg: Config) -> None:
    """Make ``cfg.visualizer`` a :class:`DeepLesionVisualizer`, keeping its
    name and backends (other visualiser settings are dropped)."""
    old = cfg.get('visualizer') or {}
    if old.get('type') == VISUALIZER_TYPE:
        return
    cfg.visualizer = dict(
        type=VISUALIZER_TYPE,
        name=old.get('name', 'visualizer'),
        vis_backends=old.get('vis_backends', [dict(type='LocalVisBackend')]))


def enable_test_visualization(cfg: Config,
                              show_dir: str,
                              score_thr: float = 0.3) -> str:
    """Draw every test sample into ``show_dir``.

    Switches mmdet's ``DetVisualizationHook`` on (``draw=True``,
    ``interval=1``) with ``test_out_dir`` = the absolute ``show_dir`` (a
    relative one would be put under the work dir and timestamp, once per
    iteration) and the :class:`DeepLesionVisualizer`: one PNG per key slice,
    ``<series>_<NNN>.png``, ground truth green, predictions scoring at least
    ``score_thr`` red with their score.

    Args:
        cfg: The config (changed in place).
        show_dir: Output folder.
        score_thr: Smallest drawn prediction score.

    Returns:
        str: The absolute output folder.
    """
    if not 0 <= score_thr <= 1:
        raise ValueError(f'--show-score-thr must be in [0, 1], got '
                         f'{score_thr}')
    out = osp.abspath(show_dir)
    hooks = cfg.get('default_hooks') or {}
    hook = dict(hooks.get('visualization') or {})
    hook.update(
        type=hook.get('type', 'DetVisualizationHook'),
        draw=True,
        interval=1,
        score_thr=float(score_thr),
        test_out_dir=out)
    hooks['visualization'] = hook
    cfg.default_hooks = hooks
    use_deeplesion_visualizer(cfg)
    return out
