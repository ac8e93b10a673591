"""Case files: the LIMI format round-trips without loss; malformed input names file:line:field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casebank.casefile import CaseFileError, load_cases, sft_record, write_cases
from casebank.models import Case
from conftest import make_case

LIMI_RECORDS = [
    {   # arguments as a JSON string, content null on the tool-calling turn, an extra key kept
        "messages": [
            {"role": "system", "content": "You are an agent."},
            {"role": "user", "content": "List the files."},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "run", "arguments": "{\"command\": \"ls\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.py\nb.py"},
            {"role": "assistant", "content": "Two files: a.py and b.py.", "reasoning_content": "easy"},
        ],
        "tools": [{"type": "function", "function": {"name": "run", "description": "Run a command",
                   "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}],
        "source_dataset": "limi-like",
    },
    {   # arguments as a dict, no tools key
        "messages": [
            {"role": "user", "content": "Say hi using the tool."},
            {"role": "assistant", "tool_calls": [
                {"id": "c9", "type": "function", "function": {"name": "echo", "arguments": {"text": "hi", "n": 2}}}]},
            {"role": "tool", "tool_call_id": "c9", "name": "echo", "content": "hi hi"},
        ],
    },
]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_limi_round_trip_is_lossless(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "limi.jsonl", LIMI_RECORDS)
    cases = load_cases(src, "limi")
    assert [c.stats.tool_calls for c in cases] == [1, 1]
    assert cases[0].messages[2].tool_calls[0].function.args() == {"command": "ls"}
    assert cases[1].messages[1].tool_calls[0].function.args() == {"text": "hi", "n": 2}
    out = tmp_path / "out.jsonl"
    write_cases(cases, out, "limi")
    round_tripped = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [dict(r, tools=r.get("tools", [])) for r in LIMI_RECORDS]  # an absent tools list reads as []
    assert round_tripped == expected


def test_limi_json_array_is_accepted(tmp_path: Path) -> None:
    src = tmp_path / "limi.json"
    src.write_text(json.dumps(LIMI_RECORDS, indent=2))
    assert len(load_cases(src, "limi")) == 2


def test_casebank_format_round_trip(tmp_path: Path) -> None:
    cases = [make_case("first task", tags=["a"]), make_case("second task", steps=3)]
    write_cases(cases, tmp_path / "cases.jsonl")
    assert load_cases(tmp_path / "cases.jsonl") == cases


def test_content_hash_is_stable_and_content_sensitive() -> None:
    a, b = make_case("same task"), make_case("same task")
    assert a.id == b.id and a.id.startswith("case-")
    assert make_case("same task", steps=2).id != a.id
    assert Case.model_validate(a.model_dump()).id == a.id


def test_sft_export_has_dict_arguments_and_tools(tmp_path: Path) -> None:
    case = load_cases(write_jsonl(tmp_path / "l.jsonl", LIMI_RECORDS), "limi")[0]
    record = sft_record(case)
    assert record["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"command": "ls"}
    assert record["tools"][0]["function"]["name"] == "run"


@pytest.mark.parametrize(
    ("line", "fmt", "where", "field"),
    [
        ('{"messages": [{"role": "user", "content": "hi"}]', "limi", ":2:", "<json>"),  # bad JSON
        ('{"tools": []}', "limi", ":2:", "messages"),  # missing field
        ('{"messages": [{"role": 5, "content": "hi"}]}', "limi", ":2:", "messages.0.role"),  # wrong type
        ('{"messages": [{"role": "tool", "content": "x"}]}', "limi", ":2:", "messages.0"),  # tool result without call id
        ('{"task": "t", "messages": []}', "casebank", ":2:", "messages"),  # empty trajectory
        ('{"task": "t", "messages": [{"role": "user", "content": "x"}], "outcome": {"success": "maybe"}}', "casebank", ":2:", "outcome.success"),
        # text that cannot be stored: a lone surrogate (a legal JSON escape) or a NUL, in any string
        ('{"task": "t", "messages": [{"role": "user", "content": "x"}], "family": "f\\udc00"}', "casebank", ":2:", "family"),
        ('{"messages": [{"role": "user", "content": "hi"}], "source_dataset": "x\\udc00"}', "limi", ":2:", "source_dataset"),
        ('{"messages": [{"role": "user", "content": "hi\\u0000"}]}', "limi", ":2:", "messages.0.content"),
        ("[" * 100_000 + "]" * 100_000, "casebank", ":2:", "<json>"),  # nested past the parser's recursion limit
    ],
)
def test_malformed_records_name_file_line_and_field(tmp_path: Path, line: str, fmt: str, where: str, field: str) -> None:
    good = json.dumps(LIMI_RECORDS[1]) if fmt == "limi" else make_case("ok").model_dump_json()
    path = tmp_path / "bad.jsonl"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(CaseFileError) as info:
        load_cases(path, fmt)  # type: ignore[arg-type]
    message = str(info.value)
    assert f"bad.jsonl{where}" in message
    assert info.value.field == field and f"'{field}'" in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="no such file"):
        load_cases(tmp_path / "nope.jsonl")


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(make_case("ok").model_dump_json().encode() + b"\n" + '{"task": "caf\u00e9"}'.encode("latin-1") + b"\n")
    with pytest.raises(CaseFileError, match=r"latin1.jsonl:2: field '<file>': not valid UTF-8 \(byte 0xe9\)"):
        load_cases(path)
