"""Published train/val/test splits shipped inside the package.

- ``lits/``: the LiTS lists of the reference liver-segmentation code, copied
  verbatim: ``liver_norm1_all_dir_pa_range.txt`` (training volumes, each
  listed twice: full z-range and liver-only range), ``liver_valid_nii.txt``
  and ``liver_test_nii.txt`` (13 volumes each): 105 / 13 / 13 of the 131
  LiTS training volumes.
- ``btcv/all_files.txt``: the 30 labelled BTCV cases (``bcv_N.npz``, N in
  1-10 and 21-40); cases 35-40 are the test split, the other 24 train.

Case ids are the source file stems: ``volume-N`` (LiTS) and ``img%04d``
(BTCV, ``RawData/Training/img/img0001.nii.gz``).
"""
import json
import os.path as osp
import re
from typing import Dict, List

SPLIT_DIR = osp.dirname(osp.abspath(__file__))

#: BTCV cases of the test split (the last six labelled cases).
BTCV_TEST_IDS = tuple(range(35, 41))


def _read_lines(path: str) -> List[str]:
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip()]


def _lits_ids(path: str) -> List[str]:
    """Distinct ``volume-N`` ids of a LiTS list file, in file order."""
    ids: List[str] = []
    for n, line in enumerate(_read_lines(path), 1):
        m = re.search(r'volume-(\d+)', line.split()[0])
        if m is None:
            raise ValueError(f'{path}:{n}: no volume-N in {line!r}')
        case = f'volume-{int(m.group(1))}'
        if case not in ids:
            ids.append(case)
    return ids


def lits_published_split() -> Dict[str, List[str]]:
    """The published LiTS split.

    Returns:
        dict: ``train`` (105), ``val`` (13) and ``test`` (13) lists of
        ``volume-N`` case ids.
    """
    d = osp.join(SPLIT_DIR, 'lits')
    split = dict(
        train=_lits_ids(osp.join(d, 'liver_norm1_all_dir_pa_range.txt')),
        val=_lits_ids(osp.join(d, 'liver_valid_nii.txt')),
        test=_lits_ids(osp.join(d, 'liver_test_nii.txt')))
    _check_disjoint(split, 'LiTS published split')
    return split


def btcv_case_id(number: int) -> str:
    """Case id of BTCV case ``number`` (the image file stem)."""
    return f'img{int(number):04d}'


def btcv_published_split() -> Dict[str, List[str]]:
    """The published BTCV split: cases 35-40 test, the other 24 train.

    Returns:
        dict: ``train`` (24) and ``test`` (6) lists of ``img%04d`` ids.
    """
    path = osp.join(SPLIT_DIR, 'btcv', 'all_files.txt')
    numbers = []
    for n, line in enumerate(_read_lines(path), 1):
        m = re.fullmatch(r'bcv_(\d+)\.npz', line)
        if m is None:
            raise ValueError(f'{path}:{n}: expected bcv_N.npz, got {line!r}')
        numbers.append(int(m.group(1)))
    split = dict(
        train=[btcv_case_id(i) for i in numbers if i not in BTCV_TEST_IDS],
        test=[btcv_case_id(i) for i in numbers if i in BTCV_TEST_IDS])
    _check_disjoint(split, 'BTCV published split')
    return split


def load_split_file(path: str) -> Dict[str, List[str]]:
    """A custom split: JSON ``{"train": [case ids], "val": [...], ...}``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path) as f:
        split = json.load(f)
    if not isinstance(split, dict) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v)
            for v in split.values()):
        raise ValueError(f'{path}: expected {{"split": [case ids, ...]}}')
    _check_disjoint(split, path)
    return split


def _check_disjoint(split: Dict[str, List[str]], name: str) -> None:
    seen: Dict[str, str] = {}
    for part, ids in split.items():
        for case in ids:
            if case in seen and seen[case] != part:
                raise ValueError(f'{name}: {case} is in both {seen[case]} '
                                 f'and {part}')
            seen[case] = part


__all__ = [
    'BTCV_TEST_IDS', 'SPLIT_DIR', 'btcv_case_id', 'btcv_published_split',
    'load_split_file', 'lits_published_split'
]
