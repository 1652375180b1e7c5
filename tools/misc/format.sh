#!/usr/bin/env bash
# Apply the project's import order (isort) and code style (yapf), as set in
# setup.cfg, to the paths `make lint` checks. Rewrites files in place.
# Usage: tools/misc/format.sh [PATH ...]   (default: the linted paths)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
if [ "$#" -eq 0 ]; then
  set -- cspr_det tools tests configs setup.py
fi
"$PY" -m isort "$@"
"$PY" -m yapf -i -r "$@"
