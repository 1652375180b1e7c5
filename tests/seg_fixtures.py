"""Tiny synthetic LiTS / BTCV datasets (NIfTI + converted arrays) shared by
the 3D segmentation tests; each is generated once per test session."""
import os.path as osp
from typing import Dict

from tool_loader import load_tool

_CACHE: Dict[str, dict] = {}


def tiny_seg_dataset(tmp_path_factory, dataset: str = 'lits') -> dict:
    """A tiny synthetic ``dataset`` ('lits' or 'btcv') written as NIfTI in
    the real layout and converted by the dataset's converter tool.

    Returns:
        dict: ``raw`` (NIfTI root), ``converted`` (folder with index.json),
        ``split`` (path of split.json).
    """
    if dataset in _CACHE:
        return _CACHE[dataset]
    from cspr_det.datasets.synthetic.make_synthetic_seg import (
        make_synthetic_btcv, make_synthetic_lits)
    root = str(tmp_path_factory.mktemp(f'tiny_{dataset}'))
    raw = osp.join(root, 'raw')
    make = make_synthetic_lits if dataset == 'lits' else make_synthetic_btcv
    # 6 cases: train 3, val 1, test 2 (split fractions 0.5 / 0.17 / 0.33)
    make(
        raw,
        num_cases=6,
        seed=1,
        preset='tiny',
        split_fractions=(0.5, 0.17, 0.33),
        oblique_prob=0.5)
    converted = osp.join(root, 'converted')
    tool = load_tool(f'tools/dataset_converters/{dataset}.py')
    spacing = ['8', 'none', 'none'] if dataset == 'lits' else \
        ['8', '12', '12']
    rc = tool.main([
        raw, converted, '--spacing', *spacing, '--split-file',
        osp.join(raw, 'split.json')
    ])
    assert rc == 0
    _CACHE[dataset] = dict(
        raw=raw, converted=converted, split=osp.join(raw, 'split.json'))
    return _CACHE[dataset]
