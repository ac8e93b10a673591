"""Retrieved cases as compact solved examples for the system message.

Deterministic: the same cases in the same order give byte-identical text (no clocks, no ids, no set
order), so the system message is a stable prefix that vLLM's prefix cache reuses across the steps of an
episode. Reasoning and actions are kept verbatim; long tool outputs keep their head and tail around an
`[... N chars omitted ...]` marker. Under the token budget (approx. chars/4), a case that does not fit
is retried with shorter outputs; if it still does not fit, it and every later (lower-ranked) case are
dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from casebank.models import Case, approx_tokens
from casebank.prompts import load as load_prompt

# Observation lengths (chars) tried in turn for each case: normal, then tight.
OBSERVATION_LIMITS = (600, 160)


@dataclass(frozen=True)
class RenderedCases:
    text: str  # "" when no case fits (or none was given)
    shown: list[str]  # ids of the cases in `text`, in order
    dropped: list[str]  # ids left out for the budget

    @property
    def tokens(self) -> int:
        return approx_tokens(self.text)


@functools.cache
def _template(name: str) -> jinja2.Template:
    env = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, undefined=jinja2.StrictUndefined, autoescape=False
    )
    return env.from_string(load_prompt(name))


def abbreviate(text: str, limit: int) -> str:
    """`text` if it is at most `limit` chars, else about 2/3 of the limit from the head and 1/3 from the
    tail (cut at line ends where that loses little) around a marker naming how much was left out."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[len(text) - limit // 3 :]
    if (cut := head.rfind("\n")) >= len(head) // 2:
        head = head[:cut]
    if 0 <= (cut := tail.find("\n")) <= len(tail) // 2:
        tail = tail[cut + 1 :]
    head, tail = head.rstrip(), tail.lstrip()
    return f"{head}\n[... {len(text) - len(head) - len(tail)} chars omitted ...]\n{tail}"


def _steps(case: Case, observation_limit: int) -> tuple[str, list[dict[str, Any]]]:
    """The case's task text and its steps (user turns, or a thought with its actions and observations)."""
    task: str | None = None
    steps: list[dict[str, Any]] = []
    actions_by_id: dict[str, dict[str, Any]] = {}
    for m in case.messages:
        text = (m.content or "").strip()
        if m.role == "system":
            continue
        if m.role == "user":
            if task is None:
                task = text
            else:
                steps.append({"user": text})
        elif m.role == "assistant":
            actions = []
            for call in m.tool_calls or []:
                action = {"name": call.function.name, "args": call.function.arguments_json(), "observation": None}
                actions.append(action)
                actions_by_id[call.id] = action
            steps.append({"user": None, "thought": text, "actions": actions})
        elif m.role == "tool":
            action = actions_by_id.get(m.tool_call_id or "")
            if action is not None and action["name"] != "submit":  # "submitted" says nothing
                action["observation"] = abbreviate(text, observation_limit)
    return (task if task is not None else case.task.strip()), steps


def render_case(case: Case, number: int, observation_limit: int = OBSERVATION_LIMITS[0]) -> str:
    task, steps = _steps(case, observation_limit)
    return _template("case.md.j2").render(number=number, family=case.family, task=task, steps=steps).strip()


def render_cases(cases: Sequence[Case], budget_tokens: int) -> RenderedCases:
    def wrap(texts: list[str]) -> str:
        return _template("cases.md.j2").render(cases=texts).strip()

    shown: list[Case] = []
    texts: list[str] = []
    for case in cases:
        for limit in OBSERVATION_LIMITS:
            candidate = texts + [render_case(case, len(texts) + 1, limit)]
            if approx_tokens(wrap(candidate)) <= budget_tokens:
                texts, shown = candidate, shown + [case]
                break
        else:
            break
    dropped = [c.id for c in cases[len(shown) :]]
    return RenderedCases(text=wrap(texts) if texts else "", shown=[c.id for c in shown], dropped=dropped)
