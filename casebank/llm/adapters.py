"""The manifest beside a trained adapter, its sha256 check, and where casebank finds an adapter to serve.

`casebank-manifest.json` records what produced the adapter (base model and the sha256 of its weights
files, the data file's sha256, the hyperparameters, time, memory, loss, library versions) and the sha256
of every adapter file. `verify_adapter` re-hashes the files before vLLM is given the folder: a file that
changed since training (a bad copy, a hand edit, another run's leftovers) is refused with a clear error.

This module imports neither torch nor trl: the server and `casebank llm serve` use it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from casebank.errors import LLMError
from casebank.llm.model_files import sha256_file
from casebank.llm.recipe import FinetuneConfig

MANIFEST_FILE = "casebank-manifest.json"
ADAPTER_NAME = "casebank-ft"
"""The served model name of the adapter, and its folder name under DATA_DIR/adapters/ and casebank/adapters/."""
BUNDLED_ADAPTERS = Path(__file__).resolve().parent.parent / "adapters"
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""vLLM's --max-lora-rank accepts only these values (vllm.config.lora.MaxLoRARanks)."""


class AdapterError(LLMError, ValueError):
    """An adapter folder is missing, incomplete or altered; the message says which file and what to do."""


class LossPoint(BaseModel):
    step: int
    loss: float


class Manifest(BaseModel):
    """What produced an adapter (or a fully fine-tuned model) and the sha256 of each of its files."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    name: str = ADAPTER_NAME
    method: Literal["lora", "full"] = "lora"
    base_model: str = Field(description="Name of the base model (its folder name).")
    base_model_sha256: dict[str, str] = Field(description="sha256 of each weights file of the base model.")
    data_file: str
    data_format: Literal["casebank", "limi"] = "casebank"
    data_sha256: str
    examples: int = Field(ge=0, description="Training examples (records after --limit, less any left without a loss token).")
    loss_token_fraction: float = Field(ge=0, le=1, description="Share of the training tokens that carry loss.")
    config: FinetuneConfig
    trainable_parameters: int = Field(ge=0)
    total_parameters: int = Field(ge=0)
    steps: int = Field(ge=0, description="Optimizer steps in all (a resumed run counts the earlier ones).")
    resumed_from_step: int | None = Field(None, description="The checkpoint this run continued from; None: from step 0.")
    tokens_per_step: float = Field(ge=0)
    train_seconds: float = Field(ge=0, description="Wall-clock training time of the last run (since the resume).")
    seconds_per_step: float = Field(ge=0)
    cpu_seconds: float = Field(0, ge=0, description="CPU time of the training (all threads): on a shared machine, "
                               "cpu_seconds / threads estimates the wall-clock time it would take alone.")
    threads: int = Field(1, ge=1, description="torch threads used.")
    peak_rss_mb: float = Field(ge=0, description="Peak resident memory of the training process.")
    final_loss: float | None
    losses: list[LossPoint] = Field(default_factory=list)
    files: dict[str, str] = Field(description="sha256 of each file of the adapter folder the manifest vouches for.")
    versions: dict[str, str] = Field(default_factory=dict, description="torch, transformers, trl, peft, ...")
    machine: str = ""
    dtype_source: str = Field("", description="'cpu flags' when the machine chose config.dtype, 'given' when set.")
    cpu_flags: list[str] = Field(default_factory=list, description="The CPU's flags the dtype choice reads.")
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def lora_rank(self) -> int:
        return self.config.rank


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    path = Path(folder) / MANIFEST_FILE
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise AdapterError(f"{folder}: no {MANIFEST_FILE}: not an adapter made by `casebank finetune` (or an unfinished one)")
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<file>"
        raise AdapterError(f"{path}: field '{field}': {first['msg']}") from None


def hash_files(folder: Path, names: list[str]) -> dict[str, str]:
    return {name: sha256_file(Path(folder) / name) for name in names}


def verify_adapter(folder: Path) -> Manifest:
    """The manifest of `folder`, once every file it lists hashes to its recorded sha256."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for name, expected in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise AdapterError(f"{path}: missing; the manifest lists it (sha256 {expected[:12]}...). Copy the whole folder.")
        actual = sha256_file(path)
        if actual != expected:
            raise AdapterError(f"sha256 mismatch for {path}:\n  expected {expected}\n  got      {actual}\n"
                               "The adapter changed since it was trained (a bad copy or an edit): copy it again or retrain "
                               "with `casebank finetune`.")
    return manifest


def adapter_rank(folder: Path) -> int:
    """The largest LoRA rank in the folder's adapter_config.json (its `r` and any per-module `rank_pattern`)."""
    path = Path(folder) / "adapter_config.json"
    try:
        cfg: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AdapterError(f"{path}: cannot read a LoRA config: {e}") from None
    ranks = [int(cfg.get("r") or 0), *(int(v) for v in (cfg.get("rank_pattern") or {}).values())]
    if max(ranks) < 1:
        raise AdapterError(f"{path}: field 'r': no LoRA rank")
    return max(ranks)


def vllm_max_lora_rank(rank: int) -> int:
    """The smallest value vLLM's --max-lora-rank accepts that serves `rank`."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise AdapterError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")


def adapter_candidates(data_dir: Path, name: str = ADAPTER_NAME) -> list[Path]:
    """Where an adapter named `name` is looked for, first found wins: the data dir's own (a fresh
    `casebank finetune`), then the one bundled with the package."""
    return [Path(data_dir) / "adapters" / name, BUNDLED_ADAPTERS / name]


def find_adapter(data_dir: Path, name: str = ADAPTER_NAME) -> tuple[Path | None, str]:
    """The folder of the adapter to serve and a line that says where it came from, or None and why none."""
    candidates = adapter_candidates(data_dir, name)
    for folder in candidates:
        if (folder / MANIFEST_FILE).is_file():
            return folder, f"adapter {name} from {folder}"
    return None, (f"no fine-tuned adapter {name!r}: none in {' or '.join(str(c) for c in candidates)}; train one with "
                  f"`casebank finetune` (it writes {candidates[0]})")


def machine_line() -> str:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    return f"{os.uname().machine}, {cpus} CPUs"
