"""The harness for small models: levers around the model call, each a small named piece switched in
`Harness`, each measured with `casebank ablate`.

    workspace_context   the first user message of a turn carries the file listing and small files
    hide_explore        while the overview shows every file, the first call cannot be list_files (nor,
                        in an empty workspace, read_file or edit_file)
    primer              tiny fixed examples (`primer_file`: primer.json answers at once, then writes, runs
                        and submits; primer_workflow.json computes an answer with a command, counts with
                        grep, writes-runs-submits, edits a config), as earlier chat turns or as text in
                        the system prompt (`primer_format`)
    next_hint           the latest observation ends with the usual next step (after a change to code: run
                        it; after a change to any other file: submit if done; after a run: submit the
                        answer it printed, if it answers the task)
    copy_guard          a submit whose summary is copied word for word from an example (the primer's or a
                        retrieved case's) or from a tool's or argument's description is refused once,
                        with a note to answer this task
    copy_guard_short    the copy guard also refuses, once, a short answer (one or two words) copied from an
                        example: seen, "What is 17 * 23?" answered "42", the primer's answer to 6 * 7. A right
                        answer that matches an example's is refused once, then stands. None of the 568 submits of the
                        ladder's and four-way table's 551 episodes was such a copy: those runs stand as they are
    error_guard         (off until measured) a submit whose summary repeats an error a tool answered in
                        this turn is refused once, with a note to make the failed call work
    drop_unknown_args   (off until measured) a call with arguments its tool does not take
                        (run(command, output=...)) runs without them, with a note, instead of failing
    restate_task        (off until measured) the next-step hint starts with the turn's request, so the
                        latest message says what was asked (seen: a run prints 110.0 where the task says
                        60.0, or prints the answer, and the 0.5B goes on with an example's next step)
    case_format         retrieved cases as earlier chat turns, each marked as a finished example (default
                        since the lever grid: dev levels 1-2, 5 of 17 tasks vs 2 as text), or as text in
                        the system prompt
    context_budget      observations capped in tokens; older ones shortened before a request overflows;
                        a context-length 400 shrinks the prompt and retries instead of ending the episode
    tolerant_parser     tool calls written as text (```json blocks, <tool_call> tags, bare JSON) are used
    loop_break          a call identical to the previous step's is decoded again, sampling, not executed again
    force_submit        the last allowed model call must be `submit`, so a chat always gets an answer
    submit_gate         a submit that leaves the workspace's tests failing is shown the failure once
    output_gate         (off until measured) a submit while a file the request names, that was not in the
                        workspace when the turn began, still does not exist is refused once, naming the
                        file (seen: "write stats.md ...", "write slowest.json ..." submitted without it)
    tool_choice         `required` (guided decoding to a tool call) or `auto`

The graph calls `build_prompt` and `decode` from `act`, `workspace_overview` and `named_outputs` from
`orient`, and `gate_submit` and `gate_outputs` from `tools`; each returns early when its lever is off.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field

from agent.render import abbreviate
from casebank.prompts import load as load_prompt
from casebank.sandbox.tools import tool_schemas

# Qwen's tokenizer averages about 3.3 characters per token on code and logs; 3 errs on the safe side.
CHARS_PER_TOKEN = 3
SUBMIT_CHOICE = {"type": "function", "function": {"name": "submit"}}
EMPTY = "The workspace is empty."
# After a change, run it; after a run, submit if it did what was asked (the prompt files say how).
NEXT_HINTS = {"write_file": "hint_write.md", "edit_file": "hint_write.md", "run": "hint_run.md"}
# A change to a file that is not a program has nothing to run: the hint says to submit when done.
CODE_FILE = re.compile(r"\.(py|sh)$")
COPY_NOTE = ("[not submitted: this summary is copied word for word from an example (a different task) or from the "
             "instructions. Look at the output of your last step and submit the answer for this task.]")
ERROR_COPY_NOTE = ("[not submitted: this summary repeats an error message from a tool, which is not an answer. Make "
                   "the call that failed work (check its arguments), then submit the answer for this task.]")
TEST_FILE = re.compile(r"(^|/)(test_[^/]*\.py|[^/]*_test\.py)$")


class Harness(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace_context: bool = True
    context_files_tokens: int = Field(1200, ge=0, description="Tokens of small files' content shown up front.")
    hide_explore: bool = True
    primer: bool = True
    primer_format: Literal["system", "turns"] = Field("turns", description="The primer as earlier chat turns, or as text in the system prompt.")
    primer_file: str = Field("primer.json", pattern=r"^primer[\w-]*\.json$", description="Which primer (casebank/prompts/).")
    next_hint: bool = True
    case_format: Literal["system", "turns"] = "turns"
    context_budget: bool = True
    observation_tokens: int = Field(1000, ge=50, description="Cap of one observation, in tokens.")
    tolerant_parser: bool = True
    loop_break: bool = True
    loop_break_temperature: float = Field(0.8, gt=0, le=2)
    loop_break_tries: int = Field(2, ge=1, le=5)
    force_submit: bool = True
    submit_gate: bool = True
    copy_guard: bool = True
    copy_guard_short: bool = True
    error_guard: bool = False
    drop_unknown_args: bool = False
    restate_task: bool = False
    output_gate: bool = False
    tool_choice: Literal["required", "auto"] = "required"


def approx_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


# ---- workspace context -----------------------------------------------------------------------------
def workspace_overview(env: Any, budget_tokens: int) -> str:
    """The workspace's files and the content of the small ones, through the sandbox's own tools (so the
    same path rules apply). Smallest files first, until the budget is spent."""
    listing = env.execute("list_files", {"path": "."}).content
    if listing.strip() == "(no files)":
        return EMPTY
    names = [n for n in listing.splitlines() if n and not n.startswith("[...")]
    shown: list[str] = []
    left = budget_tokens * CHARS_PER_TOKEN
    contents = []
    for name in names:
        result = env.execute("read_file", {"path": name})
        if result.ok and "\x00" not in result.content:
            contents.append((len(result.content), name, result.content))
    for size, name, text in sorted(contents):
        if size > left:
            continue
        left -= size
        shown.append(f"--- {name} ---\n{text.rstrip()}")
    parts = ["Files in the workspace:", listing]
    if shown:
        parts += ["", "Their content:" if len(shown) == len(names) else "Content of the small ones:", *shown]
    return "\n".join(parts)


def shows_everything(overview: str) -> bool:
    """Whether the overview holds every file's content (or the workspace is empty)."""
    return overview == EMPTY or "\nTheir content:\n" in overview


def with_context(user_text: str, overview: str) -> str:
    return f"{user_text}\n\n[workspace /workspace]\n{overview}" if overview else user_text


# ---- case format ------------------------------------------------------------------------------------
EXAMPLE_END = "submitted. [End of example {n}. The next message is a different task in a new workspace.]"


def case_turns(cases: Sequence[Any]) -> list[AnyMessage]:
    """Each case as an earlier exchange: its task as a user turn marked as an example, its calls and
    observations, the closing submit's result saying the example is over (so the model does not
    continue a finished example)."""
    messages: list[AnyMessage] = []
    for n, case in enumerate(cases, start=1):
        ids: dict[str, str] = {}
        for m in case.messages:
            if m.role == "system":
                continue
            if m.role == "user":
                messages.append(HumanMessage(f"[Example {n}] {m.content or ''}"))
            elif m.role == "assistant":
                calls = []
                for call in m.tool_calls or []:
                    cid = ids.setdefault(call.id, f"ex{n}_{len(ids)}")
                    args = call.function.arguments
                    calls.append({"name": call.function.name, "args": args if isinstance(args, dict) else _loads(args), "id": cid, "type": "tool_call"})
                messages.append(AIMessage(m.content or "", tool_calls=calls))
            elif m.role == "tool":
                cid = ids.get(m.tool_call_id or "", m.tool_call_id or "")
                is_submit = (m.name or "") == "submit" or (m.content or "").strip() == "submitted"
                text = EXAMPLE_END.format(n=n) if is_submit else abbreviate(m.content or "", 600)
                messages.append(ToolMessage(text, tool_call_id=cid, name=m.name or ""))
    return messages


def _loads(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def primer_turns(name: str = "primer.json") -> list[AnyMessage]:
    """A fixed primer (casebank/prompts/<name>) as LangChain messages; built once (every model call of
    every episode needs it), a fresh list each time."""
    return list(_primer_turns(name))


@functools.cache
def _primer_turns(name: str) -> tuple[AnyMessage, ...]:
    from casebank.models import Message
    from casebank.prompts import load

    class _Case:  # case_turns reads only .messages
        messages = [Message.model_validate(m) for m in json.loads(load(name))]

    turns = case_turns([_Case()])
    for m in turns:  # the primer speaks for itself: no "[Example 1]" numbering on top of its own marker
        if isinstance(m, HumanMessage):
            m.content = str(m.content).replace("[Example 1] ", "", 1)
        if isinstance(m, ToolMessage) and str(m.content).startswith("submitted. [End of example 1."):
            m.content = "submitted. [End of example. The next message is a different task in a new workspace.]"
    return tuple(turns)


@dataclass(frozen=True)
class _Example:  # what render_case reads of a Case
    task: str
    messages: tuple[Any, ...]
    family: str = "example"


@functools.cache
def primer_text(name: str = "primer.json") -> str:
    """The primer as solved examples in text, the way retrieved cases are rendered (primer_format=system)."""
    from agent.render import render_case
    from casebank.models import Message
    from casebank.prompts import load

    examples: list[list[Any]] = []
    for raw in json.loads(load(name)):
        message = Message.model_validate(raw)
        if message.role == "user":
            message = message.model_copy(update={"content": (message.content or "").removeprefix("[Example] ")})
            examples.append([])
        examples[-1].append(message)
    texts = [render_case(_Example(task=str(ms[0].content), messages=tuple(ms)), n) for n, ms in enumerate(examples, start=1)]  # type: ignore[arg-type]
    return "\n\n".join([load("primer_intro.md"), *texts])


def system_primer(harness: Harness) -> str:
    """The primer's text for the system prompt, or "" when it is off or goes as chat turns."""
    return primer_text(harness.primer_file) if harness.primer and harness.primer_format == "system" else ""


# ---- the prompt and its budget -------------------------------------------------------------------------
def build_prompt(
    system: str,
    history: Sequence[AnyMessage],
    *,
    harness: Harness,
    examples: Sequence[AnyMessage] = (),
    overview: str = "",
    turn_start: int = 0,
    budget_tokens: int | None = None,
) -> list[BaseMessage]:
    """System message, example turns, then the conversation with the workspace overview added to this
    turn's user message; under `context_budget`, observations are capped and older ones shortened
    until the prompt fits `budget_tokens`."""
    messages: list[BaseMessage] = list(history)
    request = messages[turn_start] if turn_start < len(messages) and isinstance(messages[turn_start], HumanMessage) else None
    if overview and request is not None:
        messages[turn_start] = HumanMessage(with_context(str(request.content), overview), id=request.id)
    if harness.next_hint and messages and isinstance(messages[-1], ToolMessage):
        last = messages[-1]
        if hint := next_hint(messages):
            text = load_prompt(hint)
            if harness.restate_task and request is not None:
                text = restated(str(request.content)) + text
            messages[-1] = last.model_copy(update={"content": f"{last.content}\n{text}"})
    primer = primer_turns(harness.primer_file) if harness.primer and harness.primer_format == "turns" else []
    prompt = [SystemMessage(system), *primer, *examples, *messages]
    if not harness.context_budget:
        return prompt
    cap = harness.observation_tokens * CHARS_PER_TOKEN
    prompt = [_shorten(m, cap) for m in prompt]
    if budget_tokens is not None:
        prompt = fit(prompt, budget_tokens)
    return prompt


def restated(request: str, limit: int = 400) -> str:
    """The turn's request as the hint's first line, on one line, abbreviated past `limit` characters."""
    return f"[The task: {abbreviate(' '.join(request.split()), limit)}]\n"


def next_hint(messages: Sequence[BaseMessage]) -> str | None:
    """The hint file for the latest observation: after a successful change to a program, run it; after
    a change to another file, submit if done; after a run, submit the answer it printed."""
    last = messages[-1]
    if not isinstance(last, ToolMessage) or last.status == "error":
        return None
    hint = NEXT_HINTS.get(last.name or "")
    if hint == "hint_write.md":
        call = next((c for m in reversed(messages) if isinstance(m, AIMessage) for c in m.tool_calls if c["id"] == last.tool_call_id), None)
        path = str((call or {}).get("args", {}).get("path", ""))
        return hint if CODE_FILE.search(path) else "hint_edit.md"
    return hint


def _shorten(message: BaseMessage, limit: int) -> BaseMessage:
    if isinstance(message, ToolMessage) and len(str(message.content)) > limit:
        return message.model_copy(update={"content": abbreviate(str(message.content), limit)})
    return message


def prompt_tokens(prompt: Sequence[BaseMessage]) -> int:
    total = 0
    for m in prompt:
        total += approx_tokens(str(m.content)) + 8
        if isinstance(m, AIMessage):
            total += sum(approx_tokens(json.dumps(c["args"])) + 8 for c in m.tool_calls)
    return total


def fit(prompt: list[BaseMessage], budget_tokens: int) -> list[BaseMessage]:
    """Shorten tool observations, oldest first (the last two stay as they are as long as possible), then
    example turns' and all observations harder, until the estimate fits."""
    for limit in (600, 200, 80):
        if prompt_tokens(prompt) <= budget_tokens:
            return prompt
        tools = [i for i, m in enumerate(prompt) if isinstance(m, ToolMessage)]
        for i in tools[:-2] if limit > 80 else tools:
            prompt[i] = _shorten(prompt[i], limit)
    return prompt


# ---- decoding ---------------------------------------------------------------------------------------------
_BLOCK = re.compile(r"```(?:json|tool_call|python)?\s*(\{.*?\})\s*```", re.S)
_TAG = re.compile(r"<tool_call>\s*(\{.*?\})\s*(?:</tool_call>|$)", re.S)


def parse_text_calls(text: str, tool_names: Sequence[str]) -> list[dict[str, Any]]:
    """Tool calls a model wrote as text: ```json blocks, <tool_call> tags, or the whole reply as bare JSON.
    Accepts {"name", "arguments"|"args"|"parameters"} objects naming a known tool."""
    candidates = [m.group(1) for m in _TAG.finditer(text)] or [m.group(1) for m in _BLOCK.finditer(text)]
    if not candidates and text.strip().startswith("{"):
        candidates = [text.strip()]
    calls = []
    for raw in candidates:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or obj.get("name") not in tool_names:
            continue
        args = next((obj[k] for k in ("arguments", "args", "parameters") if k in obj), {})
        if isinstance(args, str):
            args = _loads(args)
        if isinstance(args, dict):
            calls.append({"name": obj["name"], "args": args, "id": f"call_{uuid.uuid4().hex[:8]}", "type": "tool_call"})
    return calls[:1]


def recover_calls(reply: AIMessage, tool_names: Sequence[str]) -> AIMessage:
    """A reply without structured tool calls whose text holds one: make it a structured call."""
    if reply.tool_calls or reply.invalid_tool_calls:
        return reply
    calls = parse_text_calls(str(reply.content), tool_names)
    return reply.model_copy(update={"tool_calls": calls, "content": ""}) if calls else reply


def call_signature(message: BaseMessage | None) -> list[tuple[str, str]]:
    if not isinstance(message, AIMessage):
        return []
    sig = [(c["name"], json.dumps(c["args"], sort_keys=True, default=str)) for c in message.tool_calls]
    return sig + [(c["name"] or "", str(c["args"])) for c in message.invalid_tool_calls]


def previous_reply(history: Sequence[AnyMessage]) -> AIMessage | None:
    return next((m for m in reversed(history) if isinstance(m, AIMessage)), None)


def decode(
    model: Any,
    prompt: list[BaseMessage],
    *,
    harness: Harness,
    history: Sequence[AnyMessage],
    last_step: bool,
    tool_names: Sequence[str],
    seed: int | None = None,
    first_step: bool = False,
    overview: str = "",
) -> tuple[AIMessage, int]:
    """One reply, with the decoding levers: forced submit on the last step, no list_files first when the
    overview shows everything, tolerant parsing, and a re-decode (sampling) of a call identical to the
    previous one. Returns the reply and the number of model requests it took."""
    kwargs: dict[str, Any] = {}
    if harness.force_submit and last_step:
        kwargs["tool_choice"] = SUBMIT_CHOICE
    elif harness.hide_explore and first_step and overview and shows_everything(overview):
        kwargs["tools"] = explore_free_tools(empty=overview == EMPTY)
    reply = _invoke(model, prompt, kwargs, harness, tool_names)
    requests = 1
    before = call_signature(previous_reply(history))
    if harness.loop_break and before and "tool_choice" not in kwargs:
        for attempt in range(harness.loop_break_tries):
            if call_signature(reply) != before:
                break
            resample = {"temperature": harness.loop_break_temperature, "seed": (seed or 0) * 1000 + len(history) * 10 + attempt}
            resample.update({k: v for k, v in kwargs.items() if k == "tools"})
            reply = _invoke(model, prompt, resample, harness, tool_names)
            requests += 1
    return reply, requests


def explore_free_tools(*, empty: bool = False) -> list[dict[str, Any]]:
    """The tools less list_files (the overview listed everything); in an empty workspace also less
    read_file and edit_file, which can only fail there."""
    hidden = {"list_files", "read_file", "edit_file"} if empty else {"list_files"}
    return [t for t in tool_schemas() if t["function"]["name"] not in hidden]


def _invoke(model: Any, prompt: list[BaseMessage], kwargs: dict[str, Any], harness: Harness, tool_names: Sequence[str]) -> AIMessage:
    reply = model.invoke(prompt, **kwargs) if kwargs else model.invoke(prompt)
    return recover_calls(reply, tool_names) if harness.tolerant_parser else reply


def is_context_overflow(error: Exception) -> bool:
    text = str(error).lower()
    return "context length" in text or "maximum context" in text or "too long" in text or "max_model_len" in text


# ---- copy guard ---------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def example_answers(harness: Harness, cases: Sequence[Any] = ()) -> list[str]:
    """Texts a summary must not be a copy of: the submit summaries the model is shown in examples (the
    primer's and the retrieved cases'), and the tools' descriptions (a 0.5B model submits those too)."""
    answers = []
    for tool in tool_schemas():
        function = tool["function"]
        answers += [function.get("description", "")] + [p.get("description", "") for p in function["parameters"]["properties"].values()]
    turns = primer_turns(harness.primer_file) if harness.primer else []
    for m in [*turns, *case_turns(cases)]:
        if isinstance(m, AIMessage):
            answers += [str(c["args"].get("summary", "")) for c in m.tool_calls if c["name"] == "submit"]
    # Sentences only, unless copy_guard_short: a copied number or name ("42") may be this task's right answer
    # too, so refusing it costs a right answer one more model call (the guard refuses once a turn).
    shortest = 1 if harness.copy_guard_short else 3
    return sorted({a for a in answers if len(a.split()) >= shortest})


def is_copied(summary: str, answers: Sequence[str]) -> bool:
    return bool(summary.strip()) and _norm(summary) in {_norm(a) for a in answers}


def copies_an_error(summary: str, messages: Sequence[BaseMessage]) -> bool:
    """Whether the summary (three words or more) repeats, word for word, part of an error a tool answered
    in these messages (the 0.5B submits "run got unknown argument(s): output" as its answer)."""
    text = _norm(summary)
    if len(text.split()) < 3:
        return False
    errors = [_norm(str(m.content)) for m in messages if isinstance(m, ToolMessage) and m.status == "error"]
    return any(text in error or text.removeprefix("error: ") in error for error in errors)


# ---- unknown arguments ----------------------------------------------------------------------------------
def drop_unknown_args(name: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The call's arguments that its tool takes, and a note naming the ones left out ("" when none). An
    unknown tool is left alone (the sandbox answers it)."""
    schema = next((t["function"]["parameters"] for t in tool_schemas() if t["function"]["name"] == name), None)
    if schema is None or not isinstance(args, dict):
        return args, ""
    unknown = sorted(set(args) - set(schema.get("properties", {})))
    if not unknown:
        return args, ""
    kept = {key: value for key, value in args.items() if key not in unknown}
    return kept, f"[note: {name} takes no argument(s) {', '.join(unknown)}; ran without them]"


# ---- submit gate ---------------------------------------------------------------------------------------
GATE_NOTE = "[not submitted yet: the workspace's tests fail. Fix the code (or the tests, if the task asks for them), then submit again.]"


def gate_submit(env: Any) -> str | None:
    """The test run's failure output when the workspace has test files that fail; None otherwise."""
    listing = env.execute("list_files", {"path": "."}).content
    if not any(TEST_FILE.search(name) for name in listing.splitlines()):
        return None
    result = env.execute("run", {"command": "python -m pytest -q -x 2>&1 | tail -n 25; exit ${PIPESTATUS[0]}"})
    code = re.match(r"exit code: (\d+)", result.content)
    # pytest: 0 all passed, 5 no tests collected; anything else (failures, errors, a timeout) gates.
    if code is not None and int(code.group(1)) in (0, 5):
        return None
    return f"{abbreviate(result.content, 1500)}\n{GATE_NOTE}"


# ---- output gate ---------------------------------------------------------------------------------------
# A file name as requests write it: an optional folder path, a stem, one of the usual extensions.
FILE_NAME = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.(?:py|md|json|jsonl|csv|tsv|txt|ya?ml|toml|ini|cfg|sh|html|xml|sql|log))(?![\w/-]|\.\w)")
OUTPUT_NOTE = "[not submitted yet: the task asks for {names}, not in the workspace yet. Write {it} with write_file, then submit.]"


def _exists(env: Any, name: str) -> bool:
    """Whether the workspace holds this file (through the sandbox's own read, so its path rules apply; a
    listing would be cut at its entry limit in a big workspace)."""
    return bool(env.execute("read_file", {"path": name}).ok)


def named_outputs(request: str, env: Any) -> list[str]:
    """The files the request names that are not in the workspace: what the turn is to create."""
    names = dict.fromkeys(m.group(1).removeprefix("./") for m in FILE_NAME.finditer(request))
    return [name for name in names if not _exists(env, name)]


def gate_outputs(env: Any, outputs: Sequence[str]) -> str | None:
    """A note naming the outputs still missing; None when every one exists (or there are none)."""
    missing = [name for name in outputs if not _exists(env, name)]
    return OUTPUT_NOTE.format(names=" and ".join(missing), it="it" if len(missing) == 1 else "them") if missing else None
