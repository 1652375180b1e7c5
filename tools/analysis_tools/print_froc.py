"""Print the FROC table of a ``froc.json`` written by the DeepLesion metric.

Usage: python tools/analysis_tools/print_froc.py WORK_DIR/froc.json
"""
import argparse
import json
import os.path as osp
import sys

from cspr_det.evaluation.metrics.froc_report import format_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('report', help='froc.json')
    args = parser.parse_args(argv)
    if not osp.isfile(args.report):
        print(f'error: report not found: {args.report}', file=sys.stderr)
        return 2
    try:
        with open(args.report) as f:
            report = json.load(f)
        print(format_table(report))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        print(
            f'error: {args.report} is not a FROC report: {exc}',
            file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
