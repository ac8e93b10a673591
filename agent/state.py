"""The one typed state of an episode, and what a new turn resets.

Messages are LangChain messages under the `add_messages` reducer (what LangGraph checkpoints natively);
`agent.trajectory` converts them to OpenAI-format `casebank.models.Message`s for the Case. The system
prompt is not in `messages`: `act` builds it per call from the system template and `cases_prompt`.
Every other field is plain last-value-wins data, reset at the start of each turn by `new_turn`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph.message import add_messages

from casebank.bank import WriteBackResult
from casebank.models import Case, Outcome
from casebank.tasks import Task


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]  # the conversation, all turns, no system message
    conversation_id: str  # = the checkpoint thread id
    task: Task | None  # set for a task episode (it has a checker); None for chat
    workspace: str  # the episode's workspace folder
    retrieved: list[tuple[str, float]]  # (case id, score), best first
    cases_prompt: str  # the retrieved cases, rendered; goes into the system message
    case_messages: list[AnyMessage]  # or the retrieved cases as earlier chat turns (harness.case_format)
    overview: str  # the workspace's files, shown with this turn's user message (harness.workspace_context)
    turn_start: int  # index in `messages` of this turn's user message
    gated: bool  # the submit gate has shown a test failure this turn
    outputs: list[str]  # files this turn's request names that did not exist when it began (harness.output_gate)
    output_gated: bool  # the output gate has refused a submit this turn
    example_answers: list[str]  # submit summaries shown in examples (harness.copy_guard)
    copy_guarded: bool  # the copy guard has refused a submit this turn
    prompt_tokens: int  # this turn's prompt tokens, as the server counted them
    completion_tokens: int
    steps: int  # model calls this turn
    tokens: int  # tokens this turn: summed usage of responses (approximated when a server reports none)
    started_at: float  # time.time() when the turn began
    timeout_s: float  # wall-clock limit of the turn
    nudged: bool  # a reply without a tool call has been nudged this turn
    submitted: str | None  # the submit summary: the answer
    outcome: Outcome | None  # set once the turn is decided
    trajectory: Case | None  # the turn's trajectory as a Case, built at write-back
    write_back: WriteBackResult | None


# Types a checkpoint holds beyond LangChain messages; the saver's deserializer allows exactly these.
CHECKPOINT_TYPES: tuple[type, ...] = (Task, Outcome, Case, WriteBackResult)


def new_turn(
    conversation_id: str,
    user_message: str,
    *,
    workspace: str,
    timeout_s: float,
    task: Task | None = None,
) -> dict[str, Any]:
    """The graph input for one turn: the user's message plus every per-turn field reset."""
    return {
        "messages": [HumanMessage(user_message)],
        "conversation_id": conversation_id,
        "task": task,
        "workspace": workspace,
        "retrieved": [],
        "cases_prompt": "",
        "case_messages": [],
        "overview": "",
        "gated": False,
        "outputs": [],
        "output_gated": False,
        "example_answers": [],
        "copy_guarded": False,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "steps": 0,
        "tokens": 0,
        "started_at": time.time(),
        "timeout_s": timeout_s,
        "nudged": False,
        "submitted": None,
        "outcome": None,
        "trajectory": None,
        "write_back": None,
    }
