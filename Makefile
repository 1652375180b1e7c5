# The README's two commands. Each does its own idempotent set-up into .venv.
PY := .venv/bin/python
# Tables print "±"; keep the tools UTF-8 under a C/POSIX locale.
export PYTHONUTF8 := 1
SETUP := tools/setup_env.sh

.PHONY: setup test lint format demo demo-seg demo-lidc clean-demo

setup:
	@bash $(SETUP)

test: setup
	$(PY) -m pytest -q tests

# Style checks (settings in setup.cfg); `make format` applies isort + yapf.
LINT_PATHS := cspr_det tools tests configs setup.py

lint: setup
	$(PY) -m flake8 $(LINT_PATHS)
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --diff -r $(LINT_PATHS)

format: setup
	@PY=$(PY) bash tools/misc/format.sh $(LINT_PATHS)

demo: setup
	@bash tools/misc/run_demo.sh

demo-seg: setup
	@bash tools/misc/run_demo_seg.sh

demo-lidc: setup
	@bash tools/misc/run_demo_lidc.sh

clean-demo:
	rm -rf data/synthetic_deeplesion work_dirs/demo data/synthetic_lits work_dirs/demo_seg \
		data/synthetic_lidc work_dirs/demo_lidc
