"""The agent's control flow, end to end: real Chroma bank and embedder, real sandbox and checker, a
scripted chat model (these tests are about the loop, not the model)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.checkpoint import sqlite_checkpointer
from agent.config import AgentConfig
from agent.graph import AgentDeps, build_graph
from agent.harness import Harness
from agent.runner import Agent, EpisodeResult
from agent.state import new_turn
from agent.testing import ScriptedChatModel, malformed_call, text_reply, tool_call
from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.models import Case, Outcome
from casebank.prompts import load as load_prompt
from casebank.tasks import Task

CHECK = "import sys\nsys.path.insert(0, '.')\nfrom calc import add\nassert add(2, 3) == 5, add(2, 3)\nassert add(-1, 1) == 0\n"


def add_task(task_id: str = "calc-add", instruction: str = "Fix add() in calc.py: it must return the sum of its two arguments.") -> Task:
    return Task(id=task_id, family="bugfix", tags=["python"], instruction=instruction,
                files={"calc.py": "def add(a, b):\n    return a - b\n"}, check=CHECK)


def solve_add() -> list[AIMessage]:
    return [
        tool_call("run", {"command": "python -c 'from calc import add; print(add(2, 3))'"}, thought="Reproduce first."),
        tool_call("edit_file", {"path": "calc.py", "old": "return a - b", "new": "return a + b"}, thought="It subtracts; add instead."),
        tool_call("submit", {"summary": "add() now returns a + b."}, thought="Fixed."),
    ]


@pytest.fixture(scope="module")
def shared_bank(tmp_path_factory: pytest.TempPathFactory) -> CaseBank:
    """One bank (and one embedder load) for the module; tests use distinct task texts."""
    return CaseBank(Settings(data_dir=tmp_path_factory.mktemp("bank")))


# The loop itself, without the small-model levers (tests/test_harness.py covers each of those).
BARE = Harness(workspace_context=False, hide_explore=False, primer=False, next_hint=False, loop_break=False,
               force_submit=False, submit_gate=False, tolerant_parser=False, copy_guard=False)  # fmt: skip


def make_agent(tmp_path: Path, bank: CaseBank | None, replies: Sequence, **overrides) -> tuple[Agent, ScriptedChatModel]:
    config = AgentConfig(**{"data_dir": tmp_path / "data", "strategy": "dense", "k": 3, "harness": BARE, **overrides})
    model = ScriptedChatModel(replies)
    return Agent(config, bank, model), model


def observations(result: EpisodeResult) -> list[str]:
    return [s.observation for s in result.steps]


# ---- the happy path ---------------------------------------------------------------------------------
def test_task_episode_verifies_writes_back_and_the_next_episode_retrieves_it(tmp_path: Path, shared_bank: CaseBank) -> None:
    agent, model = make_agent(tmp_path, shared_bank, solve_add())
    updates: list[str] = []
    result = agent.run_task(add_task(), on_update=lambda node, _: updates.append(node))

    assert result.status == "succeeded"
    assert result.outcome == Outcome(success=True, verified_by="checker", detail=result.outcome.detail)
    assert result.answer == "add() now returns a + b."
    assert [s.tool for s in result.steps] == ["run", "edit_file", "submit"]
    assert observations(result)[0].startswith("exit code: 0\n-1")  # a real observation from the sandbox
    assert observations(result)[1] == "edited calc.py"
    assert updates == ["retrieve", "orient", "act", "tools", "act", "tools", "act", "tools", "verify", "write_back"]
    assert result.model_calls == 3 and result.tokens > 0

    # The trajectory: OpenAI format, plain system prompt, tool calls with ids, results pointing at them.
    case = result.trajectory
    assert case.source == "writeback" and case.task_id == "calc-add" and case.model == agent.config.model
    assert [m.role for m in case.messages] == ["system", "user"] + ["assistant", "tool"] * 3
    assert case.messages[0].content == load_prompt("system.md")
    for call_msg, result_msg in zip(case.messages[2::2], case.messages[3::2]):
        assert result_msg.tool_call_id == call_msg.tool_calls[0].id
    assert result.write_back is not None and result.write_back.action == "added"
    assert shared_bank.get(case.id) is not None

    # The very next episode on a similar task is shown the new case, as an earlier exchange marked as an
    # example (the default case format), before this task's own request.
    agent2, model2 = make_agent(tmp_path, shared_bank, solve_add())
    again = agent2.run_task(add_task("calc-add-2", "Fix the add() function in calc.py so it returns the sum of both arguments."))
    assert case.id in [cid for cid, _ in again.retrieved]
    system = model2.calls[0][0]
    assert isinstance(system, SystemMessage) and "# Solved examples" not in system.content
    users = [str(m.content) for m in model2.calls[0] if isinstance(m, HumanMessage)]
    shown = [i for i, text in enumerate(users) if text.startswith("[Example") and case.task in text]
    assert shown and shown[-1] < len(users) - 1 and users[-1].startswith("Fix the add() function")
    # The system message is a stable prefix across the steps of an episode (prefix cache).
    assert len({call[0].content for call in model2.calls}) == 1
    assert again.status == "succeeded"


# ---- model mistakes ---------------------------------------------------------------------------------
def test_malformed_arguments_and_unknown_tool_become_observations(tmp_path: Path, shared_bank: CaseBank) -> None:
    replies = [
        malformed_call("edit_file", '{"path": "calc.py", "old": "return a - b", "new": '),
        tool_call("frobnicate", {"x": "1"}),
        *solve_add()[1:],
    ]
    agent, model = make_agent(tmp_path, shared_bank, replies, k=0)
    result = agent.run_task(add_task("calc-add-mistakes", "The add helper in calc.py subtracts; make it add."))

    assert result.status == "succeeded"
    obs = observations(result)
    assert obs[0].startswith("error: arguments are not valid JSON")
    assert obs[1].startswith("error: unknown tool 'frobnicate'")
    assert [s.ok for s in result.steps] == [False, False, True, True]
    # The malformed call is kept verbatim in the trajectory, as the model sent it.
    bad = result.trajectory.messages[2].tool_calls[0]
    assert bad.function.arguments == '{"path": "calc.py", "old": "return a - b", "new": '
    # ... and the model saw its error before its next move.
    assert isinstance(model.calls[1][-1], ToolMessage) and model.calls[1][-1].content.startswith("error:")


def test_a_repeated_call_gets_a_note_in_its_observation(tmp_path: Path, shared_bank: CaseBank) -> None:
    read = tool_call("read_file", {"path": "calc.py"})
    replies = [read, tool_call("read_file", {"path": "calc.py"}), tool_call("read_file", {"path": "calc.py"}), *solve_add()[1:]]
    agent, _ = make_agent(tmp_path, shared_bank, replies, k=0)
    result = agent.run_task(add_task("calc-add-repeat", "The add helper in calc.py subtracts; make it add."))

    assert result.status == "succeeded"
    note = load_prompt("repeat.md")
    obs = observations(result)
    assert note not in obs[0] and obs[1].endswith(note) and obs[2].endswith(note)
    assert obs[1].removesuffix("\n" + note) == obs[0]  # the real output is still all there
    assert not any(note in o for o in obs[3:])  # a different call gets no note


def test_no_tool_call_gets_one_nudge_then_fails_and_is_quarantined(tmp_path: Path, shared_bank: CaseBank) -> None:
    agent, model = make_agent(tmp_path, shared_bank, [text_reply("It looks fine to me."), text_reply("Really, it is fine.")], k=0)
    result = agent.run_task(add_task("calc-add-nudge", "Check whether add() in calc.py is correct and fix it if not."))

    assert result.status == "failed"
    assert "after a nudge" in result.outcome.detail
    assert len(model.calls) == 2
    nudge = model.calls[1][-1]
    assert isinstance(nudge, HumanMessage) and nudge.content == load_prompt("nudge.md")
    assert [m.content for m in result.trajectory.messages if m.role == "user"].count(load_prompt("nudge.md")) == 1
    assert result.write_back is not None and result.write_back.action == "quarantined"
    assert shared_bank.get(result.trajectory.id, quarantined=True) is not None
    assert shared_bank.get(result.trajectory.id) is None


def test_a_nudged_model_can_still_succeed(tmp_path: Path) -> None:
    agent, model = make_agent(tmp_path, None, [text_reply("Done, I think."), *solve_add()])
    result = agent.run_task(add_task())
    assert result.status == "succeeded" and result.model_calls == 4
    assert result.write_back is None  # no bank


# ---- limits and failures ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "reason", "calls"),
    [
        ({"max_steps": 2}, "step limit: 2 model calls", 2),
        ({"token_budget": 10}, "token budget", 1),
        ({"episode_timeout_s": 1e-6}, "time limit", 0),
    ],
)
def test_limits_fail_the_episode_with_a_reason(tmp_path: Path, shared_bank: CaseBank, overrides: dict, reason: str, calls: int) -> None:
    looping = [tool_call("list_files", {"path": "."}) for _ in range(5)]
    agent, model = make_agent(tmp_path, shared_bank, looping, k=0, **overrides)
    result = agent.run_task(add_task(f"calc-add-limit-{calls}", f"Inspect the calc project ({reason}) and fix add()."))
    assert result.status == "failed"
    assert result.outcome.verified_by == "none" and result.outcome.detail.startswith(reason)
    assert len(model.calls) == calls == result.model_calls
    assert result.answer is None
    assert result.write_back is not None and result.write_back.action == "quarantined"


def test_failed_check_is_quarantined_and_usage_recorded_as_unsuccessful(tmp_path: Path, shared_bank: CaseBank) -> None:
    # A verified case the episode will retrieve.
    seeded, _ = make_agent(tmp_path, shared_bank, solve_add(), k=0)
    shown = seeded.run_task(add_task("calc-add-usage", "In calc.py, add(a, b) gives a - b; it should give a + b.")).trajectory
    before = shared_bank.get(shown.id)
    assert before is not None

    wrong_fix = [
        tool_call("edit_file", {"path": "calc.py", "old": "return a - b", "new": "return a * b"}),
        tool_call("submit", {"summary": "Fixed (not really)."}),
    ]
    agent, _ = make_agent(tmp_path, shared_bank, wrong_fix)
    result = agent.run_task(add_task("calc-add-wrong", "In calc.py, add(a, b) returns a - b; make it return a + b."))

    assert shown.id in [cid for cid, _ in result.retrieved]
    assert result.status == "failed"
    assert result.outcome.verified_by == "checker" and not result.outcome.success
    assert "AssertionError" in result.outcome.detail
    assert result.answer == "Fixed (not really)."  # it did submit; the checker disagreed
    assert result.write_back is not None and result.write_back.action == "quarantined"
    after = shared_bank.get(shown.id)
    assert after is not None
    assert after.usage.retrieved == before.usage.retrieved + 1
    assert after.usage.retrieved_in_success == before.usage.retrieved_in_success


# ---- chat, checkpoints, restarts --------------------------------------------------------------------
def test_chat_is_unverified_keeps_its_workspace_and_resumes_in_a_new_agent(tmp_path: Path, shared_bank: CaseBank) -> None:
    first, _ = make_agent(tmp_path, shared_bank, [
        tool_call("write_file", {"path": "notes/todo.txt", "content": "buy milk\n"}),
        tool_call("submit", {"summary": "Saved your note."}),
    ], k=0)
    turn1 = first.chat("conv-notes", "Save a note saying 'buy milk' in notes/todo.txt.")
    assert turn1.status == "unverified" and turn1.answer == "Saved your note."
    assert turn1.outcome.verified_by == "none" and "awaiting feedback" in turn1.outcome.detail
    assert turn1.write_back is not None and turn1.write_back.action == "quarantined"
    assert Path(turn1.workspace, "notes/todo.txt").read_text() == "buy milk\n"
    first.close()

    # A new Agent (as after a process restart) on the same data dir continues the conversation.
    second, model = make_agent(tmp_path, shared_bank, [
        tool_call("read_file", {"path": "notes/todo.txt"}),
        tool_call("submit", {"summary": "It says: buy milk."}),
    ], k=0)
    turn2 = second.chat("conv-notes", "What does my note say?")
    assert turn2.answer == "It says: buy milk."
    assert observations(turn2)[0] == "buy milk\n"  # same workspace as turn 1
    sent = [m.content for m in model.calls[0] if isinstance(m, HumanMessage)]
    assert sent == ["Save a note saying 'buy milk' in notes/todo.txt.", "What does my note say?"]
    assert [s.tool for s in turn2.steps] == ["read_file", "submit"]  # this turn's steps only
    history = second.history("conv-notes")
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant", "tool"] * 2
    # The chat trajectory is the whole conversation; its task is this turn's message.
    assert turn2.trajectory.task == "What does my note say?"
    assert len(turn2.trajectory.messages) == 1 + len(history)
    with pytest.raises(ValueError):
        second.chat("../escape", "hi")


def test_graph_resumes_a_thread_from_a_fresh_sqlite_saver(tmp_path: Path) -> None:
    path, workspace = tmp_path / "checkpoints.sqlite", tmp_path / "ws"
    workspace.mkdir()
    config = AgentConfig(data_dir=tmp_path, k=0, harness=BARE)
    thread = {"configurable": {"thread_id": "conv-restart"}}

    saver = sqlite_checkpointer(path)
    model = ScriptedChatModel([tool_call("write_file", {"path": "n.txt", "content": "42"}), tool_call("submit", {"summary": "Wrote 42."})])
    build_graph(AgentDeps(config, model), saver).invoke(new_turn("conv-restart", "Write 42 to n.txt.", workspace=str(workspace), timeout_s=60), thread)
    saver.conn.close()

    saver = sqlite_checkpointer(path)  # as after a restart: a new connection, a new graph
    model = ScriptedChatModel([tool_call("submit", {"summary": "You asked me to write 42."})])
    graph = build_graph(AgentDeps(config, model), saver)
    earlier = graph.get_state(thread).values
    assert [type(m).__name__ for m in earlier["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "ToolMessage"]
    assert isinstance(earlier["outcome"], Outcome) and isinstance(earlier["trajectory"], Case)

    final = graph.invoke(new_turn("conv-restart", "What did I ask you to do?", workspace=str(workspace), timeout_s=60), thread)
    seen = model.calls[0]
    assert seen[1].content == "Write 42 to n.txt." and seen[2].tool_calls[0]["args"] == {"path": "n.txt", "content": "42"}
    assert seen[-1].content == "What did I ask you to do?"
    assert len(final["messages"]) == 8 and final["submitted"] == "You asked me to write 42."
    saver.conn.close()


def test_parallel_conversations_share_one_agent(tmp_path: Path) -> None:
    def echo(messages: Sequence[BaseMessage]) -> AIMessage:
        asked = [m.content for m in messages if isinstance(m, HumanMessage)][-1]
        return tool_call("submit", {"summary": f"echo: {asked}"})

    agent, _ = make_agent(tmp_path, None, [echo] * 16, k=0)
    names = [f"conv-{i}" for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda cid: agent.chat(cid, f"hello from {cid}"), names))
    assert [r.answer for r in results] == [f"echo: hello from {cid}" for cid in names]
    assert all(len(agent.history(cid)) == 3 for cid in names)
