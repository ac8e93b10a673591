"""A generated task is validated like a hand-written one: its reference solution (`steps`), replayed in
the sandbox, passes the checker, and the untouched workspace fails it with no answer."""

from __future__ import annotations

from dataclasses import dataclass

from casebank.demos import ReplayResult, replay
from casebank.sandbox.check import run_check
from casebank.sandbox.tools import Workspace
from casebank.tasks import Task

__all__ = ["Validation", "task_problems", "validate"]


@dataclass(frozen=True)
class Validation:
    """The reference's replay (its case holds the real observations) and what is wrong with the task."""

    replayed: ReplayResult
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(task: Task) -> Validation:
    """Replay `task`'s reference and run its checker on the untouched workspace; `problems` is [] when the
    reference passes and the untouched workspace fails."""
    solved = replay(task)
    problems = [f"{task.id}: {p}" for p in solved.problems]
    if not solved.check.passed:
        problems.append(f"{task.id}: the reference solution fails the checker: {solved.check.output[-600:]}")
    with Workspace.create(task.files) as untouched:
        if run_check(task, untouched, "").passed:
            problems.append(f"{task.id}: the untouched workspace passes the checker with no answer")
    return Validation(solved, problems)


def task_problems(task: Task) -> list[str]:
    """What is wrong with `task` ([] when nothing): a reference that fails, or a checker the untouched
    workspace already passes."""
    return validate(task).problems
