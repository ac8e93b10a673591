"""FinetuneConfig: every setting of `casebank finetune`, from a preset, a YAML file and flags (in that order).

A preset is a YAML file under `casebank/finetune/presets/` (`cpu`, `gpu`); `--config FILE` is read on top
of it and flags on top of both. A bad file is refused as `file:line: field 'x': problem`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PRESETS_DIR = Path(__file__).parent / "presets"
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class ConfigError(ValueError):
    """A config file or flag is wrong; the message names the file, line and field."""


class FinetuneConfig(BaseModel):
    """Hyperparameters of one run. Everything here is recorded in the manifest beside the adapter."""

    model_config = ConfigDict(extra="forbid")

    preset: str | None = Field(None, description="The preset this config started from (informational).")
    method: Literal["lora", "full"] = Field("lora", description="lora: a PEFT adapter; full: every weight (GPU only).")
    rank: int = Field(8, ge=1, le=512, description="LoRA rank r.")
    alpha: int = Field(16, ge=1, description="LoRA alpha (the update is scaled by alpha / rank).")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_LINEAR), min_length=1)
    top_layers: int | None = Field(None, ge=1, description="LoRA only on the last N decoder layers; None: all. "
                                   "Backward stops at the lowest adapted layer, so fewer layers cost less time.")
    learning_rate: float = Field(2e-4, gt=0, lt=1)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    max_length: int = Field(2688, ge=64, description="Tokens per example; longer ones are truncated (see truncation).")
    truncation: Literal["keep_start", "keep_end"] = "keep_start"
    batch_size: int = Field(1, ge=1, description="Examples per micro-batch.")
    grad_accumulation: int = Field(4, ge=1, description="Micro-batches per optimizer step.")
    packing: bool = Field(False, description="Pack examples into max_length rows (TRL's bfd). Needs flash attention to "
                          "keep examples apart: GPU only.")
    gradient_checkpointing: bool = False
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="Training dtype. The CPU (AVX2, no BF16 units) "
                                                 "is fastest in float32; the adapter is saved as bf16 either way.")
    seed: int = 0
    limit: int | None = Field(None, ge=1, description="Train on the first N records only (a tiny slice for tests).")
    subset: int | None = Field(None, ge=1, description="Train on a fixed random subset of N cases (sorted by id, shuffled "
                               "with subset_seed): the cases an ablation's seed_subset N banks with the same seed.")
    subset_seed: int = 0
    save_steps: int = Field(5, ge=1, description="A checkpoint every N optimizer steps (an interrupted run resumes).")
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1, description="torch threads on CPU; None: every CPU this process may use.")

    @model_validator(mode="after")
    def _consistent(self) -> FinetuneConfig:
        if self.method == "full" and self.top_layers is not None:
            raise ValueError("top_layers applies to LoRA only")
        return self

    def train_overview(self) -> str:
        length = f"{self.max_steps} steps" if self.max_steps else f"{self.epochs:g} epochs"
        if self.method == "full":
            return f"full fine-tune, lr {self.learning_rate:g}, {length}"
        layers = f"last {self.top_layers} layers" if self.top_layers else "all layers"
        return (f"LoRA r={self.rank} alpha={self.alpha} on {', '.join(self.target_modules)} ({layers}), "
                f"lr {self.learning_rate:g}, {length}, max length {self.max_length}")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def _key_lines(text: str) -> dict[str, int]:
    """Line of each top-level key of a YAML mapping, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The mapping in `path` and the line of each key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: field '<file>': expected a mapping of settings, got {type(data).__name__}")
    return data, _key_lines(text)


def load_config(preset: str | None = "cpu", file: Path | None = None, overrides: dict[str, Any] | None = None) -> FinetuneConfig:
    """Preset, then file, then flags (`overrides`, None values ignored). Errors name where the bad value came from."""
    layers: list[tuple[str, dict[str, Any], dict[str, int]]] = []
    if preset is not None:
        path = PRESETS_DIR / f"{preset}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(preset_names())}")
        data, lines = read_yaml(path)
        layers.append((str(path), {**data, "preset": preset}, lines))
    if file is not None:
        data, lines = read_yaml(Path(file))
        layers.append((str(file), data, lines))
    if overrides:
        layers.append(("<flags>", {k: v for k, v in overrides.items() if v is not None}, {}))
    merged: dict[str, Any] = {}
    for _, data, _ in layers:
        merged.update(data)
    try:
        return FinetuneConfig.model_validate(merged)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<config>"
        top = str(first["loc"][0]) if first["loc"] else ""
        where = next(((src, lines) for src, data, lines in reversed(layers) if top in data), (layers[-1][0] if layers else "<config>", {}))
        src, lines = where
        line = f":{lines[top]}" if top in lines else ""
        raise ConfigError(f"{src}{line}: field '{field}': {first['msg'].removeprefix('Value error, ')}") from None


def dump_config(config: FinetuneConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
