"""The environment side of the loop: execute a tool call, check a task. The sandbox is the real one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from casebank.sandbox.check import CheckResult, run_check
from casebank.sandbox.tools import ToolExecutor, ToolResult, Workspace
from casebank.tasks import Task


class Environment(Protocol):
    def execute(self, name: str, arguments: dict[str, Any] | str | None) -> ToolResult:
        """Run one tool call. Model mistakes (bad JSON, unknown tool, ...) come back as an
        `error: ...` observation, never as an exception."""
        ...

    def check(self, task: Task, answer: str | None = None) -> CheckResult:
        """Run the task's hidden checker against the workspace as the episode left it; the checker sees
        the submitted answer as `ANSWER`."""
        ...


class SandboxEnvironment:
    """The casebank sandbox over an existing workspace folder (the state holds only its path)."""

    def __init__(self, workspace_path: str | Path):
        self.workspace = Workspace(Path(workspace_path))
        self._executor = ToolExecutor(self.workspace)

    def execute(self, name: str, arguments: dict[str, Any] | str | None) -> ToolResult:
        return self._executor.call(name, arguments)

    def check(self, task: Task, answer: str | None = None) -> CheckResult:
        return run_check(task, self.workspace, answer)
