"""`Agent`: the entry point. Runs one task episode, or one chat turn, through the graph.

    agent = Agent(AgentConfig.from_settings(), bank=CaseBank(), model=make_chat_model(config))
    result = agent.run_task(task)           # fresh workspace with the task's files; checker decides
    result = agent.chat("conv-1", "hi")     # persistent workspace and checkpointed conversation

An Agent holds no per-episode state: episodes on different conversations may run in parallel threads
(the API's thread pool); turns of one conversation are serialised by a per-conversation lock.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel

from agent.checkpoint import sqlite_checkpointer
from agent.config import AgentConfig
from agent.env import Environment, SandboxEnvironment
from agent.graph import AgentDeps, CaseStore, build_graph, recursion_limit
from agent.model import ChatModel, make_chat_model
from agent.state import new_turn
from agent.trajectory import StepRecord, steps_of, to_openai
from casebank.bank import WriteBackResult
from casebank.models import Case, Message, Outcome
from casebank.sandbox.tools import Workspace
from casebank.tasks import Task

UpdateHandler = Callable[[str, dict[str, Any]], None]  # (node name, its state update), as each node finishes
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class EpisodeResult(BaseModel):
    conversation_id: str
    trajectory: Case  # what is (or would be) written back: system prompt, then the conversation
    outcome: Outcome
    retrieved: list[tuple[str, float]]  # (case id, score) of the cases shown to the model
    steps: list[StepRecord]  # this turn's tool calls with their observations
    answer: str | None  # the submit summary; None when the episode ended without a submit
    write_back: WriteBackResult | None  # None when write-back is off or there is no bank
    model_calls: int
    tokens: int
    prompt_tokens: int = 0  # as the server counted them (0 when it reports no usage)
    completion_tokens: int = 0
    elapsed_s: float
    workspace: str | None = None  # a chat's workspace folder (it persists); None for a task

    @property
    def status(self) -> Literal["succeeded", "failed", "unverified"]:
        if self.outcome.verified_success:
            return "succeeded"
        return "unverified" if self.outcome.success else "failed"


def new_conversation_id() -> str:
    return f"conv-{uuid.uuid4().hex[:16]}"


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        bank: CaseStore | None = None,
        model: ChatModel | None = None,
        *,
        checkpointer: BaseCheckpointSaver | None = None,
        make_env: Callable[[str], Environment] = SandboxEnvironment,
    ):
        self.config = config
        self.bank = bank
        self.model = model if model is not None else make_chat_model(config)
        self._owns_checkpointer = checkpointer is None
        self.checkpointer = checkpointer if checkpointer is not None else sqlite_checkpointer(config.checkpoint_path)
        self.graph = build_graph(AgentDeps(config, self.model, bank, make_env), self.checkpointer)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ---- episodes -------------------------------------------------------------------------------
    def run_task(self, task: Task, *, on_update: UpdateHandler | None = None) -> EpisodeResult:
        """One episode in a fresh workspace holding the task's files; the task's checker verifies a
        submit. The workspace and the episode's checkpoints are removed afterwards."""
        conversation_id = f"task-{task.id}-{uuid.uuid4().hex[:8]}"
        timeout_s = self.config.timeout_for()
        with Workspace.create(task.files) as workspace:
            inputs = new_turn(conversation_id, task.instruction, workspace=str(workspace.root), timeout_s=timeout_s, task=task)
            try:
                return self._run(conversation_id, inputs, on_update)
            finally:
                self.checkpointer.delete_thread(conversation_id)

    def chat(self, conversation_id: str | None, user_message: str, *, on_update: UpdateHandler | None = None) -> EpisodeResult:
        """One turn of a conversation (a new one when conversation_id is None). The conversation and its
        workspace (data_dir/workspaces/<id>) persist across turns and process restarts."""
        conversation_id = conversation_id or new_conversation_id()
        if not CONVERSATION_ID.match(conversation_id):
            raise ValueError(f"bad conversation id {conversation_id!r}: use letters, digits, '.', '_', '-' (max 128)")
        workspace = self.config.workspaces_dir / conversation_id
        workspace.mkdir(parents=True, exist_ok=True)
        inputs = new_turn(conversation_id, user_message, workspace=str(workspace), timeout_s=self.config.timeout_for())
        with self._lock(conversation_id):
            result = self._run(conversation_id, inputs, on_update)
        return result.model_copy(update={"workspace": str(workspace)})

    async def arun_task(self, task: Task, *, on_update: UpdateHandler | None = None) -> EpisodeResult:
        return await asyncio.to_thread(self.run_task, task, on_update=on_update)

    async def achat(self, conversation_id: str | None, user_message: str, *, on_update: UpdateHandler | None = None) -> EpisodeResult:
        return await asyncio.to_thread(self.chat, conversation_id, user_message, on_update=on_update)

    def history(self, conversation_id: str) -> list[Message]:
        """A conversation so far in OpenAI format (no system message); [] for an unknown id."""
        state = self.graph.get_state(self._thread(conversation_id)).values
        return to_openai(state.get("messages", []))

    def close(self) -> None:
        if self._owns_checkpointer:
            self.checkpointer.conn.close()  # type: ignore[attr-defined]

    # ---- internals ------------------------------------------------------------------------------
    def _thread(self, conversation_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": conversation_id}, "recursion_limit": recursion_limit(self.config)}

    def _lock(self, conversation_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(conversation_id, threading.Lock())

    def _run(self, conversation_id: str, inputs: dict[str, Any], on_update: UpdateHandler | None) -> EpisodeResult:
        thread = self._thread(conversation_id)
        before = len(self.graph.get_state(thread).values.get("messages", []))
        started = time.perf_counter()
        for update in self.graph.stream(inputs, thread, stream_mode="updates"):
            for node, change in update.items():
                if on_update is not None:
                    on_update(node, change or {})
        state = self.graph.get_state(thread).values
        return EpisodeResult(
            conversation_id=conversation_id,
            trajectory=state["trajectory"],
            outcome=state["outcome"],
            retrieved=state.get("retrieved", []),
            steps=steps_of(state["messages"][before:]),
            answer=state.get("submitted"),
            write_back=state.get("write_back"),
            model_calls=state.get("steps", 0),
            tokens=state.get("tokens", 0),
            prompt_tokens=state.get("prompt_tokens", 0),
            completion_tokens=state.get("completion_tokens", 0),
            elapsed_s=time.perf_counter() - started,
        )
