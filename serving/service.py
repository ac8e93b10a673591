"""ChatService: runs chat turns on the agent in a thread pool, and records what feedback needs.

One Agent per distinct configuration (profile plus per-request limits and LLM endpoint), all sharing
one bank and one checkpointer (SQLite, or Postgres shared with other replicas), so any profile, and any
replica, can continue any conversation. Turns of one conversation are serialised here (across profiles,
and across replicas through a Postgres advisory lock); a turn that raises is rolled back to the
conversation's state before it, so a failed request (e.g. the LLM is down) leaves no half-recorded user
message. With several LLM endpoints each turn takes the least busy live one; one that refuses the
connection before the turn's first model reply is marked down and the turn runs again on another.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import StateSnapshot

from agent.checkpoint import close_checkpointer, make_checkpointer
from agent.config import AgentConfig
from agent.graph import CaseStore
from agent.runner import Agent, EpisodeResult
from casebank.bank import CaseBank, WriteBackResult
from casebank.config import Settings
from casebank.errors import TaskError, classify_llm_error
from casebank.llm.endpoints import EndpointPool
from casebank.models import Outcome
from serving.config import Profile, ServerSettings
from serving.conversations import (
    ConversationRecord,
    ConversationStore,
    FeedbackRecord,
    PostgresConversationStore,
)
from serving.errors import APIError
from serving.metrics import Metrics, TimedBank
from serving.routes_ops import llm_check

log = logging.getLogger("casebank.serving")

AgentFactory = Callable[[AgentConfig, CaseStore | None, BaseCheckpointSaver], Agent]
UpdateHandler = Callable[[str, dict[str, Any]], None]
AGENT_CACHE_SIZE = 64
CHECKPOINT_CONNECTIONS = 8  # Postgres: shared by the worker threads, each borrows one per checkpoint read or write


def default_agent_factory(config: AgentConfig, bank: CaseStore | None, checkpointer: BaseCheckpointSaver) -> Agent:
    """The real agent: ChatOpenAI against the configured backend."""
    return Agent(config, bank, checkpointer=checkpointer)


@dataclass(frozen=True)
class Turn:
    model: str  # the API model name (a profile)
    profile: Profile
    conversation_id: str
    text: str
    owner: str | None = None
    admin: bool = True
    max_steps: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None


class _Lock:
    """A lock object that can be weakly referenced (plain locks cannot)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


class ChatService:
    def __init__(self, settings: ServerSettings, bank_settings: Settings, bank: CaseBank, agent_factory: AgentFactory | None,
                 metrics: Metrics):
        self.settings, self.bank_settings, self.bank, self.metrics = settings, bank_settings, bank, metrics
        self.agent_factory = agent_factory or default_agent_factory
        self.endpoints = EndpointPool(settings.llm_urls)
        self.checkpointer = make_checkpointer(bank_settings, max_connections=CHECKPOINT_CONNECTIONS)
        self.conversations: ConversationStore | PostgresConversationStore
        if bank_settings.checkpoint_url:
            self.conversations = PostgresConversationStore(bank_settings.checkpoint_url, settings.workers + 4)
        else:
            self.conversations = ConversationStore(bank_settings.data_dir / "conversations")
        self.executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="casebank-turn")
        self.agent_bank = TimedBank(bank, metrics)
        self._agents: OrderedDict[str, Agent] = OrderedDict()
        self._agents_lock = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, _Lock] = weakref.WeakValueDictionary()
        self._locks_guard = threading.Lock()

    # ---- agents ---------------------------------------------------------------------------------------
    def config_for(self, turn: Turn, llm_url: str | None = None) -> AgentConfig:
        s = self.settings
        return AgentConfig.from_settings(
            self.bank_settings,
            llm_url=llm_url or s.llm_urls[0],
            model=s.served_model(turn.profile),
            api_key=s.llm_api_key,
            temperature=turn.temperature,
            max_tokens=min(turn.max_tokens or s.max_tokens, s.max_tokens),
            request_timeout_s=s.llm_request_timeout_s,
            connect_timeout_s=s.llm_connect_timeout_s,
            max_retries=s.llm_max_retries,
            strategy=turn.profile.strategy,
            k=turn.profile.k,
            max_steps=min(turn.max_steps or s.max_steps, s.max_steps),
            episode_timeout_s=s.episode_timeout_s,
        )

    def agent_for(self, config: AgentConfig) -> Agent:
        key = config.model_dump_json()
        with self._agents_lock:
            agent = self._agents.get(key)
            if agent is None:
                agent = self.agent_factory(config, self.agent_bank, self.checkpointer)
                self._agents[key] = agent
                while len(self._agents) > AGENT_CACHE_SIZE:
                    self._agents.popitem(last=False)  # agents share the checkpointer: nothing to close
            self._agents.move_to_end(key)
            return agent

    def lock(self, conversation_id: str) -> _Lock:
        with self._locks_guard:
            lock = self._locks.get(conversation_id)
            if lock is None:
                lock = self._locks[conversation_id] = _Lock()
            return lock

    # ---- turns (run in the pool) ------------------------------------------------------------------------
    def check_owner(self, record: ConversationRecord | None, owner: str | None, admin: bool) -> None:
        if record is not None and record.owner is not None and record.owner != owner and not admin:
            raise APIError(404, f"No conversation {record.conversation_id!r}.", param="conversation_id", code="conversation_not_found")

    def run_turn(self, turn: Turn, on_update: UpdateHandler | None = None, on_start: Callable[[], None] | None = None,
                 on_endpoint: Callable[[str], None] | None = None) -> EpisodeResult:
        """`on_start` is called once the turn holds its conversation and is about to run the agent;
        `on_endpoint(url)` each time it picks an LLM endpoint."""
        holder = self.lock(turn.conversation_id)
        with holder.lock, self.conversations.locked(turn.conversation_id):
            record = self.conversations.get(turn.conversation_id)
            self.check_owner(record, turn.owner, turn.admin)
            if on_start is not None:
                on_start()
            self.metrics.active_turns.inc()
            try:
                result = self._run_on_endpoints(turn, on_update, on_endpoint)
            except BaseException:
                self.metrics.episodes.labels(turn.model, "error").inc()
                raise
            finally:
                self.metrics.active_turns.dec()
            self.conversations.save(ConversationRecord(
                conversation_id=turn.conversation_id,
                owner=record.owner if record is not None else turn.owner,
                model=turn.model,
                turns=(record.turns if record is not None else 0) + 1,
                last=result,
            ))
        self.metrics.episodes.labels(turn.model, result.status).inc()
        return result

    def _run_on_endpoints(self, turn: Turn, on_update: UpdateHandler | None,
                          on_endpoint: Callable[[str], None] | None) -> EpisodeResult:
        """Run the turn on the least busy live endpoint. One that refuses the connection before the turn's
        first model reply (so no tool has run) is marked down, the turn is rolled back and run on the next;
        after a model reply a failure is the turn's error (its tools may have changed the workspace)."""
        tried: list[str] = []
        shown: set[str] = set()  # nodes whose updates the client already has (retrieve, orient) from a failed try
        before: StateSnapshot | None = None
        while True:
            with self.endpoints.lease(exclude=tried) as url:
                agent = self.agent_for(self.config_for(turn, url))
                if before is None:
                    before = agent.graph.get_state({"configurable": {"thread_id": turn.conversation_id}})
                if on_endpoint is not None:
                    on_endpoint(url)
                nodes: set[str] = set()

                def forward(node: str, update: dict[str, Any], nodes: set[str] = nodes, shown: set[str] = shown) -> None:
                    nodes.add(node)
                    if on_update is not None and node not in shown:
                        on_update(node, update)

                try:
                    result = agent.chat(turn.conversation_id, turn.text, on_update=forward)
                except BaseException as e:
                    self._rollback(agent, turn.conversation_id, before)
                    if classify_llm_error(e) != "unreachable":  # refused or dropped, not a slow reply
                        raise
                    self.endpoints.mark_down(url)
                    tried.append(url)
                    if "act" in nodes or len(tried) >= len(self.endpoints):
                        raise
                    log.warning("LLM endpoint %s refused the connection; turn of %s moves to another", url, turn.conversation_id)
                    shown |= nodes
                    continue
                if self.endpoints.is_down(url):  # it was tried while all were down, and answered
                    self.endpoints.mark_up(url)
                return result

    def _rollback(self, agent: Agent, conversation_id: str, before: StateSnapshot) -> None:
        """Make the conversation's latest checkpoint the one it had before the failed turn."""
        try:
            if not before.values:  # the conversation did not exist
                self.checkpointer.delete_thread(conversation_id)
            else:
                agent.graph.update_state(before.config, None, as_node="__copy__")
        except Exception:
            log.exception("could not roll back conversation %s after a failed turn", conversation_id)

    def start(self, turn: Turn) -> TurnStream:
        return TurnStream(self, turn)

    # ---- feedback ---------------------------------------------------------------------------------------
    def feedback(self, conversation_id: str, success: bool, note: str | None, trajectory_id: str | None,
                 owner: str | None, admin: bool) -> tuple[EpisodeResult, WriteBackResult]:
        """The user verifies the conversation's last turn: a success joins the bank (retrievable), a
        failure replaces its quarantined copy (and leaves the bank if an earlier feedback put it there)."""
        with self.lock(conversation_id).lock, self.conversations.locked(conversation_id):
            record = self.conversations.get(conversation_id)
            if record is None:
                raise APIError(404, f"No conversation {conversation_id!r} (or it has no completed turn).",
                               param="conversation_id", code="conversation_not_found")
            self.check_owner(record, owner, admin)
            last = record.last
            if trajectory_id is not None and trajectory_id != last.trajectory.id:
                raise APIError(409, f"Trajectory {trajectory_id!r} is not the last turn of {conversation_id!r} "
                               f"(that is {last.trajectory.id!r}).", param="trajectory_id", code="stale_trajectory")
            if success and last.answer is None:
                raise APIError(409, f"The last turn ended without an answer ({last.outcome.detail}); it cannot be "
                               "marked successful.", param="success", code="no_answer")
            detail = note or ("the user marked the answer good" if success else "the user marked the answer bad")
            case = last.trajectory.model_copy(update={"outcome": Outcome(success=success, verified_by="feedback", detail=detail)})
            if success:
                written = self.bank.write_back(case)
                with self.bank.locked():
                    self.bank.quarantine.delete(ids=[case.id])  # its unverified copy
            else:
                if self.bank.get(case.id) is not None:
                    self.bank.delete(case.id)
                written = self.bank.write_back(case)
            record = record.model_copy(update={
                "feedback": FeedbackRecord(success=success, note=note, trajectory_id=case.id, action=written.action),
                "updated_at": datetime.now(UTC),
            })
            self.conversations.save(record)
        self.metrics.feedback.labels("good" if success else "bad").inc()
        return last, written

    def warm_up(self) -> None:
        """Load the embedder and build each profile's agent (imports, model client, graph)."""
        try:
            self.bank.embedder.embed(["warm up"])
            for name, profile in self.settings.profiles.items():
                for url in self.endpoints.urls:
                    self.agent_for(self.config_for(Turn(model=name, profile=profile, conversation_id="warm-up", text=""), url))
        except Exception:
            log.warning("warm-up failed; the first chat will be slower", exc_info=True)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        for close in (lambda: close_checkpointer(self.checkpointer), self.conversations.close):
            try:
                close()
            except Exception:
                log.debug("already closed", exc_info=True)


class TurnAbandoned(TaskError):
    """Raised in the turn's thread when the API has already answered for it (no first reply in time)."""


class TurnStream:
    """A turn running in the pool whose node updates arrive, in order, on the event loop.

    `head()` waits for the turn's first model reply. Each `first_token_timeout_s` without it (counted from
    the moment the turn starts, after any wait for its conversation) the backend is probed (GET /models,
    as /readyz does): a backend that answers is alive and slow (a CPU model prefilling a long prompt), and
    the wait goes on; one that does not, like a server that accepts connections and never answers, gets
    504 then, not after the model call's own timeout (minutes). The turn is abandoned: its thread raises
    TurnAbandoned at its next node update, which comes before any write-back, so the conversation is
    rolled back and nothing reaches the bank even if the backend answers later."""

    _STARTED = ("__started__", {})

    def __init__(self, service: ChatService, turn: Turn):
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self._settings = service.settings
        self.url = service.settings.llm_urls[0]  # the endpoint the turn uses (set from its thread)
        self._gate = threading.Lock()  # makes "answered in time" and "abandoned" exclusive
        self._answered = self._abandoned = False

        def put(item: tuple[str, dict[str, Any]]) -> None:
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (server shutting down): the turn itself carries on
                pass

        def on_update(node: str, update: dict[str, Any]) -> None:
            with self._gate:
                if self._abandoned:
                    raise TurnAbandoned("the API answered 504 for this turn: no model reply in time")
                self._answered = self._answered or node == "act"
            put((node, update))

        def on_endpoint(url: str) -> None:
            self.url = url

        self.future = loop.run_in_executor(service.executor, functools.partial(
            service.run_turn, turn, on_update, lambda: put(self._STARTED), on_endpoint))
        # Done-callbacks run after every update scheduled before the turn finished: order is kept.
        self.future.add_done_callback(lambda _: self._queue.put_nowait(None))

    async def next(self) -> tuple[str, dict[str, Any]] | None:
        """The next (node, update); None once the turn is over. Raises the turn's error after its updates."""
        while True:
            item = await self._queue.get()
            if item is None:
                self.future.result()  # raises if the turn failed
            if item is not self._STARTED:
                return item

    async def head(self) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        """The updates up to and including the first model reply, and whether the turn is already over.
        Raises the turn's error, or APIError 504 when the first reply is late."""
        head: list[tuple[str, dict[str, Any]]] = []
        deadline: float | None = None
        getter: asyncio.Future[Any] | None = None
        try:
            while True:
                getter = getter or asyncio.ensure_future(self._queue.get())
                timeout = None if deadline is None else max(0.0, deadline - self._loop.time())
                done, _ = await asyncio.wait({getter}, timeout=timeout)
                if not done:
                    if not self._answered and (await llm_check(self._settings, self.url)).ok:
                        deadline = self._loop.time() + self._settings.first_token_timeout_s  # alive: slow, not stuck
                        continue
                    if self._abandon():
                        raise self._late()
                    deadline = None  # the reply came in just in time; it is on its way
                    continue
                item, getter = getter.result(), None
                if item is None:
                    self.future.result()
                    return head, True
                if item is self._STARTED:
                    deadline = self._loop.time() + self._settings.first_token_timeout_s
                    continue
                head.append(item)
                if item[0] == "act":
                    return head, False
        finally:
            if getter is not None:
                getter.cancel()

    def _abandon(self) -> bool:
        with self._gate:
            if self._answered:
                return False
            self._abandoned = True
        self.future.add_done_callback(lambda f: f.cancelled() or f.exception())  # its error is expected: not logged
        return True

    def _late(self) -> APIError:
        s = self._settings
        return APIError(504, f"The language model backend at {self.url} sent no reply within {s.first_token_timeout_s:g} s "
                        "and does not answer GET /models either; the turn was abandoned and the message was not recorded, "
                        "please retry later.", code="llm_timeout", headers={"Retry-After": "5"})

    async def result(self) -> EpisodeResult:
        return await self.future
