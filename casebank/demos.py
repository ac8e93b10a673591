"""Turning a scripted demonstration (a Task with `steps`) into a verified Case by replaying it for real.

Every observation in a seed is what the sandbox actually returned when the step ran; the checker then
decides whether the demonstration counts. Nothing is typed in by hand but the model's side.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall
from casebank.prompts import load as load_prompt
from casebank.sandbox.check import CheckResult, run_check
from casebank.sandbox.tools import TOOLS, ToolExecutor, Workspace
from casebank.tasks import Task

# Seeds carry a fixed timestamp so that building twice gives byte-identical files.
SEED_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
_VOLATILE = [
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<t>s"),  # durations, e.g. pytest's "in 0.03s"
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x<addr>"),  # object addresses in reprs
    # Tracebacks through the standard library name the host's Python installation.
    *((re.compile(re.escape(prefix)), "<python>") for prefix in sorted({sys.base_prefix, sys.prefix}, key=len, reverse=True)),
]


# A demo's commands may fail (that is how recovery is shown) but never by a signal or a time-out:
# that is the machine's doing, not the demo's, and would teach nothing.
_KILLED = re.compile(r"^(exit code: (1[2-9]\d|2\d\d)\b|timed out)")


@dataclass(frozen=True)
class ReplayResult:
    case: Case
    check: CheckResult
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.check.passed and not self.problems


def normalise_observation(text: str) -> str:
    """Mask what legitimately varies between two replays (timings, addresses) for comparison."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def replay(task: Task, *, model: str = "scripted-demo") -> ReplayResult:
    """Run each step's tool call in a fresh sandbox, record real observations, then run the checker
    with the submit summary as the answer."""
    problems: list[str] = []
    if not task.steps or task.steps[-1].tool != "submit":
        problems.append("the last step must be a submit")
    messages = [Message(role="system", content=load_prompt("system.md")), Message(role="user", content=task.instruction)]
    answer = ""  # the submit summary: a question task's checker reads it as ANSWER
    with Workspace.create(task.files) as workspace:
        executor = ToolExecutor(workspace)
        for number, step in enumerate(task.steps, start=1):
            call = ToolCall(id=f"call_{number}", function=FunctionCall(name=step.tool, arguments=step.args))
            result = executor.call(step.tool, step.args)
            if _KILLED.match(result.content):
                problems.append(f"step {number} ({step.tool}) was killed or timed out: {result.content[:200]}")
            if result.content.startswith("error:") != step.expect_error:
                expected = "an error" if step.expect_error else "no error"
                problems.append(f"step {number} ({step.tool}): expected {expected}, got: {result.content[:300]}")
            messages.append(Message(role="assistant", content=step.thought.strip() or None, tool_calls=[call]))
            messages.append(Message(role="tool", tool_call_id=call.id, name=step.tool, content=result.content))
            if result.submitted:
                answer = result.summary or ""
                if number != len(task.steps):
                    problems.append(f"step {number} submits before the last step")
                    break
        check = run_check(task, workspace, answer)
    case = Case(
        task=task.instruction,
        family=task.family,
        tags=task.tags,
        messages=messages,
        tools=TOOLS,
        outcome=Outcome(success=check.passed, verified_by="checker", detail=check.output[-500:]),
        source="seed",
        model=model,
        task_id=task.id,
        created_at=SEED_CREATED_AT,
    )
    return ReplayResult(case=case, check=check, problems=problems)


def recoveries(case: Case) -> int:
    """The tool observations that report a failure (a non-zero exit code, a time-out, an `error:` reply) and that
    a later successful run (`exit code: 0`) gets past."""
    observations = [m.content or "" for m in case.messages if m.role == "tool"]
    failed = [i for i, o in enumerate(observations) if re.match(r"(exit code: [1-9]|timed out|error:)", o)]
    last_pass = max((i for i, o in enumerate(observations) if o.startswith("exit code: 0")), default=-1)
    return sum(1 for i in failed if i < last_pass)


def shows_recovery(case: Case) -> bool:
    """Did the environment report a failure (non-zero exit, error) that the trajectory then got past?"""
    return recoveries(case) > 0
