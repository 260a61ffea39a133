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
	# The CPU wheel first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q $${TORCH_SPEC:-torch==2.13.0}
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The main job on the embedded default: SmolLM2-135M-Instruct (llama.cpp, greedy) answers the
# first DEMO_LIMIT HumanEval+ tasks, the sandbox judges them, the pass@1 table is printed.
# `make demo DEMO_LIMIT=164` runs every task.
DEMO_LIMIT ?= 20
demo: venv
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m evolcoder.cli generate --benchmark humaneval+ --backend llamacpp --model default --prompt-style chat --max-new-tokens 384 --limit $(DEMO_LIMIT) --output $(DEMO_DIR)/samples.jsonl
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m evolcoder.cli eval --benchmark humaneval+ --samples $(DEMO_DIR)/samples.jsonl --output-dir $(DEMO_DIR)/eval

test: venv
	$(PY) -m ruff check src tests benchmarks
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR)
