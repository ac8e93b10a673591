"""A scripted chat model for tests and demos: fixed replies, and a record of what it was sent."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

Reply = AIMessage | Callable[[Sequence[BaseMessage]], AIMessage]
_ids = itertools.count(1)


def tool_call(name: str, args: dict[str, Any] | None = None, *, thought: str = "", call_id: str | None = None) -> AIMessage:
    """A reply with one well-formed tool call."""
    cid = call_id or f"scripted_{next(_ids)}"
    return AIMessage(thought, tool_calls=[{"name": name, "args": args or {}, "id": cid, "type": "tool_call"}])


def malformed_call(name: str, raw_arguments: str, *, thought: str = "", call_id: str | None = None) -> AIMessage:
    """A reply whose tool-call arguments did not parse, as ChatOpenAI reports it (`invalid_tool_calls`)."""
    cid = call_id or f"scripted_{next(_ids)}"
    try:
        json.loads(raw_arguments)
        error = "arguments are not a JSON object"
    except json.JSONDecodeError as e:
        error = str(e)
    return AIMessage(thought, invalid_tool_calls=[{"name": name, "args": raw_arguments, "id": cid, "error": error, "type": "invalid_tool_call"}])


def text_reply(content: str) -> AIMessage:
    """A reply with no tool call."""
    return AIMessage(content)


class ScriptedChatModel:
    """Returns its replies in order (a callable reply is called with the prompt); raises once they run
    out. `calls` holds every prompt it was sent."""

    def __init__(self, replies: Sequence[Reply]):
        self._replies = list(replies)
        self.calls: list[list[BaseMessage]] = []
        self.kwargs: list[dict[str, Any]] = []  # the per-call overrides (tool_choice, temperature, seed)
        self._lock = threading.Lock()

    def invoke(self, messages: Sequence[BaseMessage], /, **kwargs: Any) -> AIMessage:
        with self._lock:
            if len(self.calls) >= len(self._replies):
                raise AssertionError(f"scripted model ran out of replies after {len(self._replies)} calls")
            reply = self._replies[len(self.calls)]
            self.calls.append(list(messages))
            self.kwargs.append(dict(kwargs))
        return reply(messages) if callable(reply) else reply.model_copy(deep=True)

    @property
    def remaining(self) -> int:
        return len(self._replies) - len(self.calls)
