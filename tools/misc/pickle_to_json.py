"""Convert a pickle of plain data (dicts, lists, numbers, numpy arrays) to
JSON without running any code it may contain.

    python tools/misc/pickle_to_json.py IN.pkl OUT.json [--indent N]

The pickle is read with :func:`cspr_det.utils.safe_pickle.safe_load`: a
file naming any other global (a class, a function) is refused with one line
naming it, and nothing is written. Arrays become nested lists.
"""
import argparse
import pickle

from cspr_det.cli.errors import CLIError, run_cli
from cspr_det.utils.safe_pickle import export_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Pickle of plain data -> JSON, without running code')
    parser.add_argument('src', help='input pickle')
    parser.add_argument('dst', help='output .json')
    parser.add_argument('--indent', type=int, default=None)
    parser.add_argument('--debug', action='store_true')
    return parser.parse_args(argv)


def main(args) -> int:
    try:
        export_json(args.src, args.dst, args.indent)
    except pickle.UnpicklingError as exc:
        raise CLIError(str(exc)) from None
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    cli_args = parse_args()
    run_cli(lambda: main(cli_args), debug=cli_args.debug)
