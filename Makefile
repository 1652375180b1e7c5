# The README's two commands (and `make docs`). Each does its own idempotent set-up into .venv.
PY := .venv/bin/python
# Tables print "±"; keep the tools UTF-8 under a C/POSIX locale.
export PYTHONUTF8 := 1
SETUP := tools/setup_env.sh

.PHONY: setup test demo demo-seg demo-lidc docs clean-demo

setup:
	@bash $(SETUP)

test: setup
	$(PY) -m pytest -q tests

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
