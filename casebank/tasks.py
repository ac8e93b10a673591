"""Tasks: an instruction, an initial workspace, and a hidden checker. One YAML file per task, or JSONL.

A task file may also carry `steps`: scripted tool calls that solve it. For a seed these are the
demonstration (replayed in the sandbox to record real observations); for an eval task they are the
reference solution, used only by tests to prove the task is solvable.

Held-out tasks carry a `level` (1: one or two tool calls, 2: read, edit, run, 3: multi-step work) and a
`split`: `dev` to tune the harness on, `test` to report on. `split_problems` says whether a suite's
splits are stratified well enough that both cover every level and family.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from casebank.casefile import CaseFileError, field_of
from casebank.errors import TaskError


class TaskFileError(TaskError, CaseFileError):
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
    level: int = Field(3, ge=1, le=3, description="1: one or two tool calls; 2: read, one edit, run; 3: multi-step.")
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
        return self.model_dump(include={"id", "family", "instruction", "files", "split", "level", "tags"})


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
    Ids must be unique. `split` keeps only that split."""
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


HELD_OUT_SPLITS = ("dev", "test")


def split_problems(tasks: list[Task], splits: tuple[str, ...] = HELD_OUT_SPLITS) -> list[str]:
    """Why the held-out splits do not stratify this suite (empty: they do).

    Every task must be in one of `splits`; each split must cover every level and every family seen in the
    suite, and every (family, level) group of two or more tasks must appear in each split, so that a result
    on `test` speaks for the same mix of work as the tuning on `dev`.
    """
    problems = [f"{t.id}: split {t.split!r} is not one of {list(splits)}" for t in tasks if t.split not in splits]
    for what, key in (("level", lambda t: t.level), ("family", lambda t: t.family)):
        for value in sorted({key(t) for t in tasks}, key=str):
            for split in splits:
                if not any(key(t) == value and t.split == split for t in tasks):
                    problems.append(f"split {split!r} has no task of {what} {value!r}")
    groups = Counter((t.family, t.level) for t in tasks)
    for (family, level), size in sorted(groups.items()):
        in_group = Counter(t.split for t in tasks if (t.family, t.level) == (family, level))
        if size >= 2 and any(in_group[split] == 0 for split in splits):
            problems.append(f"{family} level {level}: {size} tasks, all in {sorted(in_group)}")
    return problems
