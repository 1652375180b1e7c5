"""Check the training and validation data before the first iteration."""
import logging
import time
from typing import List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log

from cspr_det.datasets.data_check import (MAX_LISTED, DataCheckError,
                                          DataCheckReport, summarize)
from cspr_det.registry import HOOKS


def leaf_datasets(dataset) -> list:
    """The datasets inside mmengine's wrappers (``ConcatDataset``'s
    ``datasets``, ``RepeatDataset`` / ``ClassBalancedDataset``'s
    ``dataset``), in order."""
    if hasattr(dataset, 'datasets'):
        return [d for sub in dataset.datasets for d in leaf_datasets(sub)]
    if hasattr(dataset, 'dataset') and not hasattr(dataset, 'check_data'):
        return leaf_datasets(dataset.dataset)
    return [dataset]


def check_datasets(named: List[Tuple[str, object]],
                   max_listed: int = MAX_LISTED) -> List[str]:
    """Run ``check_data()`` of every (wrapped) dataset and log one line per
    dataset; return the summary lines of those with problems.

    Args:
        named: ``(label, dataset)`` pairs, e.g. ``('train', dataset)``.
        max_listed: Sample names listed per dataset.

    Returns:
        list[str]: One ``'<label> <Class>: N of M <unit>s: ...'`` entry per
        dataset with problems (empty when all are fine).
    """
    failed = []
    for label, dataset in named:
        for leaf in leaf_datasets(dataset):
            where = f'{label} {type(leaf).__name__}'
            if not callable(getattr(leaf, 'check_data', None)):
                print_log(
                    f'data check: {where}: no check_data(), not checked',
                    logger='current',
                    level=logging.WARNING)
                continue
            start = time.perf_counter()
            report: DataCheckReport = leaf.check_data()
            seconds = time.perf_counter() - start
            if report.notes:
                print_log(
                    'data check: ' +
                    summarize(where, report, max_listed, notes=True),
                    logger='current',
                    level=logging.WARNING)
            if report.problems:
                failed.append(summarize(where, report, max_listed))
            else:
                print_log(
                    f'data check: {where}: {report.checked} '
                    f'{report.unit}s OK ({seconds:.2f} s)',
                    logger='current')
    return failed


@HOOKS.register_module()
class DataCheckHook(Hook):
    """Before the first training iteration, check that every sample of the
    training and validation datasets exists and matches its index
    (``check_data()`` of each dataset: headers and sizes only, seconds).

    Missing or damaged files raise :class:`DataCheckError` with one line
    listing the first ``max_listed`` samples per dataset and their count;
    ``tools/train.py`` adds this hook unless ``--skip-data-check`` is
    given. Runs in ``before_train`` (not ``before_run``), so that
    ``tools/test.py`` on a saved training config never builds the training
    data.

    Args:
        max_listed: Sample names listed per dataset in the message.
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_listed: int = MAX_LISTED) -> None:
        self.max_listed = int(max_listed)

    def before_train(self, runner) -> None:
        named = [('train', runner.train_dataloader.dataset)]
        val_loop: Optional[object] = runner.val_loop
        if val_loop is not None:
            named.append(('val', val_loop.dataloader.dataset))
        failed = check_datasets(named, self.max_listed)
        if failed:
            raise DataCheckError(
                'data check failed: ' + ' | '.join(failed) +
                ' (fix or convert the data again, or train with '
                '--skip-data-check)')
