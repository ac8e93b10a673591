"""Test helpers for the API: run an app under uvicorn on a free loopback port, and a stateless tool-using
chat model that stands in for the LLM (behind the real agent, sandbox and bank)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.config import AgentConfig
from agent.graph import CaseStore
from agent.runner import Agent
from agent.testing import tool_call
from casebank.prompts import load as load_prompt

NUDGE = load_prompt("nudge.md")


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: Any, *, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Run `app` under uvicorn in a thread on a free loopback port; yields the base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


WORKSPACE_MARK = "\n\n[workspace /workspace]\n"  # agent.harness.with_context
HINTS = tuple("\n" + load_prompt(name) for name in ("hint_write.md", "hint_run.md"))  # agent.harness.NEXT_HINTS


def turn_messages(messages: Sequence[BaseMessage]) -> tuple[list[str], list[BaseMessage]]:
    """(the user's messages so far, oldest first, nudges and the harness's examples excluded, without the
    workspace overview; this turn's messages after the last one, without the harness's next-step hints)."""
    users = [
        i for i, m in enumerate(messages)
        if isinstance(m, HumanMessage) and m.content != NUDGE and not str(m.content).startswith("[Example")
    ]  # fmt: skip
    said = [str(messages[i].content).split(WORKSPACE_MARK)[0] for i in users]
    turn = list(messages[users[-1] + 1 :]) if users else []
    for j, m in enumerate(turn):
        if isinstance(m, ToolMessage):
            text = str(m.content)
            for hint in HINTS:
                text = text.removesuffix(hint)
            turn[j] = m.model_copy(update={"content": text})
    return said, turn


class EchoToolModel:
    """A deterministic stand-in for the LLM, safe to share between concurrent conversations (it keeps no
    state: each reply depends only on the prompt). Per turn: `write_file` the user's message to
    `turn-<n>.txt`, `list_files`, then `submit` an answer that quotes this turn and the earlier ones, so
    a test can see which history the agent was given."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def invoke(self, messages: Sequence[BaseMessage], /, **overrides: Any) -> AIMessage:
        """`overrides` (tool_choice, tools, temperature, seed: agent.model.ChatModel) change nothing here."""
        with self._lock:
            self.calls += 1
        said, this_turn = turn_messages(messages)
        done = [m for m in this_turn if isinstance(m, ToolMessage)]
        n = len(said)
        if not done:
            return tool_call("write_file", {"path": f"turn-{n}.txt", "content": said[-1]}, thought=f"Saving turn {n}.")
        if len(done) == 1:
            return tool_call("list_files", {"path": "."}, thought="Checking the workspace.")
        earlier = " | ".join(said[:-1]) or "nothing"
        files = str(done[-1].content).replace("\n", ", ")
        return tool_call("submit", {"summary": f"You said: {said[-1]}. Earlier: {earlier}. Files: {files}."})


def agent_factory_for(model: Any) -> Any:
    """An `agent_factory` for `create_app` that puts `model` behind every profile's agent."""

    def factory(config: AgentConfig, bank: CaseStore | None, checkpointer: Any) -> Agent:
        return Agent(config, bank, model, checkpointer=checkpointer)

    return factory
