# The README's two commands (and `make lint`, `make docs`). Each does its own idempotent set-up into .venv.
PY := .venv/bin/python
LINT_IMPORTS := $(dir $(PY))lint-imports
# Tables print "±"; keep the tools UTF-8 under a C/POSIX locale.
export PYTHONUTF8 := 1
SETUP := tools/setup_env.sh

.PHONY: setup test lint format demo demo-seg demo-lidc docs clean-demo

setup:
	@bash $(SETUP)

# The layer contracts (.importlinter) first: an upward import or a cycle fails
# the suite before any test runs.
test: setup
	$(LINT_IMPORTS) --no-cache
	$(PY) -m pytest -q tests

# Style checks (settings in setup.cfg); `make format` applies isort + yapf.
LINT_PATHS := cspr_det tools tests configs setup.py

lint: setup
	$(PY) -m flake8 $(LINT_PATHS)
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --diff -r $(LINT_PATHS)

format: setup
	@PY=$(PY) bash tools/misc/format.sh $(LINT_PATHS)

# The documentation site into docs/_build/html; warnings (a broken link, a
# missing API page) fail the build.
docs: setup
	$(PY) -m pip install -q -r requirements/docs.txt
	rm -rf docs/_build docs/api
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

demo: setup
	@bash tools/misc/run_demo.sh

demo-seg: setup
	@bash tools/misc/run_demo_seg.sh

demo-lidc: setup
	@bash tools/misc/run_demo_lidc.sh

clean-demo:
	rm -rf data/synthetic_deeplesion work_dirs/demo data/synthetic_lits work_dirs/demo_seg \
		data/synthetic_lidc work_dirs/demo_lidc
