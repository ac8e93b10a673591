"""AgentConfig: everything one episode needs to know, built from casebank Settings plus overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.harness import Harness
from casebank.config import Settings, Strategy, checkpoint_file
from casebank.retrieval import RetrievalFilters

# The model `casebank llm serve` serves by default (casebank.llm.model_files.DEFAULT_MODEL_NAME).
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
# Episodes are limited by model calls and tokens. Wall-clock is only a safety net against a stuck
# server: a CPU LLM at ~6 tok/s takes minutes for a dozen calls, and the task's own `timeout_s` limits
# its commands and its checker, not the agent's thinking time.
DEFAULT_EPISODE_TIMEOUT_S = 1800.0


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---- the LLM ----
    llm_url: str = "http://127.0.0.1:8001/v1"
    model: str = DEFAULT_MODEL
    api_key: str = "EMPTY"  # vLLM accepts anything unless started with --api-key
    temperature: float = Field(0.0, ge=0)
    max_tokens: int | None = Field(1024, gt=0, description="Completion tokens per model call.")
    seed: int | None = Field(None, description="Sampling seed sent with each request (ablation repeats).")
    max_model_len: int = Field(8192, ge=512, description="The served context length (vLLM's max_model_len).")
    request_timeout_s: float = Field(300.0, gt=0, description="HTTP timeout of one model call.")
    connect_timeout_s: float = Field(5.0, gt=0, description="TCP connect timeout of one model call.")
    max_retries: int = Field(2, ge=0, le=10, description="Client retries of a failed model call (0: fail at once).")

    # ---- retrieval ----
    # dense k=4: the ladder's best in-context config on its dev split (benchmarks/results/ladder, pick_best.py)
    strategy: Strategy = "dense"
    k: int = Field(4, ge=0, le=50)
    filters: RetrievalFilters = Field(default_factory=RetrievalFilters)
    # 2500 (10,000 chars) leaves room in an 8k context for the tool schemas, the primer, the workspace
    # overview, a dozen steps and a 1k completion; at 4000 the context budget had to crush observations.
    case_token_budget: int = Field(2500, ge=0, description="Approx. tokens (chars/4) for the rendered cases.")

    # ---- limits ----
    max_steps: int = Field(12, ge=1, description="Model calls per episode.")
    token_budget: int = Field(
        200_000, gt=0, description="Tokens per episode: the sum of prompt+completion usage over its model calls."
    )
    episode_timeout_s: float = Field(
        DEFAULT_EPISODE_TIMEOUT_S, gt=0, description="Wall-clock safety net per episode (tasks and chat alike)."
    )

    # ---- the harness for small models (agent/harness.py) ----
    harness: Harness = Field(default_factory=Harness)

    # ---- bank updates ----
    write_back: bool = True  # verified successes join the bank; failures and unverified turns go to quarantine
    record_usage: bool = True  # count retrievals of the cases shown, and whether the episode then succeeded

    data_dir: Path = Path(".casebank")
    workspace_root: Path | None = Field(None, description="Chat workspaces' folder (shared by API replicas); None: data_dir/workspaces.")

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> AgentConfig:
        """Defaults from casebank Settings (data dir, strategy, k); overrides that are None are ignored,
        so CLI options can be passed straight through."""
        settings = settings or Settings()
        values: dict[str, Any] = {"data_dir": settings.data_dir, "workspace_root": settings.workspace_root,
                                  "strategy": settings.default_strategy, "k": settings.default_k}
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def timeout_for(self, task_timeout_s: float | None = None) -> float:
        """The episode's wall-clock net. A task's `timeout_s` bounds its commands and checker, not this."""
        return self.episode_timeout_s

    @property
    def prompt_budget(self) -> int:
        """Tokens a prompt may take: the context length less the completion and a margin for the chat
        template and the tool schemas (about 700 tokens rendered by Qwen's template)."""
        return self.max_model_len - (self.max_tokens or 1024) - 900

    @property
    def retrieval_enabled(self) -> bool:
        return self.k > 0 and self.strategy != "none"

    @property
    def checkpoint_path(self) -> Path:
        return checkpoint_file(self.data_dir)

    @property
    def workspaces_dir(self) -> Path:
        return self.workspace_root or self.data_dir / "workspaces"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"
