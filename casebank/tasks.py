"""Tasks: an instruction, an initial workspace, and a hidden checker. One YAML file per task, or JSONL.

A task file may also carry `steps`: scripted tool calls that solve it. For a seed these are the
demonstration (replayed in the sandbox to record real observations); for an eval task they are the
reference solution, used only by tests to prove the task is solvable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from casebank.casefile import CaseFileError, field_of


class TaskFileError(CaseFileError):
    """A malformed task file: names file, line and field."""


class Step(BaseModel):
    """One scripted assistant turn: brief reasoning, then one tool call."""

    thought: str = ""
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    # A demo may show the model recovering from a tool error (e.g. an edit whose `old` text is not
    # unique); such a step says so, and any other tool error fails the replay.
    expect_error: bool = False


class Task(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    family: str
    instruction: str = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    check: str = Field(min_length=1, description="Python script; run in the workspace after the episode; exit 0 = success.")
    timeout_s: float = Field(120.0, gt=0, le=3600)
    split: str = "eval"
    tags: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list, description="Demonstration (seed) or reference solution (eval).")

    @field_validator("files")
    @classmethod
    def _relative_paths(cls, files: dict[str, str]) -> dict[str, str]:
        for path in files:
            p = Path(path)
            if p.is_absolute() or ".." in p.parts or not path.strip():
                raise ValueError(f"workspace file path must be relative and inside the workspace: {path!r}")
        return files

    def public(self) -> dict[str, Any]:
        """What an agent may see: never the checker or the solution."""
        return self.model_dump(include={"id", "family", "instruction", "files", "split", "tags"})


def _validated(data: Any, path: Path, line: int) -> Task:
    try:
        return Task.model_validate(data)
    except ValidationError as e:
        raise TaskFileError(path, line, *field_of(e)) from None


def _yaml_line_of(text: str, field: str) -> int:
    """Best-effort line of a top-level field in a YAML file, for error messages."""
    top = field.split(".")[0]
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{top}:"):
            return number
    return 1


def load_task_file(path: Path) -> list[Task]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        tasks = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskFileError(path, number, "<json>", f"invalid JSON: {e.msg}") from None
            tasks.append(_validated(data, path, number))
        return tasks
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise TaskFileError(path, (mark.line + 1) if mark else 1, "<yaml>", str(getattr(e, "problem", e))) from None
    try:
        return [Task.model_validate(data)]
    except ValidationError as e:
        field, problem = field_of(e)
        raise TaskFileError(path, _yaml_line_of(text, field), field, problem) from None


def load_tasks(source: Path | str, split: str | None = None) -> list[Task]:
    """Load every task under a directory (recursively: *.yaml, *.yml, *.jsonl) or from one file.
    Ids must be unique."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix in {".yaml", ".yml", ".jsonl"})
    elif source.is_file():
        files = [source]
    else:
        raise TaskFileError(source, 0, "<file>", "no such file or directory")
    tasks: list[Task] = []
    seen: dict[str, Path] = {}
    for path in files:
        for task in load_task_file(path):
            if task.id in seen:
                raise TaskFileError(path, 1, "id", f"duplicate task id {task.id!r} (also in {seen[task.id]})")
            seen[task.id] = path
            tasks.append(task)
    return [t for t in tasks if split is None or t.split == split]
