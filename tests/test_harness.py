"""Each harness lever (agent/harness.py), on and off, through the real graph, sandbox and checker with a
scripted model (these tests are about what the harness sends and does, not about the model)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from openai import BadRequestError

from agent.config import AgentConfig
from agent.harness import COPY_NOTE, ERROR_COPY_NOTE, GATE_NOTE, OUTPUT_NOTE, Harness, build_prompt, example_answers, fit, is_copied, parse_text_calls, prompt_tokens
from agent.runner import Agent
from agent.testing import ScriptedChatModel, text_reply, tool_call
from casebank.prompts import load as load_prompt
from casebank.tasks import Task

OFF = Harness(workspace_context=False, hide_explore=False, primer=False, next_hint=False, loop_break=False,
              force_submit=False, submit_gate=False, tolerant_parser=False, context_budget=False,
              copy_guard=False, copy_guard_short=False)  # fmt: skip


def agent(tmp_path: Path, replies: list, harness: Harness, **overrides) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(replies)
    config = AgentConfig(data_dir=tmp_path / "data", k=0, strategy="none", harness=harness, **overrides)
    return Agent(config, None, model), model


def task(files: dict[str, str], check: str = "assert open('out.txt').read().strip() == 'ok'\n", instruction: str = "Put ok in out.txt.") -> Task:
    return Task(id="t-lever", family="general", instruction=instruction, files=files, check=check)


def first_user(prompt: list) -> str:
    return next(str(m.content) for m in prompt if isinstance(m, HumanMessage) and not str(m.content).startswith("[Example"))


def test_workspace_context_puts_files_in_the_first_user_message(tmp_path: Path) -> None:
    replies = [tool_call("write_file", {"path": "out.txt", "content": "ok"}), tool_call("submit", {"summary": "done"})]
    on, model_on = agent(tmp_path, replies, OFF.model_copy(update={"workspace_context": True}))
    result = on.run_task(task({"notes.txt": "alpha beta\n"}))
    assert result.outcome.verified_success
    assert "notes.txt" in first_user(model_on.calls[0]) and "alpha beta" in first_user(model_on.calls[0])
    # the trajectory keeps the user's own words: the overview is for the model, not the case
    assert "alpha beta" not in result.trajectory.task
    off, model_off = agent(tmp_path, replies, OFF)
    off.run_task(task({"notes.txt": "alpha beta\n"}))
    assert "alpha beta" not in first_user(model_off.calls[0])


def test_hide_explore_takes_list_files_away_on_the_first_step_only(tmp_path: Path) -> None:
    replies = [tool_call("write_file", {"path": "out.txt", "content": "ok"}), tool_call("submit", {"summary": "done"})]
    lever = OFF.model_copy(update={"workspace_context": True, "hide_explore": True})
    a, model = agent(tmp_path, replies, lever)
    a.run_task(task({"a.txt": "x\n"}))
    names = [t["function"]["name"] for t in model.kwargs[0]["tools"]]
    assert "list_files" not in names and "read_file" in names and "submit" in names
    assert "tools" not in model.kwargs[1]
    empty, model_empty = agent(tmp_path, replies, lever)
    empty.run_task(task({}))
    names = [t["function"]["name"] for t in model_empty.kwargs[0]["tools"]]
    assert set(names) == {"write_file", "run", "submit"}
    off, model_off = agent(tmp_path, replies, OFF)
    off.run_task(task({}))
    assert model_off.kwargs[0] == {}


def test_primer_and_next_hint(tmp_path: Path) -> None:
    replies = [
        tool_call("write_file", {"path": "out.txt", "content": "ok"}),
        tool_call("write_file", {"path": "show.py", "content": "print(open('out.txt').read())"}),
        tool_call("run", {"command": "python show.py"}),
        tool_call("run", {"command": "python missing.py"}),
        tool_call("submit", {"summary": "ok"}),
    ]
    a, model = agent(tmp_path, replies, OFF.model_copy(update={"primer": True, "next_hint": True}))
    result = a.run_task(task({}))
    assert result.outcome.verified_success
    # the primer goes as earlier chat turns by default, as text in the system prompt with primer_format=system
    assert any(isinstance(m, HumanMessage) and "What is 6 * 7?" in str(m.content) for m in model.calls[0])
    assert "What is 6 * 7?" not in str(model.calls[0][0].content)
    t, model_t = agent(tmp_path, replies, OFF.model_copy(update={"primer": True, "primer_format": "system"}))
    t.run_task(task({}))
    assert isinstance(model_t.calls[0][0], SystemMessage) and "What is 6 * 7?" in str(model_t.calls[0][0].content)
    assert not any(isinstance(m, HumanMessage) and "What is 6 * 7?" in str(m.content) for m in model_t.calls[0])
    # a changed text file: submit when done; a changed program: run it; a run: submit what it printed
    assert str(model.calls[1][-1].content).endswith(load_prompt("hint_edit.md"))
    assert str(model.calls[2][-1].content).endswith(load_prompt("hint_write.md"))
    assert str(model.calls[3][-1].content).endswith(load_prompt("hint_run.md"))
    # a failed step gets no hint: there is nothing to submit yet
    assert not str(model.calls[4][-1].content).endswith(load_prompt("hint_run.md"))
    # the hint is for the model's next call only: the stored observation stays as the tool said it
    assert all(load_prompt("hint_run.md") not in s.observation for s in result.steps)
    b, model_b = agent(tmp_path, replies, OFF)
    b.run_task(task({}))
    assert not any("What is 6 * 7?" in str(m.content) for m in model_b.calls[0])
    c, model_c = agent(tmp_path, replies, OFF.model_copy(update={"primer": True, "primer_file": "primer_workflow.json"}))
    c.run_task(task({}))
    assert any("sum.py" in str(m.content) for m in model_c.calls[0])
    with pytest.raises(ValueError):
        Harness(primer_file="../system.md")


def test_copy_guard_refuses_an_example_answer_once(tmp_path: Path) -> None:
    copied = tool_call("submit", {"summary": "  greet.py prints:   hi there"})  # the primer's answer, spaced differently
    replies = [copied, tool_call("write_file", {"path": "out.txt", "content": "ok"}), copied]
    on, _ = agent(tmp_path, replies, OFF.model_copy(update={"primer": True, "copy_guard": True}))
    result = on.run_task(task({}))
    assert result.steps[0].observation == COPY_NOTE and not result.steps[0].ok
    # the second time it stands (a chat's true answer may match an example's)
    assert result.answer == "  greet.py prints:   hi there" and result.outcome.verified_success
    off, _ = agent(tmp_path, replies, OFF.model_copy(update={"primer": True}))
    result_off = off.run_task(task({}))
    assert result_off.steps[0].observation == "submitted" and not result_off.outcome.verified_success
    # an answer nobody was shown is never refused
    fresh, _ = agent(tmp_path, [tool_call("write_file", {"path": "out.txt", "content": "ok"}), tool_call("submit", {"summary": "wrote ok"})],
                     OFF.model_copy(update={"primer": True, "copy_guard": True}))
    assert fresh.run_task(task({})).steps[-1].observation == "submitted"


def test_copy_guard_short_refuses_a_copied_number_once(tmp_path: Path) -> None:
    # Seen on the 0.5B: "What is 17 * 23?" answered "42", the primer's answer to "What is 6 * 7?".
    replies = [tool_call("submit", {"summary": "42"}), tool_call("submit", {"summary": "391"})]
    on, model = agent(tmp_path, replies, OFF.model_copy(update={"primer": True, "copy_guard": True, "copy_guard_short": True}))
    result = on.run_task(task({}))
    assert result.steps[0].observation == COPY_NOTE and result.answer == "391" and len(model.calls) == 2
    # without the lever a short copy is taken as the answer at once
    off, model_off = agent(tmp_path, replies, OFF.model_copy(update={"primer": True, "copy_guard": True}))
    assert off.run_task(task({})).answer == "42" and len(model_off.calls) == 1
    # a right answer that matches the example's is refused once, then stands
    again, _ = agent(tmp_path, [tool_call("submit", {"summary": "42"})] * 2,
                     OFF.model_copy(update={"primer": True, "copy_guard": True, "copy_guard_short": True}))
    assert again.run_task(task({})).answer == "42"


def test_error_guard_refuses_a_summary_that_repeats_a_tool_error_once(tmp_path: Path) -> None:
    # Seen on the 0.5B: run(command, output=...) fails, then the error itself is submitted as the answer.
    bad_run = tool_call("run", {"command": "echo ok > out.txt", "output": "ok"})
    copied = tool_call("submit", {"summary": "run got unknown argument(s): output"})
    replies = [bad_run, copied, tool_call("run", {"command": "echo ok > out.txt"}), tool_call("submit", {"summary": "wrote ok"})]
    on, _ = agent(tmp_path, replies, OFF.model_copy(update={"error_guard": True}))
    result = on.run_task(task({}))
    assert result.steps[0].observation == "error: run got unknown argument(s): output"
    assert result.steps[1].observation == ERROR_COPY_NOTE and not result.steps[1].ok
    assert result.answer == "wrote ok" and result.outcome.verified_success
    off, _ = agent(tmp_path, replies, OFF)
    assert off.run_task(task({})).answer == "run got unknown argument(s): output"
    # the second copy stands; a short answer that happens to occur in an error ("ok") is never refused
    twice, _ = agent(tmp_path, [bad_run, copied, copied], OFF.model_copy(update={"error_guard": True}))
    assert twice.run_task(task({})).answer == "run got unknown argument(s): output"
    short, _ = agent(tmp_path, [tool_call("read_file", {"path": "missing.txt"}), tool_call("submit", {"summary": "no such file"}),
                                tool_call("submit", {"summary": "no such file"})], OFF.model_copy(update={"error_guard": True}))
    assert short.run_task(task({})).steps[1].observation == ERROR_COPY_NOTE
    fine, _ = agent(tmp_path, [tool_call("read_file", {"path": "missing.txt"}), tool_call("submit", {"summary": "ok"})],
                    OFF.model_copy(update={"error_guard": True}))
    assert fine.run_task(task({})).steps[1].observation == "submitted"


def test_drop_unknown_args_runs_the_call_without_them(tmp_path: Path) -> None:
    replies = [tool_call("run", {"command": "echo ok > out.txt", "output": "ok"}), tool_call("submit", {"summary": "done"})]
    on, _ = agent(tmp_path, replies, OFF.model_copy(update={"drop_unknown_args": True}))
    result = on.run_task(task({}))
    assert result.steps[0].ok and result.steps[0].observation.startswith("exit code: 0")
    assert "[note: run takes no argument(s) output; ran without them]" in result.steps[0].observation
    assert result.outcome.verified_success
    off, _ = agent(tmp_path, replies, OFF)
    result_off = off.run_task(task({}))
    assert result_off.steps[0].observation == "error: run got unknown argument(s): output" and not result_off.outcome.verified_success
    # a call whose arguments are all known is left as it is; a missing argument still fails
    plain, _ = agent(tmp_path, [tool_call("edit_file", {"path": "out.txt", "old": "a"}), tool_call("submit", {"summary": "x"})],
                     OFF.model_copy(update={"drop_unknown_args": True}))
    assert plain.run_task(task({})).steps[0].observation == "error: edit_file needs argument(s): new"


def test_restate_task_puts_the_request_before_the_next_step_hint(tmp_path: Path) -> None:
    replies = [tool_call("write_file", {"path": "show.py", "content": "print('ok')"}), tool_call("run", {"command": "python show.py"}),
               tool_call("run", {"command": "python missing.py"}), tool_call("write_file", {"path": "out.txt", "content": "ok"}),
               tool_call("submit", {"summary": "ok"})]  # fmt: skip
    instruction = "Put ok in out.txt.\n\nThen   stop." + " pad" * 200
    lever = OFF.model_copy(update={"next_hint": True, "workspace_context": True, "restate_task": True})
    on, model = agent(tmp_path, replies, lever)
    result = on.run_task(task({}, instruction=instruction))
    assert result.outcome.verified_success
    hint_after_write, hint_after_run = str(model.calls[1][-1].content), str(model.calls[2][-1].content)
    # the request on one line (whitespace folded, a long one abbreviated), then the usual hint
    assert hint_after_write.endswith(load_prompt("hint_write.md"))
    assert "\n[The task: Put ok in out.txt. Then stop. pad" in hint_after_write and "chars omitted" in hint_after_write
    assert hint_after_run.endswith(load_prompt("hint_run.md")) and "[The task: Put ok in out.txt." in hint_after_run
    # the request quoted is the user's, not the workspace overview the first message carries
    assert "[workspace" not in hint_after_run
    # a failed step still gets no hint, and the stored observations stay as the tools said them
    assert "[The task:" not in str(model.calls[3][-1].content)
    assert all("[The task:" not in s.observation for s in result.steps)
    off, model_off = agent(tmp_path, replies, lever.model_copy(update={"restate_task": False}))
    off.run_task(task({}, instruction=instruction))
    assert not any("[The task:" in str(m.content) for call in model_off.calls for m in call)


def test_example_answers_hold_the_primer_and_the_retrieved_cases() -> None:
    from casebank.casefile import load_cases
    from seeds import SEEDS_FILE

    case = load_cases(SEEDS_FILE, "casebank")[0]
    summary = next(c.function.arguments for m in case.messages if m.role == "assistant" for c in m.tool_calls or [] if c.function.name == "submit")
    summary = summary["summary"] if isinstance(summary, dict) else __import__("json").loads(summary)["summary"]
    assert summary in example_answers(Harness(primer=False), [case])
    assert "greet.py prints: hi there" in example_answers(Harness(), [])
    assert "42" in example_answers(Harness(), [])  # copy_guard_short: a copied number is refused once
    assert "42" not in example_answers(Harness(copy_guard_short=False), [])  # sentences only
    assert "plan.txt has 2 TODO lines." in example_answers(Harness(primer_file="primer_workflow.json"), [])
    from casebank.sandbox.tools import tool_schemas

    submit = next(t["function"]["description"] for t in tool_schemas() if t["function"]["name"] == "submit")
    described = {t["function"]["description"] for t in tool_schemas()} | {
        p["description"] for t in tool_schemas() for p in t["function"]["parameters"]["properties"].values() if "description" in p}
    assert example_answers(Harness(primer=False), []) == sorted(described)
    assert is_copied(f"  {submit.upper()} ", example_answers(Harness(primer=False), []))


def test_loop_break_redecodes_a_repeated_call_by_sampling(tmp_path: Path) -> None:
    read = tool_call("read_file", {"path": "a.txt"})
    replies = [read, tool_call("read_file", {"path": "a.txt"}), tool_call("write_file", {"path": "out.txt", "content": "ok"}), tool_call("submit", {"summary": "ok"})]
    a, model = agent(tmp_path, replies, OFF.model_copy(update={"loop_break": True}))
    result = a.run_task(task({"a.txt": "x\n"}))
    assert result.outcome.verified_success
    assert [s.tool for s in result.steps] == ["read_file", "write_file", "submit"]  # the repeat never ran
    assert model.kwargs[2]["temperature"] > 0 and "seed" in model.kwargs[2]
    b, _ = agent(tmp_path, replies, OFF)
    assert [s.tool for s in b.run_task(task({"a.txt": "x\n"})).steps] == ["read_file", "read_file", "write_file", "submit"]


def test_force_submit_makes_the_last_call_a_submit(tmp_path: Path) -> None:
    replies = [tool_call("list_files"), tool_call("submit", {"summary": "the answer"})]
    a, model = agent(tmp_path, replies, OFF.model_copy(update={"force_submit": True}), max_steps=2)
    result = a.chat(None, "what is here?")
    assert result.answer == "the answer"
    assert model.kwargs[1]["tool_choice"] == {"type": "function", "function": {"name": "submit"}}
    assert "tool_choice" not in model.kwargs[0]


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "write_file", "arguments": {"path": "out.txt", "content": "ok"}}\n```',
        '<tool_call>\n{"name": "write_file", "arguments": {"path": "out.txt", "content": "ok"}}\n</tool_call>',
        '{"name": "write_file", "parameters": {"path": "out.txt", "content": "ok"}}',
    ],
)
def test_tolerant_parser_runs_calls_written_as_text(tmp_path: Path, text: str) -> None:
    replies = [text_reply(text), tool_call("submit", {"summary": "ok"})]
    a, _ = agent(tmp_path, replies, OFF.model_copy(update={"tolerant_parser": True}))
    assert a.run_task(task({})).outcome.verified_success
    assert parse_text_calls("I think the answer is 4.", ["submit"]) == []
    assert parse_text_calls('{"name": "rm_rf", "arguments": {}}', ["submit"]) == []  # unknown tool: not a call


def test_tolerant_parser_off_nudges(tmp_path: Path) -> None:
    replies = [text_reply('{"name": "write_file", "arguments": {"path": "out.txt", "content": "ok"}}'), text_reply("still text")]
    a, _ = agent(tmp_path, replies, OFF)
    result = a.run_task(task({}))
    assert not result.outcome.success and "no tool call" in result.outcome.detail


TESTED = {"calc.py": "def add(a, b):\n    return a - b\n", "test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"}
CALC_CHECK = "import sys\nsys.path.insert(0, '.')\nfrom calc import add\nassert add(2, 3) == 5\n"


def test_submit_gate_shows_failing_tests_once_and_the_episode_goes_on(tmp_path: Path) -> None:
    fix = tool_call("edit_file", {"path": "calc.py", "old": "a - b", "new": "a + b"})
    replies = [tool_call("submit", {"summary": "done"}), fix, tool_call("submit", {"summary": "fixed"})]
    a, model = agent(tmp_path, replies, OFF.model_copy(update={"submit_gate": True}))
    result = a.run_task(task(TESTED, check=CALC_CHECK, instruction="Fix add."))
    assert result.outcome.verified_success and result.answer == "fixed"
    assert GATE_NOTE in result.steps[0].observation and "failed" in result.steps[0].observation
    # once per turn: a second failing submit goes through
    again = [tool_call("submit", {"summary": "done"}), tool_call("submit", {"summary": "still done"})]
    b, _ = agent(tmp_path, again, OFF.model_copy(update={"submit_gate": True}))
    result = b.run_task(task(TESTED, check=CALC_CHECK, instruction="Fix add."))
    assert result.answer == "still done" and not result.outcome.success
    c, _ = agent(tmp_path, [tool_call("submit", {"summary": "done"})], OFF)
    assert c.run_task(task(TESTED, check=CALC_CHECK, instruction="Fix add.")).answer == "done"


STATS = {"stats.py": "print('requests 12')\nprint('max_ms 560')\n"}
STATS_ASK = "Run `python stats.py` and put what it prints into stats.md (see ./stats.py; not notes.txt.bak)."
STATS_CHECK = "import os\nassert 'max_ms 560' in open('stats.md').read()\n"


def test_output_gate_refuses_a_submit_before_the_named_file_exists_once(tmp_path: Path) -> None:
    # Seen on the 0.5B: "put what it prints into stats.md" answered by running stats.py and submitting its output.
    run, early = tool_call("run", {"command": "python stats.py"}), tool_call("submit", {"summary": "requests 12, max_ms 560"})
    write = tool_call("write_file", {"path": "stats.md", "content": "requests 12\nmax_ms 560\n"})
    a, _ = agent(tmp_path, [run, early, write, tool_call("submit", {"summary": "wrote stats.md"})], OFF.model_copy(update={"output_gate": True}))
    result = a.run_task(task(STATS, check=STATS_CHECK, instruction=STATS_ASK))
    # only the file the request names that is not there yet: not stats.py (present), not notes.txt.bak
    assert result.steps[1].observation == OUTPUT_NOTE.format(names="stats.md", it="it") and not result.steps[1].ok
    assert result.answer == "wrote stats.md" and result.outcome.verified_success
    off, _ = agent(tmp_path, [run, early], OFF)
    assert off.run_task(task(STATS, check=STATS_CHECK, instruction=STATS_ASK)).answer == "requests 12, max_ms 560"
    # once per turn: the second early submit stands; a request that names no new file is never gated
    twice, _ = agent(tmp_path, [run, early, early], OFF.model_copy(update={"output_gate": True}))
    twice_result = twice.run_task(task(STATS, check=STATS_CHECK, instruction=STATS_ASK))
    assert twice_result.answer == "requests 12, max_ms 560" and not twice_result.outcome.success
    plain, _ = agent(tmp_path, [run, early], OFF.model_copy(update={"output_gate": True}))
    assert plain.run_task(task(STATS, check=STATS_CHECK, instruction="Run python stats.py and tell me the max.")).steps[1].observation == "submitted"


def test_named_outputs_are_the_request_s_new_file_names(tmp_path: Path) -> None:
    from agent.env import SandboxEnvironment
    from agent.harness import named_outputs

    (tmp_path / "requirements.txt").write_text("flask==3.0.3\n")
    env = SandboxEnvironment(str(tmp_path))
    ask = ("Turn requirements.txt into deps.json (e.g. {\"flask\": \"3.0.3\"}), check it with `python -m json.tool deps.json`, "
           "move *.log files into logs/ and write out/summary.md.")
    assert named_outputs(ask, env) == ["deps.json", "out/summary.md"]
    assert named_outputs("What is 17 * 23?", env) == []


def test_context_budget_caps_observations_and_shortens_older_ones() -> None:
    big = "line of output\n" * 2000
    history = [HumanMessage("do it")]
    for i in range(6):
        history += [AIMessage("", tool_calls=[{"name": "run", "args": {"command": f"c{i}"}, "id": f"c{i}", "type": "tool_call"}]),
                    ToolMessage(big, tool_call_id=f"c{i}", name="run")]
    lever = OFF.model_copy(update={"context_budget": True})
    prompt = build_prompt("sys", history, harness=lever, budget_tokens=3000)
    assert prompt_tokens(prompt) <= 3000
    tools = [m for m in prompt if isinstance(m, ToolMessage)]
    assert len(str(tools[-1].content)) > len(str(tools[0].content))  # the latest observations keep the most
    assert all("chars omitted" in str(t.content) for t in tools)
    unbounded = build_prompt("sys", history, harness=OFF, budget_tokens=3000)
    assert prompt_tokens(unbounded) > 3000
    assert fit([SystemMessage("s"), HumanMessage("short")], 100)[1].content == "short"


def _overflow() -> BadRequestError:
    request = httpx.Request("POST", "http://llm/v1/chat/completions")
    body = {"message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."}
    return BadRequestError(body["message"], response=httpx.Response(400, request=request), body=body)


def test_a_context_length_400_shrinks_and_retries_instead_of_ending(tmp_path: Path) -> None:
    calls = {"n": 0}

    def overflow_once(prompt):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 1:
            raise _overflow()
        return tool_call("write_file", {"path": "out.txt", "content": "ok"})

    replies = [overflow_once, overflow_once, tool_call("submit", {"summary": "ok"})]
    a, model = agent(tmp_path, replies, OFF.model_copy(update={"context_budget": True}))
    assert a.run_task(task({})).outcome.verified_success
    b, _ = agent(tmp_path, [lambda p: (_ for _ in ()).throw(_overflow())], OFF)
    result = b.run_task(task({}))
    assert not result.outcome.success and "model request rejected" in result.outcome.detail


def test_case_format_turns_puts_cases_before_the_task_as_marked_examples(tmp_path: Path) -> None:
    from casebank.bank import CaseBank
    from casebank.casefile import load_cases
    from casebank.config import Settings
    import seeds

    bank = CaseBank(Settings(data_dir=tmp_path / "bank"))
    bank.upsert(load_cases(seeds.FIXTURE_FILE, "casebank"))
    replies = [tool_call("write_file", {"path": "out.txt", "content": "ok"}), tool_call("submit", {"summary": "ok"})]
    for fmt in ("turns", "system"):
        model = ScriptedChatModel(replies)
        config = AgentConfig(data_dir=tmp_path / "data", k=2, strategy="dense", write_back=False, record_usage=False,
                             harness=OFF.model_copy(update={"case_format": fmt}))  # fmt: skip
        Agent(config, bank, model).run_task(task({}))
        prompt = model.calls[0]
        examples = [m for m in prompt if isinstance(m, HumanMessage) and str(m.content).startswith("[Example ")]
        if fmt == "turns":
            assert len(examples) == 2 and "Solved examples" not in str(prompt[0].content)
            ends = [m for m in prompt if isinstance(m, ToolMessage) and "End of example" in str(m.content)]
            assert len(ends) == 2
            assert isinstance(prompt[-1], HumanMessage) and prompt[-1].content == "Put ok in out.txt."
        else:
            assert examples == [] and "Solved examples" in str(prompt[0].content)


def test_tool_choice_lever_reaches_the_request() -> None:
    from agent.model import make_chat_model

    for choice in ("required", "auto"):
        bound = make_chat_model(AgentConfig(harness=Harness(tool_choice=choice)))
        assert bound.kwargs["tool_choice"] == choice  # type: ignore[attr-defined]
        assert [t["function"]["name"] for t in bound.kwargs["tools"]][-1] == "submit"  # type: ignore[attr-defined]


def test_a_no_op_edit_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    # A small model "fixes" code with old == new and then loops edit/run on an unchanged file.
    replies = [tool_call("edit_file", {"path": "out.txt", "old": "ko", "new": "ko"}), tool_call("edit_file", {"path": "out.txt", "old": "ko", "new": "ok"}),
               tool_call("submit", {"summary": "fixed"})]  # fmt: skip
    a, _ = agent(tmp_path, replies, OFF)
    result = a.run_task(task({"out.txt": "ko\n"}))
    assert not result.steps[0].ok and "same text" in result.steps[0].observation
    assert result.steps[1].ok and result.outcome.verified_success


def test_one_wall_clock_safety_net_for_tasks_run_and_chat() -> None:
    # A CPU LLM at ~6 tok/s must not have its chats cut at a shorter limit than its task episodes.
    from agent.config import DEFAULT_EPISODE_TIMEOUT_S
    from serving.config import ServerSettings

    task_ = Task(id="t", family="general", instruction="x", check="pass\n", timeout_s=5)
    assert AgentConfig().timeout_for(task_.timeout_s) == DEFAULT_EPISODE_TIMEOUT_S == ServerSettings().episode_timeout_s == 1800


def test_non_object_arguments_from_the_server_are_an_error_observation_not_a_crash(tmp_path: Path) -> None:
    # Seen on the 0.5B during a grid: a read_file call whose arguments are the JSON list ["settings.py"].
    # langchain_openai built an AIMessage with args=list and pydantic raised, ending the whole `ablate` run.
    from agent.model import make_chat_model

    def completion(name: str, arguments: str) -> dict:
        call = {"id": f"chatcmpl-tool-{name}", "type": "function", "function": {"name": name, "arguments": arguments}}
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}  # fmt: skip

    script = iter([completion("read_file", '["out.txt"]'), completion("write_file", '{"path": "out.txt", "content": "ok"}'),
                   completion("submit", '{"summary": "wrote ok"}')])  # fmt: skip
    requests: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return httpx.Response(200, json=next(script))

    config = AgentConfig(data_dir=tmp_path / "data", k=0, strategy="none", harness=OFF, llm_url="http://llm.test/v1")
    model = make_chat_model(config, http_client=httpx.Client(transport=httpx.MockTransport(answer)))
    result = Agent(config, None, model).run_task(task({"notes.txt": "x\n"}))

    assert result.outcome.verified_success and len(requests) == 3
    assert not result.steps[0].ok and result.steps[0].observation.startswith("error: arguments must be a JSON object")
    # The model saw that error before its next move, and the call is kept as the model sent it.
    assert any(m.get("role") == "tool" and "must be a JSON object" in str(m.get("content")) for m in requests[1]["messages"])
    assert result.trajectory.messages[2].tool_calls[0].function.arguments == '["out.txt"]'
