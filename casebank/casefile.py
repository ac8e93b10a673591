"""Reading and writing case files: casebank's own JSONL and the LIMI `{messages, tools}` format.

Every record is validated before anything is returned, and an error names file, line and field, so a
batch import either gets all records or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from casebank.errors import BankError
from casebank.models import Case, Outcome, TextError

CaseFormat = Literal["casebank", "limi"]
LIMI_KEYS = ("messages", "tools")


class CaseFileError(BankError, ValueError):
    """A record in a case file is malformed. `location` is `file:line`, `field` the offending path."""

    def __init__(self, path: Path | str, line: int, field: str, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        super().__init__(f"{path}:{line}: field '{field}': {problem}")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise CaseFileError(path, line, "<file>", f"not valid UTF-8 (byte 0x{raw[e.start]:02x})") from None


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) from a JSONL file or a JSON array file."""
    text = _read_text(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise CaseFileError(path, e.lineno, "<json>", e.msg) from None
        except RecursionError:
            raise CaseFileError(path, 1, "<json>", "nested too deeply to parse") from None
        # A JSON array has no line per record; report the line where each item starts.
        starts = _array_item_lines(text, len(items))
        yield from zip(starts, items)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            raise CaseFileError(path, number, "<json>", f"invalid JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise CaseFileError(path, number, "<json>", "nested too deeply to parse") from None


def _array_item_lines(text: str, count: int) -> list[int]:
    decoder = json.JSONDecoder()
    lines, pos = [], text.index("[") + 1
    for _ in range(count):
        while text[pos] in " \t\r\n,":
            pos += 1
        lines.append(text.count("\n", 0, pos) + 1)
        _, pos = decoder.raw_decode(text, pos)
    return lines


def field_of(error: ValidationError) -> tuple[str, str]:
    """The first error's field path (dotted) and message. A TextError raised by a model validator
    carries the path below the model it checked, so that path is appended to pydantic's location."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"]]
    problem = first["msg"]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, TextError):
        loc += [cause.field] if cause.field else []
        problem = cause.problem
    return ".".join(loc) or "<record>", problem


def case_from_limi(record: dict[str, Any]) -> Case:
    """A LIMI record becomes an imported case. Its outcome is unknown: LIMI files carry no verification."""
    if not isinstance(record, dict):
        raise TypeError("record must be a JSON object")
    extra = {k: v for k, v in record.items() if k not in LIMI_KEYS}
    return Case.model_validate(
        {
            "messages": record.get("messages"),
            "tools": record.get("tools", []),
            "outcome": Outcome(success=False, verified_by="none"),
            "source": "import",
            "metadata": extra,
        }
    )


def case_to_limi(case: Case) -> dict[str, Any]:
    """Back to the LIMI shape, exactly as imported (only fields that were set are written)."""
    record: dict[str, Any] = {
        "messages": [m.model_dump(mode="json", exclude_unset=True) for m in case.messages],
        "tools": [t.model_dump(mode="json", exclude_unset=True) for t in case.tools],
    }
    record.update(case.metadata)
    return record


def load_cases(path: Path | str, fmt: CaseFormat = "casebank") -> list[Case]:
    """Parse and validate every record; raise CaseFileError naming file:line:field on the first bad one."""
    path = Path(path)
    if not path.is_file():
        raise CaseFileError(path, 0, "<file>", "no such file")
    cases = []
    for line, record in _records(path):
        try:
            if fmt == "limi":
                if not isinstance(record, dict) or "messages" not in record:
                    raise CaseFileError(path, line, "messages", "Field required")
                cases.append(case_from_limi(record))
            else:
                cases.append(Case.model_validate(record))
        except ValidationError as e:
            field, problem = field_of(e)
            if fmt == "limi" and field.startswith("metadata."):
                field = field.removeprefix("metadata.")  # a LIMI file's own top-level key
            raise CaseFileError(path, line, field, problem) from None
        except TypeError as e:
            raise CaseFileError(path, line, "<record>", str(e)) from None
    return cases


def fixed_subset(cases: Iterable[Case], n: int | None, seed: int = 0) -> list[Case]:
    """A fixed random subset of `n` cases (all when n is None): sorted by id, shuffled with `seed`, the first n.
    The same (n, seed) picks the same cases for a fine-tuning run and an ablation's bank, and smaller subsets
    are nested in larger ones (10 within 20 within 40)."""
    import random

    cases = sorted(cases, key=lambda c: c.id)
    if n is None:
        return cases
    random.Random(seed).shuffle(cases)
    return cases[:n]


def dump_case(case: Case) -> dict[str, Any]:
    return case.model_dump(mode="json")


def write_cases(cases: Iterable[Case], path: Path | str, fmt: CaseFormat = "casebank") -> int:
    """Write JSONL atomically (temp file + rename), so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for case in cases:
            record = case_to_limi(case) if fmt == "limi" else dump_case(case)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def sft_record(case: Case) -> dict[str, Any]:
    """A chat-with-tools record as TRL's SFTTrainer takes it: arguments as dicts, tool schemas alongside."""
    messages = []
    for m in case.messages:
        msg: dict[str, Any] = {"role": m.role, "content": m.content or ""}
        if m.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.args()}}
                for c in m.tool_calls
            ]
        if m.tool_call_id:
            msg["tool_call_id"] = m.tool_call_id
        if m.role == "tool" and m.name:
            msg["name"] = m.name
        messages.append(msg)
    return {"messages": messages, "tools": [t.model_dump(mode="json", exclude_none=True) for t in case.tools]}


