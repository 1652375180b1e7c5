#!/usr/bin/env bash
# Idempotent set-up of the project's virtual environment (default: .venv).
#
# - keeps an already-installed torch (e.g. a CUDA build on a cluster) and only
#   installs the pinned CPU build where there is none;
# - builds mmcv from source (no wheel on PyPI for 2.1.0): CPU ops here, CUDA ops
#   when CUDA is visible (MMCV_WITH_OPS=1 FORCE_CUDA=1); pip caches the built
#   wheel, so a second set-up takes seconds;
# - writes a stamp so that a second run with unchanged requirements does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.cspr_det_setup_stamp"
want=$(cat requirements/*.txt setup.py tools/setup_env.sh | sha1sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "[setup] preparing $VENV (first run builds mmcv from source: about 11 min on 2 cores)"
if [ ! -x "$VENV/bin/python" ]; then
  if [ "${USE_SYSTEM_SITE_PACKAGES:-0}" = "1" ]; then
    "$PY" -m venv --system-site-packages "$VENV"
  else
    "$PY" -m venv "$VENV"
  fi
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade 'pip<25' wheel
if "$VPY" -c 'import torch' 2>/dev/null; then
  echo "[setup] keeping installed torch $("$VPY" -c 'import torch; print(torch.__version__)')"
else
  "$VPY" -m pip install -q -r requirements/torch.txt
fi
# mmengine in the same resolution as the runtime bounds: alone, it takes the
# newest opencv-python, which needs numpy>=2 (the runtime bounds say <2).
"$VPY" -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt \
  -r requirements/lint.txt 'mmengine>=0.10.4,<0.11'
# One setuptools range serves torch (>=77.0.3), mmengine (imports pkg_resources,
# gone from setuptools 82) and the mmcv build; it is pinned in
# requirements/runtime.txt so later installs into this environment keep it.
"$VPY" -m pip install -q -r requirements/setuptools.txt
if ! "$VPY" -c 'import mmcv, mmcv.ops' 2>/dev/null; then
  if "$VPY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    export MMCV_WITH_OPS=1 FORCE_CUDA=1
  else
    export MMCV_WITH_OPS=1
  fi
  MAX_JOBS=${MAX_JOBS:-$(nproc)} "$VPY" -m pip install -q --no-build-isolation 'mmcv==2.1.0'
fi
"$VPY" -m pip install -q -r requirements/mminstall.txt
"$VPY" -m pip install -q --no-build-isolation --no-deps -e .
"$VPY" -c 'import cspr_det, mmcv.ops, mmdet; print("[setup] ok: cspr_det", cspr_det.__version__, "mmcv", mmcv.__version__, "mmdet", mmdet.__version__)'
echo "$want" > "$STAMP"
