# The README's two commands. Each does its own idempotent set-up into .venv.
PY := .venv/bin/python
SETUP := tools/setup_env.sh

.PHONY: setup test demo clean-demo

setup:
	@bash $(SETUP)

test: setup
	$(PY) -m pytest -q tests

demo: setup
	@bash tools/misc/run_demo.sh

clean-demo:
	rm -rf data/synthetic_deeplesion work_dirs/demo
