# The two commands of this project: `make serve` and `make test`. Both create .venv when missing.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.casebank-installed

.PHONY: serve test system-deps seeds clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned in the same command on purpose: a CPU build of torch 2.13.0 lies in pip's
	# find-links on our machines; an unpinned torch (pulled in by sentence-transformers) would
	# download a multi-GB CUDA build instead.
	$(PY) -m pip install --quiet torch==2.13.0 -e '.[test]'
	touch $@

system-deps:
	@bash scripts/install-system-deps.sh

serve: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank seed --if-empty
	@echo "casebank: bank seeded. The chat API arrives with the serving layer; try:"
	@echo "  $(VENV)/bin/casebank search 'fix a failing test' -k 3"

test: $(STAMP) system-deps
	HF_HUB_OFFLINE=1 $(VENV)/bin/casebank seeds verify
	HF_HUB_OFFLINE=1 $(PY) -m pytest

seeds: $(STAMP)
	$(VENV)/bin/casebank seeds build

clean:
	rm -rf $(VENV) .casebank .pytest_cache
