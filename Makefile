# Two entry points for a fresh machine: `make demo` and `make test`. Both create the venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(abspath ../shared/data)
DEMO_DIR ?= demo

.PHONY: demo demo-eval verify-compare test browser lint venv clean

# llama.cpp's default build targets the build machine's own CPU (GGML_NATIVE), AMX units included, and
# on CPUs that have them (Sapphire Rapids) its AMX kernels crash llama-cpp-python 0.3.36 on any batch
# of more than one token. A wheel built for plain AVX2 runs on every x86-64 machine we test on; it is
# built once (~9 min) into LLAMA_CPP_WHEELS and reused. pip's own wheel cache cannot serve here: it keys
# a built wheel by the source archive, not by CMAKE_ARGS, so it would hand back a native build.
LLAMA_CPP_VERSION ?= 0.3.36
LLAMA_CPP_WHEELS ?= $(HOME)/.cache/evolcoder/wheels/llama-cpp-avx2
LLAMA_CPP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q $${TORCH_SPEC:-torch==2.13.0}
	ls $(LLAMA_CPP_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(PY) -m pip wheel -q --no-cache-dir --no-deps \
		-w $(LLAMA_CPP_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PY) -m pip install -q $(LLAMA_CPP_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The main job on the embedded default: the paper's loop in miniature (the `demo` run preset). The
# embedded SmolLM2-135M-Instruct evolves 16 Code Alpaca seeds for one round, a LoRA is trained on the
# seed set and on the evolved set, the base and tuned models answer the first 80 HumanEval+ tasks in
# the sandbox; then a few evolutions are shown and report.html is written. Rerunning resumes.
RUN := EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m evolcoder.cli
demo: venv
	$(RUN) run --preset demo --output-dir $(DEMO_DIR)/run
	$(RUN) evolutions $(DEMO_DIR)/run --limit 3
	$(RUN) report $(DEMO_DIR)/run --output-dir $(DEMO_DIR)/report

# The quick path: the embedded model answers the first DEMO_LIMIT HumanEval+ tasks (greedy, its chat
# template), the sandbox judges them, the pass@1 table and the failure breakdown are printed.
DEMO_LIMIT ?= 20
demo-eval: venv
	$(RUN) generate --benchmark humaneval+ --backend llamacpp --model default --prompt-style chat --max-new-tokens 384 --limit $(DEMO_LIMIT) --output $(DEMO_DIR)/samples.jsonl
	$(RUN) eval --benchmark humaneval+ --samples $(DEMO_DIR)/samples.jsonl --output-dir $(DEMO_DIR)/eval

# The same run without and with execution-verified evolution (--verify tests): same seeds, same steps,
# one report of both (dev and test pass@1 side by side with intervals). cpu-mini takes about an hour
# per run on two cores; COMPARE_PRESET=demo about 12 minutes.
COMPARE_PRESET ?= cpu-mini
COMPARE_DIR ?= runs
verify-compare: venv
	$(RUN) run --preset $(COMPARE_PRESET) --name $(COMPARE_PRESET) --output-dir $(COMPARE_DIR)/$(COMPARE_PRESET)
	$(RUN) run --preset $(COMPARE_PRESET) --name $(COMPARE_PRESET)-verified --verify tests \
		--output-dir $(COMPARE_DIR)/$(COMPARE_PRESET)-verified
	$(RUN) report $(COMPARE_DIR)/$(COMPARE_PRESET) $(COMPARE_DIR)/$(COMPARE_PRESET)-verified \
		--output-dir $(COMPARE_DIR)/$(COMPARE_PRESET)-verify-report

# The report's browser tests drive Debian's Chromium (no browser download works offline).
browser:
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: venv browser
	$(PY) -m ruff check src tests benchmarks
	EVOLCODER_DATA_DIR=$${EVOLCODER_DATA_DIR:-$(DATA_DIR)} $(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR)
