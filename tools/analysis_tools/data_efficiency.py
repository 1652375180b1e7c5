"""Data-efficiency study: detection quality vs fraction of annotated
training patients, from a pre-trained backbone and from scratch.

    python tools/analysis_tools/data_efficiency.py CONFIG \
        --pretrained work_dirs/vdt/epoch_100.pth \
        --fractions 0.1 0.2 0.4 0.6 1.0 --work-dir work_dirs/data_eff \
        [--seed 0] [--metric deeplesion/mean_sens] [--cfg-options k=v ...]

For every fraction f the annotated training patients of the config's training
annotation file are subsampled at patient level (a fixed random order of
the patients drawn with ``--seed``; the first ceil(f * n) are kept, so smaller
fractions are subsets of larger ones), the subset is written to
``WORK_DIR/frac_<f>/train_subset.json`` and the config is trained twice with
``tools/train.py`` in a subprocess: once with the backbone initialised from
``--pretrained`` (``init_cfg=dict(type=--init-type, checkpoint=...,
prefix=--prefix, exclude=--exclude)``) and once from scratch
(``init_cfg=None``). The last
validation value of ``--metric`` is read from each run's
``vis_data/scalars.json``. Results go to ``WORK_DIR/data_efficiency.csv`` and
``WORK_DIR/data_efficiency.png`` (metric vs fraction, one line per
initialisation).

Supported training annotation files (the innermost dataset of
``train_dataloader.dataset`` that has ``ann_file``; wrappers such as
``RepeatDataset`` are unwrapped):

* COCO-style JSON (``images``/``annotations``, e.g. DeepLesion files written
  by ``tools/dataset_converters/deeplesion.py``); the patient of an image is
  ``image[--patient-key]`` (default: ``patient``), or parsed from the
  DeepLesion ``file_name`` (``PPPPPP_SS_ss/NNN.png``);
* mmengine-style JSON (``metainfo``/``data_list``; an item is annotated when
  its ``instances`` list is non-empty);
* DeepLesion ``DL_info.csv``: only ``Train_Val_Test == 1`` rows are
  subsampled, other rows are kept.

Patients without any annotation are dropped, so fraction 1.0 means "all
annotated training patients".
"""
import argparse
import copy
import csv
import glob
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SERIES_RE = re.compile(r'(?:^|[/\\])(\d{6})_\d{2}_\d{2}(?:[/\\_]|$)')


def patient_of(record: Dict[str, Any], patient_key: Optional[str]) -> str:
    """Patient id of one image record.

    Args:
        record: COCO ``images`` item, mmengine ``data_list`` item or CSV row.
        patient_key: Field holding the patient id; when absent from the
            record, DeepLesion names (``File_name``, ``file_name``,
            ``img_path``) are parsed.

    Returns:
        str: The patient id.

    Raises:
        KeyError: No patient id can be found (the record is named).
    """
    keys = [patient_key] if patient_key else []
    keys += ['patient', 'patient_id', 'Patient_index', 'patient_index']
    for key in keys:
        if key in record and record[key] not in (None, ''):
            return str(int(record[key])) if str(
                record[key]).isdigit() else str(record[key])
    for key in ('file_name', 'File_name', 'img_path', 'series'):
        value = record.get(key)
        if isinstance(value, str):
            m = SERIES_RE.search(value)
            if m:
                return str(int(m.group(1)))
    raise KeyError(f'no patient id in record {str(record)[:200]}; pass '
                   '--patient-key')


def choose_patients(patients: Sequence[str], fraction: float,
                    seed: int) -> List[str]:
    """Deterministic patient subset: shuffle the sorted ids with ``seed``
    and keep the first ``max(1, ceil(fraction * n))``. Nested in
    ``fraction`` for a fixed seed.

    Args:
        patients: Patient ids (duplicates are ignored).
        fraction: Fraction in (0, 1].
        seed: Random seed.

    Returns:
        list[str]: The kept patient ids, sorted.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    unique = sorted(set(patients))
    if not unique:
        raise ValueError('no annotated patient to subsample')
    order = np.random.RandomState(seed).permutation(len(unique))
    n_keep = max(1, int(math.ceil(fraction * len(unique) - 1e-9)))
    return sorted(unique[i] for i in order[:n_keep])


def subsample_coco(ann: dict, fraction: float, seed: int,
                   patient_key: Optional[str] = None) -> Tuple[dict, dict]:
    """Patient-level subsample of a COCO-style annotation dict.

    Returns:
        tuple: (new annotation dict, info dict with ``patients``,
        ``patients_total``, ``images``, ``annotations``).
    """
    image_patient = {
        img['id']: patient_of(img, patient_key)
        for img in ann['images']
    }
    annotated = {image_patient[a['image_id']] for a in ann['annotations']
                 if a['image_id'] in image_patient}
    keep = set(choose_patients(sorted(annotated), fraction, seed))
    images = [
        img for img in ann['images'] if image_patient[img['id']] in keep
    ]
    image_ids = {img['id'] for img in images}
    anns = [a for a in ann['annotations'] if a['image_id'] in image_ids]
    out = dict(ann)
    out['images'] = images
    out['annotations'] = anns
    return out, dict(
        patients=len(keep),
        patients_total=len(annotated),
        images=len(images),
        annotations=len(anns))


def subsample_data_list(ann: dict, fraction: float, seed: int,
                        patient_key: Optional[str] = None
                        ) -> Tuple[dict, dict]:
    """Patient-level subsample of an mmengine ``{metainfo, data_list}``
    annotation dict (items with non-empty ``instances`` are annotated)."""
    items = ann['data_list']
    pats = [patient_of(item, patient_key) for item in items]
    annotated = {p for p, item in zip(pats, items) if item.get('instances')}
    keep = set(choose_patients(sorted(annotated), fraction, seed))
    kept = [item for p, item in zip(pats, items) if p in keep]
    out = dict(ann)
    out['data_list'] = kept
    return out, dict(
        patients=len(keep),
        patients_total=len(annotated),
        images=len(kept),
        annotations=sum(len(i.get('instances', [])) for i in kept))


def subsample_csv_rows(rows: List[dict], fraction: float, seed: int,
                       patient_key: Optional[str] = None
                       ) -> Tuple[List[dict], dict]:
    """Patient-level subsample of DL_info.csv rows (dicts). Rows whose
    ``Train_Val_Test`` is not 1 are kept unchanged."""
    def is_train(row):
        return str(row.get('Train_Val_Test', '1')).strip() == '1'

    train_pats = {patient_of(r, patient_key) for r in rows if is_train(r)}
    keep = set(choose_patients(sorted(train_pats), fraction, seed))
    kept = [
        r for r in rows
        if not is_train(r) or patient_of(r, patient_key) in keep
    ]
    n_train = sum(1 for r in kept if is_train(r))
    return kept, dict(
        patients=len(keep),
        patients_total=len(train_pats),
        images=len({r.get('File_name') for r in kept if is_train(r)}),
        annotations=n_train)


def subsample_file(src: str, dst: str, fraction: float, seed: int,
                   patient_key: Optional[str] = None) -> dict:
    """Write a patient-level subset of the annotation file ``src`` to
    ``dst`` (same format). Returns the info dict."""
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    if src.lower().endswith('.csv'):
        with open(src, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames
            rows = list(reader)
        kept, info = subsample_csv_rows(rows, fraction, seed, patient_key)
        with open(dst, 'w', newline='', encoding='utf-8') as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
        return info
    with open(src, encoding='utf-8') as f:
        ann = json.load(f)
    if isinstance(ann, dict) and 'images' in ann and 'annotations' in ann:
        out, info = subsample_coco(ann, fraction, seed, patient_key)
    elif isinstance(ann, dict) and 'data_list' in ann:
        out, info = subsample_data_list(ann, fraction, seed, patient_key)
    else:
        raise ValueError(f'{src}: neither COCO-style (images/annotations) '
                         'nor mmengine-style (metainfo/data_list) JSON')
    with open(dst, 'w', encoding='utf-8') as f:
        json.dump(out, f)
    return info


def find_train_dataset(cfg) -> dict:
    """Innermost dataset config of ``train_dataloader`` with ``ann_file``."""
    ds = cfg['train_dataloader']['dataset']
    while 'ann_file' not in ds:
        if 'dataset' in ds:
            ds = ds['dataset']
        else:
            raise ValueError(
                'cannot find the training annotation file: '
                'train_dataloader.dataset (or its wrapped dataset) has no '
                'ann_file (ConcatDataset is not supported)')
    return ds


def resolve_path(path: str, data_root: Optional[str]) -> str:
    if osp.isabs(path) or not data_root:
        return path
    return osp.join(data_root, path)


def read_last_metric(run_dir: str, metric: str) -> Optional[float]:
    """Last value of ``metric`` in the newest ``vis_data/scalars.json``
    below ``run_dir`` (None when not found)."""
    files = sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                      'scalars.json')))
    value = None
    for path in files[-1:]:
        with open(path, encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line)
                if metric in rec:
                    value = float(rec[metric])
    return value


def backbone_init(pretrained: Optional[str], init_type: str, prefix: str,
                  exclude: Sequence[str] = (),
                  adapt_in_channels: Sequence[str] = ()) -> Optional[dict]:
    """The backbone ``init_cfg`` of one run (None = from scratch)."""
    if pretrained is None:
        return None
    init = dict(type=init_type, checkpoint=osp.abspath(pretrained),
                prefix=prefix)
    for flag, key, value in (('--exclude', 'exclude', exclude),
                             ('--adapt-in-channels', 'adapt_in_channels',
                              adapt_in_channels)):
        if value:
            if init_type != 'cspr_det.PretrainedBackbone':
                raise ValueError(f'{flag} needs --init-type '
                                 'cspr_det.PretrainedBackbone')
            init[key] = list(value)
    return init


def plot(rows: List[dict], metric: str, out_png: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4))
    for init in sorted({r['init'] for r in rows}):
        pts = sorted((r['fraction'], r['value']) for r in rows
                     if r['init'] == init and r['value'] is not None)
        if pts:
            ax.plot([p[0] * 100 for p in pts], [p[1] for p in pts], 'o-',
                    label=init)
    ax.set_xlabel('annotated training patients (%)')
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Train a detection config on 10-100%% of the annotated '
        'training patients, pre-trained vs scratch')
    parser.add_argument('config', help='detection config')
    parser.add_argument('--pretrained',
                        help='pre-training checkpoint for the backbone '
                        '(omit to run from scratch only)')
    parser.add_argument('--fractions', type=float, nargs='+',
                        default=[0.1, 0.2, 0.4, 0.6, 1.0])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the patient order')
    parser.add_argument('--metric', default='deeplesion/mean_sens')
    parser.add_argument('--patient-key', default=None,
                        help='image field holding the patient id')
    parser.add_argument('--init-type', default='cspr_det.PretrainedBackbone',
                        help='init_cfg type used with --pretrained '
                        '(or Pretrained)')
    parser.add_argument('--prefix', default='backbone.',
                        help='key prefix of the backbone in --pretrained')
    parser.add_argument('--exclude', nargs='+', default=[],
                        help='regexes of backbone tensors not loaded from '
                        '--pretrained (e.g. collapse: slice-count dependent '
                        'GTM weights)')
    parser.add_argument('--adapt-in-channels', nargs='+', default=[],
                        help='regexes of conv weights (the stem) tiled over '
                        'a different number of input channels, e.g. a '
                        '1-channel pre-trained stem for 2 HU windows')
    parser.add_argument('--no-scratch', action='store_true',
                        help='skip the from-scratch runs')
    parser.add_argument('--dry-run', action='store_true',
                        help='write subsets and configs, do not train')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides applied to every run')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    sys.path.insert(0, REPO)
    from mmengine.config import Config

    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config not found: {args.config}', file=sys.stderr)
        return 1
    if args.pretrained and not osp.isfile(args.pretrained):
        print(f'error: checkpoint not found: {args.pretrained}',
              file=sys.stderr)
        return 1
    for f in args.fractions:
        if not 0 < f <= 1:
            print(f'error: fractions must be in (0, 1], got {f}',
                  file=sys.stderr)
            return 2
    inits = []
    if args.pretrained:
        inits.append('pretrained')
    if not args.no_scratch:
        inits.append('scratch')
    if not inits:
        print('error: nothing to run (--no-scratch without --pretrained)',
              file=sys.stderr)
        return 2

    base = Config.fromfile(args.config)
    if args.cfg_options:
        base.merge_from_dict(args.cfg_options)
    ds = find_train_dataset(base)
    ann_src = resolve_path(ds['ann_file'], ds.get('data_root'))
    os.makedirs(args.work_dir, exist_ok=True)
    rows = []
    for fraction in sorted(args.fractions):
        frac_dir = osp.join(args.work_dir, f'frac_{fraction:g}')
        ext = '.csv' if ann_src.lower().endswith('.csv') else '.json'
        subset = osp.abspath(osp.join(frac_dir, 'train_subset' + ext))
        info = subsample_file(ann_src, subset, fraction, args.seed,
                              args.patient_key)
        print(f'fraction {fraction:g}: {info["patients"]}/'
              f'{info["patients_total"]} patients, {info["images"]} images')
        for init in inits:
            cfg = copy.deepcopy(base)
            find_train_dataset(cfg)['ann_file'] = subset
            cfg.model.backbone.init_cfg = backbone_init(
                args.pretrained if init == 'pretrained' else None,
                args.init_type, args.prefix, args.exclude,
                args.adapt_in_channels)
            run_dir = osp.abspath(osp.join(frac_dir, init))
            cfg.work_dir = run_dir
            os.makedirs(run_dir, exist_ok=True)
            cfg_path = osp.join(run_dir, 'config.py')
            cfg.dump(cfg_path)
            value = None
            if not args.dry_run:
                cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
                       cfg_path, '--work-dir', run_dir]
                print('running:', ' '.join(cmd), flush=True)
                ret = subprocess.call(cmd, cwd=os.getcwd())
                if ret != 0:
                    print(f'warning: run {run_dir} exited with {ret}',
                          file=sys.stderr)
                value = read_last_metric(run_dir, args.metric)
            rows.append(dict(fraction=fraction, init=init, value=value,
                             work_dir=run_dir, **info))
    csv_path = osp.join(args.work_dir, 'data_efficiency.csv')
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(
            f, fieldnames=['fraction', 'init', 'value', 'patients',
                           'patients_total', 'images', 'annotations',
                           'work_dir'])
        writer.writeheader()
        writer.writerows(rows)
    print(f'wrote {csv_path}')
    if not args.dry_run:
        png = osp.join(args.work_dir, 'data_efficiency.png')
        plot(rows, args.metric, png)
        print(f'wrote {png}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
