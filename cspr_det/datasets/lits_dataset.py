"""LiTS (Liver Tumor Segmentation) 3D dataset."""
from typing import Dict

from cspr_det.registry import DATASETS
from .base_volume_seg_dataset import BaseVolumeSegDataset

#: Tasks of :class:`LiTSDataset`: classes and source label -> training id.
LITS_TASKS = dict(
    liver=dict(
        classes=('background', 'liver'),
        palette=[(0, 0, 0), (220, 20, 60)],
        label_map={
            0: 0,
            1: 1,
            2: 1
        }),
    liver_tumour=dict(
        classes=('background', 'liver', 'tumour'),
        palette=[(0, 0, 0), (220, 20, 60), (255, 215, 0)],
        label_map={
            0: 0,
            1: 1,
            2: 2
        }))


@DATASETS.register_module()
class LiTSDataset(BaseVolumeSegDataset):
    """LiTS converted by ``tools/dataset_converters/lits.py``.

    Source labels: 0 background, 1 liver, 2 tumour. ``task='liver'`` (the
    2-class liver task) merges the tumour into the liver; ``task=
    'liver_tumour'`` keeps three classes. The published split holds 105
    training, 13 validation and 13 test volumes.

    Args:
        task: ``'liver'`` or ``'liver_tumour'``.
        **kwargs: :class:`BaseVolumeSegDataset` arguments.
    """

    DATASET_NAME = 'lits'
    METAINFO = dict(LITS_TASKS['liver'], dataset='lits')

    def __init__(self, task: str = 'liver', **kwargs) -> None:
        if task not in LITS_TASKS:
            raise ValueError(f'unknown LiTS task {task!r}; choose from '
                             f'{sorted(LITS_TASKS)}')
        self.task = task
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        for key in ('classes', 'palette'):
            metainfo.setdefault(key, LITS_TASKS[task][key])
        super().__init__(metainfo=metainfo, **kwargs)

    @property
    def label_map(self) -> Dict[int, int]:
        if self._label_map_arg is not None:
            return super().label_map
        return dict(LITS_TASKS[self.task]['label_map'])


__all__ = ['LITS_TASKS', 'LiTSDataset']
