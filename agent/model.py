"""The model side of the loop: anything with `invoke(messages) -> AIMessage`.

The real one is ChatOpenAI against an OpenAI-compatible server (vLLM), bound to the sandbox tools with
`tool_choice="required"`: small models reliably emit tool calls only when decoding is constrained to
them, and answering the user is itself a tool call (`submit`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent.config import AgentConfig
from casebank.sandbox.tools import tool_schemas


@runtime_checkable
class ChatModel(Protocol):
    def invoke(self, messages: Sequence[BaseMessage], /, **kwargs: Any) -> AIMessage:
        """One assistant reply to the conversation (system message first). Tool calls go in
        `.tool_calls`; calls whose arguments did not parse go in `.invalid_tool_calls`;
        `.usage_metadata` (when the server reports it) feeds the token budget. Keyword arguments
        override request fields for this call (`tool_choice`, `temperature`, `seed`)."""
        ...


def make_chat_model(config: AgentConfig, *, http_client: Any = None) -> ChatModel:
    llm = _chat_openai()(
        base_url=config.llm_url,
        api_key=config.api_key,
        model=config.model,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        timeout=httpx.Timeout(config.request_timeout_s, connect=config.connect_timeout_s),
        max_retries=config.max_retries,
        http_client=http_client,
        seed=config.seed,
    )
    return llm.bind_tools(tool_schemas(), tool_choice=config.harness.tool_choice)  # type: ignore[return-value]


NOT_AN_OBJECT = "arguments are not a JSON object"


def split_non_object_calls(response: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The response less its tool calls whose arguments parse to JSON that is not an object and not empty
    (`["settings.py"]`, `"hello.py"`), and those calls. langchain turns such arguments into `args` as they
    are and then fails to build the message (args must be a dict), which ended the episode with a
    traceback; they belong with the calls that did not parse. Unparseable and empty arguments are left to
    langchain (an invalid call, and `{}`)."""
    bad: list[dict[str, Any]] = []
    for choice in response.get("choices") or []:
        message = choice.get("message") or {}
        keep = []
        for call in message.get("tool_calls") or []:
            try:
                args = json.loads((call.get("function") or {}).get("arguments") or "{}")
            except (json.JSONDecodeError, TypeError):
                args = {}
            (keep if isinstance(args, dict) or not args else bad).append(call)
        if len(keep) != len(message.get("tool_calls") or []):
            message["tool_calls"] = keep or None
    return response, bad


@functools.cache
def _chat_openai() -> type:
    from langchain_core.output_parsers.openai_tools import make_invalid_tool_call
    from langchain_openai import ChatOpenAI

    class ToolChatOpenAI(ChatOpenAI):
        """ChatOpenAI that reports a call with non-object JSON arguments as an invalid call (see
        `split_non_object_calls`), so the loop answers it with an error like any malformed call."""

        def _create_chat_result(self, response: Any, generation_info: dict[str, Any] | None = None) -> Any:
            data = response if isinstance(response, dict) else response.model_dump()
            data, bad = split_non_object_calls(data)
            if not bad:
                return super()._create_chat_result(response, generation_info)
            result = super()._create_chat_result(data, generation_info)
            message = result.generations[0].message
            message.invalid_tool_calls = [*message.invalid_tool_calls, *(make_invalid_tool_call(c, NOT_AN_OBJECT) for c in bad)]
            return result

    return ToolChatOpenAI
