"""Run a trained lesion detector on a whole CT scan.

    python tools/infer_ct.py CONFIG CHECKPOINT INPUT --out-dir DIR [options]

INPUT is a NIfTI file (or any 3D image SimpleITK reads), a DICOM series
folder (``--series-uid`` when it holds several series), a DICOM file (its
series) or a DeepLesion PNG series folder (spacing from ``--spacing`` or the
dataset's ``DL_info.csv``). Every slice becomes the key slice of the model's
slice stack; 2D detections on neighbouring slices are linked into 3D lesion
candidates.

Writes to DIR: ``results.json``, ``detections_2d.csv``, ``candidates.csv``,
``overlays/candidate_<id>_slice<z>.png`` (best slice of each candidate in the
soft-tissue window, box, score and diameters), ``montage.png`` and, with
``--save-nifti``, ``candidates_labels.nii.gz`` (the candidates' 3D boxes in
the geometry of INPUT). Bad input stops with one line naming the file and
writes nothing.
"""
import argparse

from cspr_det.cli.errors import run_cli
from cspr_det.cli.infer import (add_common_args, add_detection_args,
                                check_common_args, check_detection_args,
                                load_model, read_input, run_detection)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Detect lesions on a whole CT (NIfTI, DICOM series or '
        'DeepLesion PNG folder)')
    add_common_args(parser, 'detector')
    add_detection_args(parser)
    return parser.parse_args(argv)


def main(args) -> int:
    check_common_args(args)
    check_detection_args(args)
    volume, read_s = read_input(args)
    model = load_model(args)
    summary, _ = run_detection(args, model, volume, read_s)
    print(summary)
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
