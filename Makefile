# The README's two commands. Each does its own idempotent set-up into .venv.
PY := .venv/bin/python
# Tables print "±"; keep the tools UTF-8 under a C/POSIX locale.
export PYTHONUTF8 := 1
SETUP := tools/setup_env.sh

.PHONY: setup test demo demo-seg demo-lidc clean-demo

setup:
	@bash $(SETUP)

test: setup
	$(PY) -m pytest -q tests

demo: setup
	@bash tools/misc/run_demo.sh

demo-seg: setup
	@bash tools/misc/run_demo_seg.sh

demo-lidc: setup
	@bash tools/misc/run_demo_lidc.sh

clean-demo:
	rm -rf data/synthetic_deeplesion work_dirs/demo data/synthetic_lits work_dirs/demo_seg \
		data/synthetic_lidc work_dirs/demo_lidc
