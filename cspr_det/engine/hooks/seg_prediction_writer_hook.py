"""Write 3D segmentation predictions as NIfTI in the source geometry."""
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import print_log

from cspr_det.fileio import write_prediction
from cspr_det.registry import HOOKS


@HOOKS.register_module()
class SegPredictionWriterHook(Hook):
    """Write every test prediction as ``<out_dir>/<case_id><suffix>``.

    The prediction (``pred_seg`` on the converted grid) is mapped back to
    the case's source NIfTI geometry with
    :func:`cspr_det.fileio.to_source_geometry` (undoing the
    converter's reorientation and resampling), so the file loads in any
    viewer aligned with the source image. Files are written atomically.

    The segmentation runtime (``configs/_base_/runtimes/
    segmentation.py``) enables it, so ``tools/test.py`` writes the
    predictions of LiTS/BTCV configs to ``<work_dir>/predictions``. Samples
    without ``source`` metainfo (datasets that are not converted volumes)
    are counted and skipped.

    Args:
        out_dir: Output folder; default ``<work_dir>/predictions``.
        suffix: File name suffix (format by extension). Defaults to
            ``'.nii.gz'``.
        label_values: Optional source label value of each training id
            (e.g. ``(0, 1, 2)``); default: training ids are written as is.
    """

    priority = 'LOW'

    def __init__(self,
                 out_dir: Optional[str] = None,
                 suffix: str = '.nii.gz',
                 label_values: Optional[Sequence[int]] = None) -> None:
        self.out_dir = out_dir
        self.suffix = suffix
        self.label_values = None if label_values is None else \
            np.asarray(label_values, np.int64)
        self.written: Dict[str, str] = {}
        self.skipped = 0
        self._dir = out_dir

    def before_test(self, runner) -> None:
        self._dir = self.out_dir or osp.join(runner.work_dir, 'predictions')
        self.written = {}
        self.skipped = 0

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or ():
            if 'source' not in getattr(sample, 'metainfo', {}) or \
                    'pred_seg' not in sample:
                self.skipped += 1
                continue
            self.write(sample, write_prediction)

    def write(self, sample, writer=None) -> str:
        """Write one data sample; returns the file path."""
        if writer is None:
            writer = write_prediction
        meta = sample.metainfo
        case = meta.get('case_id', '?')
        if 'source' not in meta:
            raise KeyError(f'{case}: the data sample has no "source" '
                           'metainfo (geometry of the source NIfTI); pack '
                           'it with PackVolumeSegInputs from a converted '
                           'dataset')
        pred = sample.pred_seg.detach().cpu().numpy()
        shape = tuple(meta.get('ori_shape', pred.shape))
        if pred.shape != shape:
            raise ValueError(f'{case}: prediction shape {pred.shape} differs '
                             f'from the converted case shape {shape}; '
                             'predictions must be on the converted grid')
        if self.label_values is not None:
            if pred.max() >= len(self.label_values):
                raise ValueError(f'{case}: predicted id {int(pred.max())} has '
                                 'no entry in label_values')
            pred = self.label_values[pred]
        path = osp.join(self._dir or '.', f'{case}{self.suffix}')
        writer(path, pred, meta)
        self.written[case] = path
        return path

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not self.written and not self.skipped:
            return
        msg = (f'SegPredictionWriterHook: wrote {len(self.written)} '
               f'prediction(s) in the source geometry to {self._dir}')
        if self.skipped:
            msg += (f'; {self.skipped} sample(s) without source geometry or '
                    'pred_seg were not written')
        print_log(msg, logger='current')
