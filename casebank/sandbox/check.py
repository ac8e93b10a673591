"""Running a task's hidden checker against a finished workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass

from casebank.sandbox.tools import Workspace
from casebank.tasks import Task

# The checker goes in on stdin (a quoted heredoc), so it never exists as a file the agent could have
# read or edited, and it runs under the same isolation as the agent's own commands.
_DELIMITER = "__CASEBANK_CHECK_EOF__"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    output: str


def checker_command(script: str) -> str:
    """The shell command that runs a checker script: `python` from the sandbox's PATH, the script on stdin.
    The sandbox preflight (casebank.sandbox.preflight) runs its probe through this same function."""
    if _DELIMITER in script.splitlines():  # a line of its own would end the heredoc early
        raise ValueError(f"a checker may not contain a line {_DELIMITER}")
    return f"python - <<'{_DELIMITER}'\n{script.rstrip()}\n{_DELIMITER}\n"


def run_check(task: Task, workspace: Workspace, answer: str | None = None) -> CheckResult:
    """The checker sees the submitted answer as the global `ANSWER` ("" when nothing was submitted)."""
    if _DELIMITER in task.check:
        raise ValueError(f"task {task.id}: the checker may not contain {_DELIMITER}")
    command = checker_command(f"ANSWER = {json.dumps(answer or '')}\n{task.check.rstrip()}")
    result = workspace.run(command, timeout_s=min(task.timeout_s, 300))
    return CheckResult(passed=result.exit_code == 0 and not result.timed_out, output=result.output)
