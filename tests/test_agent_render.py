"""Rendering retrieved cases for the system message: deterministic, compact, under budget."""

from __future__ import annotations

import re

import pytest

from agent.render import OBSERVATION_LIMITS, abbreviate, render_case, render_cases
from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall, approx_tokens


def make_case(task: str, observation: str, *, family: str = "bugfix") -> Case:
    call = ToolCall(id="call_1", function=FunctionCall(name="run", arguments={"command": "python -m pytest -q"}))
    done = ToolCall(id="call_2", function=FunctionCall(name="submit", arguments={"summary": "Fixed it."}))
    return Case(
        task=task,
        family=family,
        messages=[
            Message(role="system", content="You are an agent."),
            Message(role="user", content=task),
            Message(role="assistant", content="Run the tests first.", tool_calls=[call]),
            Message(role="tool", tool_call_id="call_1", name="run", content=observation),
            Message(role="assistant", content="The fix works.", tool_calls=[done]),
            Message(role="tool", tool_call_id="call_2", name="submit", content="submitted"),
        ],
        outcome=Outcome(success=True, verified_by="seed"),
        source="seed",
    )


LONG_OUTPUT = "exit code: 1\n" + "\n".join(f"tests/test_mod.py::test_{i} FAILED - assert {i} == {i + 1}" for i in range(80))
CASES = [
    make_case("Fix the off-by-one error in paginate().", "exit code: 1\nFAILED test_pages.py::test_last - assert 2 == 3"),
    make_case("Make the failing parser tests pass.", LONG_OUTPUT, family="debug"),
    make_case("Add a --verbose flag to the CLI.", "exit code: 0\n3 passed", family="cli-feature"),
]


def test_render_is_deterministic_and_keeps_reasoning_and_actions() -> None:
    first = render_cases(CASES, 4000)
    again = render_cases([c.model_copy(deep=True) for c in CASES], 4000)
    assert first.text.encode() == again.text.encode()
    assert first.shown == [c.id for c in CASES] and first.dropped == []
    text = first.text
    assert "Thought: Run the tests first." in text
    assert 'Action: run {"command": "python -m pytest -q"}' in text
    assert 'Action: submit {"summary": "Fixed it."}' in text
    assert "You are an agent." not in text  # the cases' own system prompts are not repeated
    assert "submitted" not in text  # the submit observation says nothing
    # Cases appear in rank order, numbered.
    positions = [text.index(c.task) for c in CASES]
    assert positions == sorted(positions)
    assert "## Example 1 (bugfix)" in text and "## Example 3 (cli-feature)" in text


def test_long_outputs_are_abbreviated_with_a_marker_keeping_head_and_tail() -> None:
    text = render_case(CASES[1], 1)
    marker = re.search(r"\[\.\.\. (\d+) chars omitted \.\.\.\]", text)
    assert marker is not None
    assert "test_0 FAILED" in text  # head
    assert "test_79 FAILED" in text  # tail
    assert len(text) < len(LONG_OUTPUT)
    # Short outputs are untouched.
    assert "[..." not in render_case(CASES[0], 1)


def test_abbreviate_counts_what_it_omits() -> None:
    text = "x" * 1000
    short = abbreviate(text, 90)
    omitted = int(re.search(r"\[\.\.\. (\d+) chars omitted", short).group(1))
    assert omitted + len(short.replace(f"\n[... {omitted} chars omitted ...]\n", "")) == len(text)
    assert abbreviate("short", 90) == "short"


@pytest.mark.parametrize("budget", [120, 250, 400, 10_000])
def test_budget_is_respected_and_cases_drop_from_the_end(budget: int) -> None:
    rendered = render_cases(CASES, budget)
    assert approx_tokens(rendered.text) <= budget
    assert rendered.shown + rendered.dropped == [c.id for c in CASES]  # a prefix is kept
    if rendered.shown:
        assert rendered.text.startswith("# Solved examples")
    else:
        assert rendered.text == ""


def test_a_case_that_only_fits_with_tighter_outputs_is_kept_shortened() -> None:
    full = render_case(CASES[1], 1, OBSERVATION_LIMITS[0])
    tight = render_case(CASES[1], 1, OBSERVATION_LIMITS[1])
    assert len(tight) < len(full)
    budget = approx_tokens(render_cases([CASES[1]], 100_000).text) - 20
    rendered = render_cases([CASES[1]], budget)
    assert rendered.shown == [CASES[1].id]
    assert tight in rendered.text


def test_no_cases_no_text() -> None:
    assert render_cases([], 1000).text == ""
    assert render_cases(CASES, 0).text == ""
