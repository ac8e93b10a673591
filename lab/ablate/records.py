"""What an ablation run writes: one `EpisodeRecord` per finished episode, appended to
RUN_DIR/episodes.jsonl, keyed by (config hash, task id, repeat); RUN_DIR/configs.json maps each
config hash to its config; RUN_DIR/run.json holds the grid-level facts (baseline config name, task
source, seed families for the in/out-of-distribution breakdown).

`status` keeps infrastructure apart from the agent: `success` and `failure` are task outcomes (the
checker decided, or a limit ended the episode); `error` is infrastructure (LLM unreachable, 5xx,
HTTP timeouts) after the bounded retries, and never counts as a task failure. Metrics drop `error`
records (and say how many). An exception the agent raises (a harness defect, not the server's) is a
`failure` with failure mode `agent_crash`: the system did not solve the task, and the grid goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EPISODES_FILE = "episodes.jsonl"
CONFIGS_FILE = "configs.json"
RUN_FILE = "run.json"

Status = Literal["success", "failure", "error"]
# Why a failed episode failed, checked in this order (the first that applies).
FailureMode = Literal[
    "error",  # infrastructure (status == "error")
    "context_overflow",  # the request outgrew the served context window
    "repeated_call",  # the same tool call (name + arguments) three times in a row
    "never_changed_file",  # no write_file/edit_file succeeded and the workspace is unchanged
    "submitted_check_failed",  # submit was called, the checker failed
    "step_limit",  # ran out of model calls (or tokens, or wall time) without a submit
    "other",  # e.g. no tool call after a nudge
    "agent_crash",  # not from the list above: the agent raised (a harness defect); detail holds the traceback's tail
]
FAILURE_MODES: tuple[str, ...] = FailureMode.__args__  # type: ignore[attr-defined]


class EpisodeRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # ---- key ----
    config_hash: str
    config_name: str
    task_id: str
    repeat: int = Field(ge=0)

    # ---- the task ----
    family: str
    level: int = Field(ge=1, le=3)
    split: str  # dev | test | eval | any suite's own
    ood: bool  # the family has no seed demonstration

    # ---- the result ----
    status: Status
    failure_mode: FailureMode | None = None  # None exactly when status == "success"
    submitted: bool = False
    detail: str = ""  # the checker's tail, or the limit / error message
    error: str | None = None  # infrastructure error text when status == "error"
    attempts: int = Field(1, ge=1)  # tries, counting infrastructure retries

    # ---- cost ----
    seed: int  # sampling seed of this repeat
    model_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    retrieval_ms: float = 0.0
    retrieved: list[str] = Field(default_factory=list)  # ids of the cases shown

    # ---- online write-back ----
    order: int | None = None  # position in the run's fixed shuffled task order (online runs)
    bank_size: int | None = None  # retrievable cases in the run's bank when the episode started

    finished_at: float = 0.0  # time.time()

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.config_hash, self.task_id, self.repeat)


def read_records(run_dir: Path) -> list[EpisodeRecord]:
    """Every record of a run, skipping a torn last line (a kill mid-append). Later records with the
    same key win (a rerun of an `error` episode replaces it)."""
    path = Path(run_dir) / EPISODES_FILE
    if not path.exists():
        return []
    by_key: dict[tuple[str, str, int], EpisodeRecord] = {}
    for line in _lines(path):
        try:
            record = EpisodeRecord.model_validate_json(line)
        except ValueError:
            continue
        by_key[record.key] = record
    return list(by_key.values())


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line


def append_record(run_dir: Path, record: EpisodeRecord) -> None:
    """One line, flushed and fsynced, so a kill loses at most the episode in flight."""
    import os

    path = Path(run_dir) / EPISODES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torn = path.exists() and path.stat().st_size > 0 and path.read_bytes()[-1:] != b"\n"
    with path.open("a", encoding="utf-8") as f:
        # A kill mid-append leaves a torn last line: end it, so the new record starts on its own line.
        f.write(("\n" if torn else "") + record.model_dump_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_configs(run_dir: Path) -> dict[str, dict]:
    """config hash -> {"name": str, "config": AblationConfig as JSON}."""
    path = Path(run_dir) / CONFIGS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def read_run(run_dir: Path) -> dict:
    """{"baseline": config name or null, "tasks": source, "seed_families": [...], "repeats": R, "command": str}."""
    path = Path(run_dir) / RUN_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
