"""The model side of the loop: anything with `invoke(messages) -> AIMessage`.

The real one is ChatOpenAI against an OpenAI-compatible server (vLLM), bound to the sandbox tools with
`tool_choice="required"`: small models reliably emit tool calls only when decoding is constrained to
them, and answering the user is itself a tool call (`submit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from agent.config import AgentConfig
from casebank.sandbox.tools import TOOLS


@runtime_checkable
class ChatModel(Protocol):
    def invoke(self, messages: Sequence[BaseMessage], /, **kwargs: Any) -> AIMessage:
        """One assistant reply to the conversation (system message first). Tool calls go in
        `.tool_calls`; calls whose arguments did not parse go in `.invalid_tool_calls`;
        `.usage_metadata` (when the server reports it) feeds the token budget. Keyword arguments
        override request fields for this call (`tool_choice`, `temperature`, `seed`)."""
        ...


def tool_schemas() -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", exclude_none=True) for t in TOOLS]


def make_chat_model(config: AgentConfig, *, http_client: Any = None) -> ChatModel:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
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
