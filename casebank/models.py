"""The Case: one verified (or quarantined) agent trajectory, in OpenAI chat format, used end to end."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from casebank.errors import BankError

Role = Literal["system", "user", "assistant", "tool"]
Source = Literal["seed", "writeback", "import", "pool"]
VerifiedBy = Literal["checker", "feedback", "seed", "none"]

# One rule for every string that enters casebank, whether it comes from a chat, an import, the CLI or a
# write-back. A lone surrogate (JSON allows "\\udc00", and argv decoding makes them from stray bytes)
# cannot be encoded as UTF-8, so Chroma's metadata, the JSON export and every answer fail on it, far
# from where it came in; a NUL truncates strings in the C layers below. Nesting is bounded because
# pydantic's serialiser and Chroma give up a few hundred levels down.
MAX_DEPTH = 64
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")

# The validation context of the bank's own records on read (`Case.model_validate_json(..., context=STORED)`):
# their text was checked when they were written, so reading skips the scan of every string (`check_value`,
# most of a dense query's time at 100k cases), while the id is still checked against the content, which
# catches a record changed behind the bank's back.
STORED = {"stored": True}


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


class TextError(BankError, ValueError):
    """A string in a case cannot be stored. `field` is its dotted path ('' for a bare string); `index`
    the position of the case in a batch, when a batch was being written."""

    def __init__(self, field: str, problem: str, index: int | None = None):
        self.field, self.problem, self.index = field, problem, index
        where = f"field '{field}': " if field else ""
        super().__init__(f"case {index}: {where}{problem}" if index is not None else f"{where}{problem}")


def check_text(text: str, field: str = "") -> str:
    """`text` unchanged, or TextError (a ValueError) naming the first lone surrogate or NUL character."""
    bad = _BAD_CHAR.search(text)
    if bad is None:
        return text
    char = bad.group()
    what = "a NUL character" if char == "\x00" else f"a lone surrogate U+{ord(char):04X} (not valid Unicode)"
    raise TextError(field, f"text contains {what} at index {bad.start()}")


def _printable(key: str) -> str:
    """A key as it may appear in an error message: bad characters escaped, never printed raw."""
    return _BAD_CHAR.sub(lambda m: f"\\u{ord(m.group()):04x}", key)


def check_value(value: Any, field: str = "") -> None:
    """Apply `check_text` to every string in a value: models (their extra keys too), dict keys and
    values, list items, to any depth up to MAX_DEPTH. Iterative, so a deep value cannot overflow the
    stack; the first bad string in document order is reported with its dotted path."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path)
            continue
        children: list[tuple[Any, Any]]
        if isinstance(item, BaseModel):
            children = [(name, getattr(item, name)) for name in type(item).model_fields]
            children += list((item.__pydantic_extra__ or {}).items())
        elif isinstance(item, dict):
            children = list(item.items())
        elif isinstance(item, list | tuple):
            children = list(enumerate(item))
        else:
            continue
        if depth >= MAX_DEPTH and children:
            raise TextError(path, f"nested deeper than {MAX_DEPTH} levels")
        for key, child in reversed(children):
            name = _printable(key) if isinstance(key, str) else str(key)
            where = f"{path}.{name}" if path else name
            stack.append((child, where, depth + 1))
            if isinstance(key, str):
                stack.append((key, where, depth + 1))  # the key itself, checked just before its value


class FunctionCall(BaseModel):
    # Extra keys survive so a LIMI file round-trips without loss.
    model_config = ConfigDict(extra="allow")

    name: str
    # LIMI files carry either a dict or a JSON string; we keep what we were given (lossless) and
    # parse on demand with `args()`.
    arguments: dict[str, Any] | str = Field(default_factory=dict)

    @model_validator(mode="after")
    def _json_arguments_are_text(self, info: ValidationInfo) -> FunctionCall:
        # Arguments kept as a JSON string are parsed on export; escapes inside it must decode to text too.
        if isinstance(self.arguments, str) and not _stored(info):
            try:
                parsed = json.loads(self.arguments)
            except (ValueError, RecursionError):
                return self  # not JSON: kept as given, checked as a plain string
            check_value(parsed, "arguments")
        return self

    def args(self) -> dict[str, Any]:
        """The arguments as a dict. Raises ValueError when they are not a JSON object."""
        if isinstance(self.arguments, dict):
            return self.arguments
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("tool call arguments must be a JSON object")
        return value

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _tool_result_has_call_id(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs tool_call_id")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        return self


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSpec(BaseModel):
    """An OpenAI function-tool schema."""

    model_config = ConfigDict(extra="allow")

    type: Literal["function"] = "function"
    function: ToolFunction


class Outcome(BaseModel):
    success: bool
    verified_by: VerifiedBy = "none"
    detail: str = ""

    @property
    def verified_success(self) -> bool:
        return self.success and self.verified_by != "none"


class CaseStats(BaseModel):
    steps: int = 0
    tool_calls: int = 0
    approx_tokens: int = 0


class Usage(BaseModel):
    retrieved: int = 0
    retrieved_in_success: int = 0


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate: about 4 characters per token for English text and code."""
    return (len(text) + 3) // 4


class Case(BaseModel):
    id: str = Field("", description="Content hash of task, messages and tools; derived when omitted.")
    task: str = ""
    family: str = "general"
    tags: list[str] = Field(default_factory=list)
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=lambda: Outcome(success=False))
    source: Source = "import"
    model: str | None = None
    task_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    stats: CaseStats = Field(default_factory=CaseStats)
    usage: Usage = Field(default_factory=Usage)
    merged_from: list[str] = Field(default_factory=list)
    # Top-level keys of an imported record that casebank does not model, kept for lossless export.
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, messages: list[Message]) -> list[Message]:
        if not messages:
            raise ValueError("a case needs at least one message")
        return messages

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: list[str]) -> list[str]:
        for i, tag in enumerate(tags):  # before sorting, so an error names the position as given
            check_text(tag, str(i))
        return sorted({t.strip() for t in tags if t.strip()})

    @model_validator(mode="after")
    def _derive(self, info: ValidationInfo) -> Case:
        if not _stored(info):  # a stored record was checked when it was written (STORED)
            check_value(self)  # before hashing: the hash encodes the text as UTF-8
        if not self.task:
            self.task = next((m.content or "" for m in self.messages if m.role == "user"), "")
        if not self.task.strip():
            raise ValueError("a case needs a task text (or a user message)")
        if not _stored(info):  # stored stats were derived from this content when it was written
            self.stats = self.compute_stats()
        # The id *is* the content: writes are idempotent and caches keyed by id can never be stale.
        expected = self.content_hash()
        if self.id and self.id != expected:
            raise ValueError(f"id {self.id!r} does not match the case's content (expected {expected!r}; omit id to derive it)")
        self.id = expected
        return self

    def content_hash(self) -> str:
        """Stable id: a hash of what the case *is* (task, trajectory, tools), not of when or how it was stored."""
        payload = {
            "task": self.task,
            "messages": [m.model_dump(mode="json", exclude_none=True) for m in self.messages],
            "tools": [t.model_dump(mode="json", exclude_none=True) for t in self.tools],
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "case-" + hashlib.sha256(blob.encode()).hexdigest()[:16]

    def compute_stats(self) -> CaseStats:
        calls = [c for m in self.messages for c in (m.tool_calls or [])]
        text = "".join((m.content or "") for m in self.messages) + "".join(
            c.function.name + c.function.arguments_json() for c in calls
        )
        return CaseStats(
            steps=sum(1 for m in self.messages if m.role == "assistant"),
            tool_calls=len(calls),
            approx_tokens=approx_tokens(text),
        )

    def tool_call_names(self) -> list[str]:
        return [c.function.name for m in self.messages for c in (m.tool_calls or [])]
