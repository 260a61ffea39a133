# Two entry points for a fresh machine: `make demo` and `make test`. Both create the venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(abspath ../shared/data)
DEMO_DIR ?= demo

.PHONY: demo test lint venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The harness self-check on the reference solutions of HumanEval+ (generate arrives with the
# model backends; then the demo evaluates the embedded model's own samples).
demo: venv
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m evolcoder.cli reference-samples --benchmark humaneval+ --output $(DEMO_DIR)/reference_samples.jsonl
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m evolcoder.cli eval --benchmark humaneval+ --samples $(DEMO_DIR)/reference_samples.jsonl --output-dir $(DEMO_DIR)/eval

test: venv
	$(PY) -m ruff check src tests benchmarks
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR)
