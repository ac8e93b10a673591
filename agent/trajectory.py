"""From LangChain messages to casebank's OpenAI-format messages, steps and Cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall
from casebank.sandbox.tools import TOOLS


class StepRecord(BaseModel):
    """One executed tool call: what the model asked for and what it saw."""

    tool: str
    args: dict[str, Any] | str  # a str when the model's arguments were not a JSON object
    observation: str
    ok: bool = True
    call_id: str = ""


def calls_of(message: AIMessage) -> list[tuple[str, str, dict[str, Any] | str]]:
    """(id, name, args) of every tool call in a reply, parsed ones first, then malformed ones with their
    raw argument text (the order ChatOpenAI sends them back to the server in)."""
    calls: list[tuple[str, str, dict[str, Any] | str]] = [(c["id"] or "", c["name"], c["args"]) for c in message.tool_calls]
    calls += [(c["id"] or "", c["name"] or "", c["args"] or "") for c in message.invalid_tool_calls]
    return calls


def to_openai(messages: Sequence[BaseMessage]) -> list[Message]:
    """OpenAI chat format: assistant tool calls carry ids, tool results carry tool_call_id."""
    out: list[Message] = []
    for m in messages:
        text = m.content if isinstance(m.content, str) else json.dumps(m.content, ensure_ascii=False)
        if isinstance(m, SystemMessage):
            out.append(Message(role="system", content=text))
        elif isinstance(m, AIMessage):
            calls = [ToolCall(id=cid, function=FunctionCall(name=name, arguments=args)) for cid, name, args in calls_of(m)]
            out.append(Message(role="assistant", content=text or None, tool_calls=calls or None))
        elif isinstance(m, ToolMessage):
            out.append(Message(role="tool", content=text, tool_call_id=m.tool_call_id, name=m.name))
        else:  # human
            out.append(Message(role="user", content=text))
    return out


def steps_of(messages: Sequence[BaseMessage]) -> list[StepRecord]:
    """Pair each tool call with its result, in order."""
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    steps = []
    for m in messages:
        if not isinstance(m, AIMessage):
            continue
        for cid, name, args in calls_of(m):
            result = results.get(cid)
            steps.append(
                StepRecord(
                    tool=name,
                    args=args,
                    observation=str(result.content) if result else "",
                    ok=result is not None and result.status != "error",
                    call_id=cid,
                )
            )
    return steps


def build_case(
    messages: Sequence[BaseMessage],
    *,
    system_prompt: str,
    task_text: str,
    outcome: Outcome,
    model: str,
    family: str = "general",
    tags: Sequence[str] = (),
    task_id: str | None = None,
) -> Case:
    """A written-back trajectory: the plain system prompt (never the retrieved cases it was shown, so
    cases do not nest), then the conversation."""
    return Case(
        task=task_text,
        family=family,
        tags=list(tags),
        messages=[Message(role="system", content=system_prompt), *to_openai(messages)],
        tools=TOOLS,
        outcome=outcome,
        source="writeback",
        model=model,
        task_id=task_id,
    )
