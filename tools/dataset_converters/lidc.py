"""Check the LIDC-IDRI nodule crops and write the split record.

    python tools/dataset_converters/lidc.py data/lidc [--out-dir DIR] \
        [--split-seed 0] [--fractions 0.7 0.1 0.2] [--min-size 48] [--strict]

``data/lidc`` holds ``nodule/lidcP_K.npz``,
``lidc_nodule_info_new_with_subset.csv`` and ``train_test_split.csv`` (the
community release; copies of the two CSVs ship in
``cspr_det/datasets/splits/lidc/``, pass ``--info-csv``/``--split-csv`` to
use them). Every annotated nodule's npz is read in full (crop, the four
reader masks, shapes, at least ``--min-size`` per axis, binary masks).

Outputs (in ``--out-dir``, default the data folder):

- ``lidc_splits.csv``: one row per annotated nodule: ``index``, ``uid``,
  ``malignancy_mode``, ``cls_label`` (0/1, empty for mode 3), the
  ``reference`` subset (the published nodule-level split), the
  ``patient_cls`` and ``patient_seg`` subsets of the seeded
  patient-disjoint splits (what ``cspr_det.LIDCNoduleDataset`` computes
  for the same seed and fractions) and ``problem`` (empty when usable);
- ``lidc_check.json``: counts per protocol and subset, the bad nodules
  with their problem, the settings.

Both files are written to temporary names and renamed only when everything
succeeded, so an interrupted or failed run leaves nothing half-written.
With ``--strict`` a bad nodule fails the run (exit 1) and nothing is
written.
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import sys
import tempfile
import zipfile

import numpy as np

from cspr_det.datasets.lidc_metadata import (INFO_CSV, SPLIT_CSV, build_split,
                                             nodule_label, read_nodule_info,
                                             read_reference_split,
                                             shared_patients)
from cspr_det.datasets.lidc_npz import READER_KEYS, check_nodule_npz


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('data_root', help='folder with nodule/ and the CSVs')
    p.add_argument(
        '--out-dir',
        default=None,
        help='where to write the record (default: data_root)')
    p.add_argument(
        '--info-csv',
        default=None,
        help=f'nodule table (default: data_root/{INFO_CSV})')
    p.add_argument(
        '--split-csv',
        default=None,
        help=f'reference split (default: data_root/{SPLIT_CSV})')
    p.add_argument('--split-seed', type=int, default=0)
    p.add_argument(
        '--fractions',
        type=float,
        nargs=3,
        default=(0.7, 0.1, 0.2),
        metavar=('TRAIN', 'VAL', 'TEST'))
    p.add_argument('--min-size', type=int, default=48)
    p.add_argument(
        '--strict',
        action='store_true',
        help='fail (and write nothing) when a nodule is bad')
    return p.parse_args(argv)


def full_check(path: str, min_size: int) -> str:
    """Problem of one nodule after reading every array ('' when usable)."""
    problem = check_nodule_npz(path, min_size)
    if problem:
        return problem
    try:
        with np.load(path) as npz:
            voxel = npz['voxel']
            for key in READER_KEYS:
                if key in npz.files:
                    values = np.unique(npz[key])
                    if not np.isin(values, (0, 1)).all():
                        return (f'mask {key} of {path} is not binary '
                                f'(values {values[:5].tolist()})')
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        return f'unreadable npz {path}: {type(err).__name__}: {err}'
    if voxel.ndim != 3:
        return f'voxel of {path} is not 3D'
    return ''


def _subset_of(split: dict) -> dict:
    return {i: name for name in ('train', 'val', 'test') for i in split[name]}


def build_record(args) -> tuple:
    """Rows of ``lidc_splits.csv`` and the summary dict."""
    root = args.data_root
    info = read_nodule_info(args.info_csv or osp.join(root, INFO_CSV))
    ref = read_reference_split(args.split_csv or osp.join(root, SPLIT_CSV))
    fractions = tuple(args.fractions)
    splits = {
        name:
        build_split(
            info, ref, task, protocol, fractions, seed=args.split_seed)
        for name, task, protocol in (('reference_cls', 'classification',
                                      'reference'),
                                     ('patient_cls', 'classification',
                                      'patient'), ('patient_seg',
                                                   'segmentation', 'patient'))
    }
    reference = {i: 'train' for i in ref['train']}
    reference.update({i: 'test' for i in ref['test']})
    patient_cls = _subset_of(splits['patient_cls'])
    patient_seg = _subset_of(splits['patient_seg'])
    rows, bad = [], {}
    for index in patient_seg:  # every annotated nodule
        nodule = info[index]
        problem = full_check(
            osp.join(root, 'nodule', f'{index}.npz'), args.min_size)
        if problem:
            bad[index] = problem
        label = nodule_label(nodule, 'classification')
        rows.append(
            dict(
                index=index,
                uid=nodule.uid,
                malignancy_mode=nodule.malignancy_mode,
                cls_label='' if label is None else label,
                reference=reference.get(index, ''),
                patient_cls=patient_cls.get(index, ''),
                patient_seg=patient_seg[index],
                problem=problem))
    counts = {}
    for name, split in splits.items():
        counts[name] = {}
        for part in ('train', 'val', 'test'):
            ids = split[part]
            entry = dict(
                nodules=len(ids),
                patients=len({info[i].uid
                              for i in ids}),
                bad=sum(i in bad for i in ids))
            if name.endswith('_cls'):
                entry['malignant'] = sum(
                    nodule_label(info[i], 'classification') for i in ids)
            counts[name][part] = entry
        counts[name]['patients_shared_train_test'] = len(
            shared_patients(info, split['train'] + split['val'],
                            split['test']))
    summary = dict(
        data_root=root,
        split_seed=args.split_seed,
        fractions=list(fractions),
        min_size=args.min_size,
        nodules=len(rows),
        bad_nodules=bad,
        counts=counts)
    return rows, summary


def _write_atomic(path: str, text: str) -> str:
    """Write ``text`` to a temporary file beside ``path``; return it."""
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(path) or '.', suffix='.tmp')
    with os.fdopen(fd, 'w', newline='', encoding='utf-8') as f:
        f.write(text)
    return tmp


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isdir(args.data_root):
        print(f'error: data root not found: {args.data_root}', file=sys.stderr)
        return 1
    try:
        rows, summary = build_record(args)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    bad = summary['bad_nodules']
    for index, problem in bad.items():
        print(f'bad nodule {index}: {problem}', file=sys.stderr)
    if bad and args.strict:
        print(
            f'error: {len(bad)} bad nodule(s); nothing written (--strict)',
            file=sys.stderr)
        return 1
    out = args.out_dir or args.data_root
    os.makedirs(out, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(rows[0]) if rows else ['index'])
    writer.writeheader()
    writer.writerows(rows)
    staged = [(_write_atomic(osp.join(out, 'lidc_splits.csv'),
                             buf.getvalue()), 'lidc_splits.csv'),
              (_write_atomic(
                  osp.join(out, 'lidc_check.json'),
                  json.dumps(summary, indent=1)), 'lidc_check.json')]
    for tmp, name in staged:
        os.replace(tmp, osp.join(out, name))
    for name, parts in summary['counts'].items():
        text = ', '.join(
            f'{p} {c["nodules"]}' +
            (f' ({c["malignant"]} malignant)' if 'malignant' in c else '')
            for p, c in parts.items() if isinstance(c, dict))
        print(f'{name}: {text}; patients shared by train/val and test: '
              f'{parts["patients_shared_train_test"]}')
    print(f'{summary["nodules"]} nodules checked, {len(bad)} bad; wrote '
          f'{out}/lidc_splits.csv and lidc_check.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
