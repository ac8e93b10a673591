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


def run_check(task: Task, workspace: Workspace, answer: str | None = None) -> CheckResult:
    """The checker sees the submitted answer as the global `ANSWER` ("" when nothing was submitted)."""
    if _DELIMITER in task.check:
        raise ValueError(f"task {task.id}: the checker may not contain {_DELIMITER}")
    script = f"ANSWER = {json.dumps(answer or '')}\n{task.check.rstrip()}"
    command = f"python - <<'{_DELIMITER}'\n{script}\n{_DELIMITER}\n"
    result = workspace.run(command, timeout_s=min(task.timeout_s, 300))
    return CheckResult(passed=result.exit_code == 0 and not result.timed_out, output=result.output)
