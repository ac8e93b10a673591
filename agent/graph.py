"""The agent loop as a LangGraph graph; `build_graph` wires it, top to bottom.

    START  -> retrieve -> orient -> act
    act    -> tools       the reply has tool calls
           -> nudge       the reply has none
           -> verify      a limit (steps, tokens, wall time) ended the episode: failed (chat: -> write_back)
    tools  -> verify      `submit` was called (and the copy guard and the gates let it through);
                          otherwise -> act
    nudge  -> act         the first time;       the second time -> verify (failed; chat: -> write_back)
    verify -> write_back -> END

Each node reads the typed state and returns a partial update. Everything a node needs from outside
(model, bank, environment, config) comes in `AgentDeps`; nothing is global, so one compiled graph can
serve many threads as long as each runs its own thread_id.

The levers for small models (workspace overview, primer, hints, case format, context budget, tolerant
parsing, loop breaking, forced submit, copy guard, submit and output gates) live in `agent.harness`; the nodes call
them, each a no-op when its switch in `AgentConfig.harness` is off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from openai import BadRequestError

from agent import harness as levers
from agent.config import AgentConfig
from agent.env import Environment, SandboxEnvironment
from agent.model import ChatModel
from agent.render import render_cases
from agent.state import AgentState
from agent.trajectory import build_case, calls_of
from casebank.bank import WriteBackResult
from casebank.config import Strategy
from casebank.models import Case, Outcome, approx_tokens
from casebank.prompts import load as load_prompt
from casebank.retrieval import RetrievalFilters, RetrievedCase
from casebank.sandbox.tools import TOOL_NAMES, ToolResult


class CaseStore(Protocol):
    """What the agent uses of `casebank.bank.CaseBank`."""

    def retrieve(self, query: str, k: int | None = None, strategy: Strategy | None = None, filters: RetrievalFilters | None = None) -> list[RetrievedCase]: ...
    def write_back(self, case: Case) -> WriteBackResult: ...
    def record_usage(self, case_ids: Sequence[str], *, succeeded: bool) -> None: ...


@dataclass(frozen=True)
class AgentDeps:
    config: AgentConfig
    model: ChatModel
    bank: CaseStore | None = None  # None: no retrieval, no write-back
    make_env: Callable[[str], Environment] = SandboxEnvironment  # workspace path -> environment


def system_prompt(cases_prompt: str = "", primer: str = "") -> str:
    """The system message: instructions, the primer's examples, then the retrieved cases (a stable
    prefix for the cache)."""
    return "\n\n".join(part for part in (load_prompt("system.md"), primer, cases_prompt) if part)


def failed(reason: str) -> Outcome:
    return Outcome(success=False, verified_by="none", detail=reason)


def last_user_text(messages: Sequence[BaseMessage]) -> str:
    return next((str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")


def _text(message: BaseMessage) -> str:
    calls = "".join(name + json.dumps(args) for _, name, args in calls_of(message)) if isinstance(message, AIMessage) else ""
    return str(message.content) + calls


def tokens_used(prompt: Sequence[BaseMessage], reply: AIMessage) -> int:
    """The server's count when it reports one, else about chars/4 of prompt and reply."""
    usage = reply.usage_metadata or {}
    if usage.get("total_tokens"):
        return int(usage["total_tokens"])
    return approx_tokens("".join(_text(m) for m in [*prompt, reply]))


def with_unique_call_ids(reply: AIMessage, history: Sequence[AnyMessage], step: int) -> AIMessage:
    """Every tool call needs an id its result can point to; some servers send none, or repeat them."""
    seen = {cid for m in history if isinstance(m, AIMessage) for cid, _, _ in calls_of(m)}
    fixed: dict[str, list[dict[str, Any]]] = {"tool_calls": [], "invalid_tool_calls": []}
    for field in fixed:
        for call in getattr(reply, field):
            cid = call["id"]
            if not cid or cid in seen:
                cid = f"call_{step}_{len(seen)}"
            seen.add(cid)
            fixed[field].append({**call, "id": cid})
    if fixed["tool_calls"] == reply.tool_calls and fixed["invalid_tool_calls"] == reply.invalid_tool_calls:
        return reply
    return reply.model_copy(update=fixed)


def previous_step(history: Sequence[AnyMessage]) -> dict[tuple[str, str], str]:
    """The assistant turn before the latest one: (tool, canonical args) -> the observation it got
    (as the model saw it, without any repeat note)."""
    replies = [i for i, m in enumerate(history) if isinstance(m, AIMessage)]
    if len(replies) < 2:
        return {}
    start = replies[-2]
    observations = {m.tool_call_id: str(m.content) for m in history[start + 1 : replies[-1]] if isinstance(m, ToolMessage)}
    note = "\n" + load_prompt("repeat.md")
    return {
        (name, json.dumps(args, sort_keys=True, default=str)): observations.get(cid, "").removesuffix(note)
        for cid, name, args in calls_of(history[start])  # type: ignore[arg-type]
    }


class Nodes:
    """The graph's nodes. Each takes the state and returns a partial update."""

    def __init__(self, deps: AgentDeps):
        self.deps = deps
        self.config = deps.config

    def retrieve(self, state: AgentState) -> dict[str, Any]:
        """Find solved cases for the user's message and render them: as text for the system message, or
        as earlier chat turns (`harness.case_format`)."""
        harness = self.config.harness
        if self.deps.bank is None or not self.config.retrieval_enabled:
            answers = levers.example_answers(harness) if harness.copy_guard else []
            return {"retrieved": [], "cases_prompt": "", "case_messages": [], "example_answers": answers}
        found = self.deps.bank.retrieve(last_user_text(state["messages"]), self.config.k, self.config.strategy, self.config.filters)
        rendered = render_cases([r.case for r in found], self.config.case_token_budget)
        score = {r.case.id: r.score for r in found}
        # Only the cases that fit the budget count as retrieved: those are what the model saw.
        retrieved = [(cid, score[cid]) for cid in rendered.shown]
        shown = [r.case for r in found if r.case.id in set(rendered.shown)]
        answers = levers.example_answers(harness, shown) if harness.copy_guard else []
        if harness.case_format == "turns":
            return {"retrieved": retrieved, "cases_prompt": "", "case_messages": levers.case_turns(shown), "example_answers": answers}
        return {"retrieved": retrieved, "cases_prompt": rendered.text, "case_messages": [], "example_answers": answers}

    def orient(self, state: AgentState) -> dict[str, Any]:
        """Look at the workspace once for the model: its files and small files' content go with this
        turn's user message (`harness.workspace_context`), so a small model need not explore; and note
        the files the request names that do not exist yet (`harness.output_gate`)."""
        harness = self.config.harness
        update: dict[str, Any] = {"overview": "", "turn_start": len(state["messages"]) - 1, "outputs": []}
        if not (harness.workspace_context or harness.output_gate):
            return update
        env = self.deps.make_env(state["workspace"])
        if harness.workspace_context:
            update["overview"] = levers.workspace_overview(env, harness.context_files_tokens)
        if harness.output_gate:  # the files this turn's request names that do not exist yet
            update["outputs"] = levers.named_outputs(last_user_text(state["messages"]), env)
        return update

    def act(self, state: AgentState) -> dict[str, Any]:
        """One model call, unless a limit ends the episode first."""
        if reason := self.limit_reached(state):
            return {"outcome": failed(reason)}
        steps = state.get("steps", 0) + 1
        cfg, history = self.config, state["messages"]
        budget, overflow = cfg.prompt_budget, ""
        for _ in range(3):
            prompt = levers.build_prompt(
                system_prompt(state.get("cases_prompt", ""), levers.system_primer(cfg.harness)),
                history,
                harness=cfg.harness,
                examples=state.get("case_messages") or [],
                overview=state.get("overview", ""),
                turn_start=state.get("turn_start", 0),
                budget_tokens=budget,
            )
            try:
                reply, _ = levers.decode(
                    self.deps.model, prompt, harness=cfg.harness, history=history,
                    last_step=steps >= cfg.max_steps, tool_names=TOOL_NAMES, seed=cfg.seed,
                    first_step=steps == 1, overview=state.get("overview", ""),
                )
                break
            except BadRequestError as e:  # e.g. the conversation outgrew the server's context window
                if not (cfg.harness.context_budget and levers.is_context_overflow(e)):
                    return {"steps": steps, "outcome": failed(f"model request rejected: {e}")}
                budget, overflow = budget // 2, str(e)  # the estimate was off: shrink harder and ask again
        else:
            return {"steps": steps, "outcome": failed(f"model request rejected: context overflow at {budget * 2} tokens: {overflow}")}
        reply = with_unique_call_ids(reply, history, steps)
        usage = reply.usage_metadata or {}
        return {
            "messages": [reply],
            "steps": steps,
            "tokens": state.get("tokens", 0) + tokens_used(prompt, reply),
            "prompt_tokens": state.get("prompt_tokens", 0) + int(usage.get("input_tokens", 0)),
            "completion_tokens": state.get("completion_tokens", 0) + int(usage.get("output_tokens", 0)),
        }

    def limit_reached(self, state: AgentState) -> str | None:
        cfg = self.config
        if state.get("steps", 0) >= cfg.max_steps:
            return f"step limit: {cfg.max_steps} model calls without a submit"
        if state.get("tokens", 0) >= cfg.token_budget:
            return f"token budget: {state.get('tokens', 0)} tokens used, budget {cfg.token_budget}"
        if "started_at" in state and "timeout_s" in state:
            elapsed = time.time() - state["started_at"]
            if elapsed >= state["timeout_s"]:
                return f"time limit: {elapsed:.0f}s elapsed, limit {state['timeout_s']:g}s"
        return None

    def tools(self, state: AgentState) -> dict[str, Any]:
        """Execute the reply's tool calls in order; calls after a submit are not run."""
        env = self.deps.make_env(state["workspace"])
        results: list[ToolMessage] = []
        submitted: str | None = None
        previous = previous_step(state["messages"])
        gated, guarded = state.get("gated", False), state.get("copy_guarded", False)
        output_gated = state.get("output_gated", False)
        harness = self.config.harness
        for cid, name, args in calls_of(state["messages"][-1]):
            note = ""
            if submitted is None:
                run_args, note = levers.drop_unknown_args(name, args) if harness.drop_unknown_args else (args, "")
                result = env.execute(name, run_args)
                # Once per turn: a summary copied from an example, or from a tool's error, is refused (a second one stands).
                if result.submitted and not guarded and levers.is_copied(result.summary or "", state.get("example_answers") or []):
                    guarded, result = True, ToolResult(levers.COPY_NOTE, ok=False)
                if result.submitted and not guarded and harness.error_guard and levers.copies_an_error(result.summary or "", state["messages"]):
                    guarded, result = True, ToolResult(levers.ERROR_COPY_NOTE, ok=False)
                if result.submitted and harness.submit_gate and not gated:
                    # Once per turn: a submit that leaves the workspace's tests failing sees the failure.
                    gated = True
                    if (failure := levers.gate_submit(env)) is not None:
                        result = ToolResult(failure, ok=False)
                if result.submitted and harness.output_gate and not output_gated:
                    # Once per turn: a submit before the files the request names exist is told which are missing.
                    if (missing := levers.gate_outputs(env, state.get("outputs") or [])) is not None:
                        output_gated, result = True, ToolResult(missing, ok=False)
                if result.submitted:
                    submitted = result.summary or ""
            else:
                result = ToolResult("error: not run: the task was already submitted", ok=False)
            content = f"{result.content}\n{note}" if note else result.content
            # Small models at temperature 0 loop on one call; say so in the observation, once per repeat.
            if previous.get((name, json.dumps(args, sort_keys=True, default=str))) == content:
                content = f"{content}\n{load_prompt('repeat.md')}"
            results.append(ToolMessage(content, tool_call_id=cid, name=name, status="success" if result.ok else "error"))
        return {"messages": results, "submitted": submitted, "gated": gated, "copy_guarded": guarded, "output_gated": output_gated}

    def nudge(self, state: AgentState) -> dict[str, Any]:
        """A reply without a tool call: remind the model once; the second time the episode fails."""
        if state.get("nudged"):
            return {"outcome": failed("no tool call in the reply, again after a nudge")}
        return {"messages": [HumanMessage(load_prompt("nudge.md"))], "nudged": True}

    def verify(self, state: AgentState) -> dict[str, Any]:
        """A task's hidden checker decides; a chat answer waits for the user's feedback."""
        task, ended = state.get("task"), state.get("outcome")
        if task is None:
            return {} if ended else {"outcome": Outcome(success=True, verified_by="none", detail="submitted; unverified, awaiting feedback")}
        check = self.deps.make_env(state["workspace"]).check(task, state.get("submitted"))
        if ended is not None:
            # A limit already failed the episode; the checker still runs so the quarantined
            # trajectory records how far the workspace got.
            verdict = "passed" if check.passed else "failed"
            return {"outcome": ended.model_copy(update={"detail": f"{ended.detail}; checker {verdict} on the final workspace"})}
        return {"outcome": Outcome(success=check.passed, verified_by="checker", detail=check.output[-500:])}

    def write_back(self, state: AgentState) -> dict[str, Any]:
        """The turn as a Case; verified successes join the bank, the rest go to quarantine."""
        task, outcome, messages = state.get("task"), state["outcome"], state["messages"]
        assert outcome is not None
        case = build_case(
            messages,
            system_prompt=system_prompt(),
            task_text=task.instruction if task else last_user_text(messages),
            outcome=outcome,
            model=self.config.model,
            family=task.family if task else "general",
            tags=task.tags if task else (),
            task_id=task.id if task else None,
        )
        bank, written = self.deps.bank, None
        if bank is not None:
            # Usage first: if the write-back then merges into a retrieved case, the counts carry over.
            if self.config.record_usage and state.get("retrieved"):
                bank.record_usage([cid for cid, _ in state["retrieved"]], succeeded=outcome.verified_success)
            if self.config.write_back:
                written = bank.write_back(case)
        return {"trajectory": case, "write_back": written}


# ---- routing ---------------------------------------------------------------------------------------
def ended_early(state: AgentState) -> str:
    """A failed episode still has its task checked (see `verify`); a chat goes straight to write-back."""
    return "verify" if state.get("task") is not None else "write_back"


def after_act(state: AgentState) -> str:
    if state.get("outcome") is not None:
        return ended_early(state)
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and calls_of(last) else "nudge"


def after_tools(state: AgentState) -> str:
    return "verify" if state.get("submitted") is not None else "act"


def after_nudge(state: AgentState) -> str:
    return ended_early(state) if state.get("outcome") is not None else "act"


def build_graph(deps: AgentDeps, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    nodes = Nodes(deps)
    graph = StateGraph(AgentState)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("orient", nodes.orient)
    graph.add_node("act", nodes.act)
    graph.add_node("tools", nodes.tools)
    graph.add_node("nudge", nodes.nudge)
    graph.add_node("verify", nodes.verify)
    graph.add_node("write_back", nodes.write_back)

    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "orient")
    graph.add_edge("orient", "act")
    graph.add_conditional_edges("act", after_act, ["tools", "nudge", "verify", "write_back"])
    graph.add_conditional_edges("tools", after_tools, ["verify", "act"])
    graph.add_conditional_edges("nudge", after_nudge, ["act", "verify", "write_back"])
    graph.add_edge("verify", "write_back")
    graph.add_edge("write_back", END)
    return graph.compile(checkpointer=checkpointer)


def recursion_limit(config: AgentConfig) -> int:
    """Supersteps one turn can take: retrieve, orient, two per step (act, tools), a nudge, the final act,
    verify and write-back, with room to spare."""
    return 2 * config.max_steps + 10
