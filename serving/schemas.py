"""Request and response bodies. Chat follows OpenAI's chat-completions schema (unknown fields tolerated);
casebank's additions live under one extension key, `casebank`, in requests, responses and chunks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from agent.runner import CONVERSATION_ID
from casebank.bank import WriteBackResult
from casebank.models import Case, Message, Outcome, TextError, ToolSpec, check_value


def conversation_id_field(default: Any = ...) -> Any:
    return Field(default, pattern=CONVERSATION_ID.pattern, max_length=128, description="letters, digits, '.', '_', '-'")


def api_field(dotted: str, under: str = "") -> str:
    """casebank.models' dotted path ("messages.0.content") in the API's notation ("messages[0].content"),
    below the API path `under` when given."""
    out = under
    for part in dotted.split(".") if dotted else []:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


class CheckedBody(BaseModel):
    """A request body whose every string, known field or not, and every key passes casebank's one text
    rule (casebank.models.check_value: no lone surrogate, no NUL, bounded nesting), the rule imports and
    the CLI apply too. A 422 names the bad value's path."""

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        try:
            check_value(data)
        except TextError as e:
            raise PydanticCustomError("invalid_text", "{problem}", {"path": api_field(e.field), "problem": e.problem}) from None
        return data


# ---- chat completions: request -------------------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content or [] if p.type == "text" and p.text)


class CasebankOptions(BaseModel):
    """The request's extension object: which conversation, and per-request agent limits."""

    model_config = ConfigDict(extra="ignore")

    conversation_id: str | None = conversation_id_field(None)
    max_steps: int | None = Field(None, ge=1, description="Model calls this turn; capped by the server.")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(CheckedBody):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, description="Completion tokens per model call; capped by the server.")
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int | None = Field(None, ge=1, le=1, description="Only one choice is supported.")
    user: str | None = None
    casebank: CasebankOptions | None = None


# ---- chat completions: response --------------------------------------------------------------------------
class RetrievedOut(BaseModel):
    id: str
    score: float


class StepOut(BaseModel):
    tool: str
    args: dict[str, Any] | str
    observation: str
    ok: bool
    call_id: str = ""


class CasebankResult(BaseModel):
    """What the agent did this turn."""

    conversation_id: str
    status: Literal["succeeded", "failed", "unverified"]
    outcome: Outcome
    retrieved: list[RetrievedOut]
    steps: list[StepOut]
    trajectory_id: str
    write_back: WriteBackResult | None = None
    model_calls: int
    elapsed_s: float


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None
    casebank: CasebankResult


# ---- feedback --------------------------------------------------------------------------------------------
class FeedbackRequest(CheckedBody):
    conversation_id: str = conversation_id_field()
    success: bool
    note: str | None = Field(None, max_length=4000)
    trajectory_id: str | None = Field(None, max_length=256, description="Refuse if the last turn is not this one.")


class FeedbackResponse(BaseModel):
    conversation_id: str
    trajectory_id: str
    success: bool
    action: Literal["added", "merged", "quarantined", "unchanged"]
    case_id: str


# ---- models ----------------------------------------------------------------------------------------------
class ModelProfileOut(BaseModel):
    served_model: str
    strategy: str
    k: int
    description: str = ""


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "casebank"
    casebank: ModelProfileOut


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ---- cases -----------------------------------------------------------------------------------------------
class CaseIn(Case):
    """A case to add, in casebank format (`id` may be left out: it is derived from the content)."""

    messages: list[Message] = Field(min_length=1)


class LimiRecord(BaseModel):
    """A LIMI record (`?format=limi`): OpenAI `messages` and `tools`; other keys become the case's metadata."""

    model_config = ConfigDict(extra="allow")

    messages: list[Message] = Field(min_length=1)
    tools: list[ToolSpec] = Field(default_factory=list)


def _record(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("a case record is a JSON object")
    return value


# An item of POST /v1/cases. Documented as what it must be (a casebank Case, or a LIMI record), checked
# here only as a JSON object: routes_cases.parse_cases validates it as the `format` says, naming the item.
CaseRecord = Annotated[dict[str, Any], PlainValidator(_record, json_schema_input_type=CaseIn | LimiRecord)]


class CaseHit(BaseModel):
    id: str
    quarantined: bool = False
    score: float | None = None
    rank: int | None = None
    case: Case


class CaseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CaseHit]


class CasesAdded(BaseModel):
    added: int = Field(description="Cases that became retrievable (verified successes).")
    quarantined: int = Field(description="Cases stored in quarantine (failed or unverified).")
    ids: list[str]


class CaseDeleted(BaseModel):
    id: str
    object: Literal["case.deleted"] = "case.deleted"
    deleted: bool = True


# ---- ops -------------------------------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    detail: str = ""


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Check]
