"""Run a trained model of any task on a whole CT scan.

    python tools/infer.py CONFIG CHECKPOINT INPUT --out-dir DIR [options]

INPUT is a NIfTI file (or any 3D image SimpleITK reads), a DICOM series
folder (``--series-uid`` when it holds several series), a DICOM file (its
series) or a DeepLesion PNG series folder (spacing from ``--spacing`` or the
dataset's ``DL_info.csv``). The task comes from the model of CONFIG:

- detection (DeepLesion detectors): the outputs of ``tools/infer_ct.py``
  (``results.json``, ``detections_2d.csv``, ``candidates.csv``,
  ``overlays/``, ``montage.png``, ``--save-nifti``); its options apply;
- segmentation (LiTS / BTCV segmentors): ``labels.nii.gz`` (the labels in
  the geometry of INPUT), ``volumes.csv`` (voxels and mL per label),
  ``overlay.png``, ``results.json`` and, with ``--save-probabilities``,
  ``probability_<class>.nii.gz``;
- classification (LIDC nodule classifiers): needs ``--centres FILE``, a CSV
  with columns ``id, x, y, z`` (nodule centres in world mm, LPS); writes
  ``probabilities.csv`` and ``results.json``.

Bad input stops with one line on stderr naming what is wrong, a non-zero
exit status and nothing written.
"""
import argparse
import os.path as osp

from cspr_det.apis.init_model import model_task
from cspr_det.apis.nodule_outputs import read_centres_csv
from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.cli.infer import (RUNNERS, add_classification_args,
                                add_common_args, add_detection_args,
                                add_segmentation_args, check_common_args,
                                check_detection_args, load_model, read_input)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run a detector, segmentor or nodule classifier on a '
        'whole CT (NIfTI, DICOM series or DeepLesion PNG folder)')
    add_common_args(parser)
    parser.add_argument(
        '--batch-size',
        type=int,
        default=4,
        help='slices (detection) or crops (classification) '
        'per forward pass')
    group = parser.add_argument_group('detection')
    add_detection_args(group, batch_size=False)
    group = parser.add_argument_group('segmentation')
    add_segmentation_args(group)
    group = parser.add_argument_group('classification')
    add_classification_args(group)
    return parser.parse_args(argv)


def main(args) -> int:
    check_common_args(args)
    check_detection_args(args)
    if args.centres is not None:
        if not osp.isfile(args.centres):
            raise CLIError(f'centres CSV not found: {args.centres}')
        read_centres_csv(args.centres)  # a bad row stops before the model
    model = load_model(args)
    task = model_task(model)
    if task == 'classification' and args.centres is None:
        raise CLIError('a classification model needs --centres FILE (CSV '
                       'with columns id, x, y, z in world mm)')
    if task != 'classification' and args.centres is not None:
        raise CLIError(f'--centres is for nodule classifiers; {args.config} '
                       f'is a {task} model')
    volume, read_s = read_input(args)
    summary, _ = RUNNERS[task](args, model, volume, read_s)
    print(summary)
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
