"""FinetuneConfig: the hyperparameters an adapter is trained with.

It lives beside the adapter manifest (casebank.llm.adapters), which records it: the server reads a
manifest without the lab, and the lab (lab.finetune) builds one from presets, files and flags.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ALL_LINEAR", "FinetuneConfig"]

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


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
    dtype: Literal["float32", "bfloat16"] | None = Field(None, description="Training dtype; None: the machine's (on CPU "
                                                        "bfloat16 where it has bf16 units, else float32: casebank.llm.cpu; "
                                                        "bfloat16 on GPU). The adapter is saved as bf16 either way.")
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
