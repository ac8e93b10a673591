"""Text the bank cannot store (lone surrogates, NUL characters) is refused by one rule wherever a case
comes in, and a batch is written whole or not at all, across the bank and the quarantine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from casebank.bank import CaseBank
from casebank.casefile import case_from_limi, field_of
from casebank.models import Case, Outcome
from conftest import REPO, make_case

# The payload, as `POST /v1/cases` received it: JSON's "\udc00" escape decodes to a lone surrogate.
PAYLOAD = '{"task":"x","messages":[{"role":"user","content":"x"}],"outcome":{"success":true,"verified_by":"checker"},"family":"f\\udc00"}'
BASE: dict[str, Any] = json.loads(PAYLOAD) | {"family": "f"}
CALL = {"id": "c1", "type": "function", "function": {"name": "run", "arguments": {"command": "ls"}}}


def _with_call(arguments: Any) -> dict[str, Any]:
    call = CALL | {"function": {"name": "run", "arguments": arguments}}
    return BASE | {"messages": [BASE["messages"][0], {"role": "assistant", "content": None, "tool_calls": [call]}]}


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (json.loads(PAYLOAD), "family"),
        (BASE | {"tags": ["ok", "b\udc00d"]}, "tags.1"),
        (BASE | {"outcome": {"success": False, "detail": "\ud800"}}, "outcome.detail"),
        (BASE | {"metadata": {"run": {"notes": ["fine", "nul\x00"]}}}, "metadata.run.notes.1"),
        (BASE | {"metadata": {"k\udfff": 1}}, "metadata.k\\udfff"),
        (BASE | {"model": "qwen\x00"}, "model"),
        (BASE | {"task": "fix \udc80 it"}, "task"),
        (BASE | {"messages": [{"role": "user", "content": "a\x00b"}]}, "messages.0.content"),
        (BASE | {"messages": [{"role": "user", "content": "x", "reasoning_content": "\udc00"}]}, "messages.0.reasoning_content"),
        (_with_call({"command": "echo \udc00"}), "messages.1.tool_calls.0.function.arguments.command"),
        (_with_call('{"command": "echo \\udc00"}'), "messages.1.tool_calls.0.function.arguments.command"),
        (BASE | {"metadata": {"a": json.loads("[" * 100 + "]" * 100)}}, "metadata.a" + ".0" * 62),
    ],
)
def test_every_string_field_of_a_case_is_checked_by_one_rule(record: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Case.model_validate(record)
    found, problem = field_of(info.value)
    assert found == field
    assert ("lone surrogate" in problem or "NUL" in problem or "nested deeper" in problem), problem


def test_an_unknown_limi_key_is_checked_and_named_as_in_the_file() -> None:
    with pytest.raises(ValidationError) as info:
        case_from_limi({"messages": [{"role": "user", "content": "x"}], "source_dataset": "limi\udc00"})
    assert field_of(info.value) == ("metadata.source_dataset", "text contains a lone surrogate U+DC00 (not valid Unicode) at index 4")


def test_check_text_accepts_all_real_text_and_names_the_bad_character() -> None:
    from casebank.models import TextError, check_text

    text = json.loads('"emoji \\ud83d\\ude00, accents é, CJK 漢字, tab\\t"')  # a JSON surrogate *pair* is one character
    assert check_text(text) == text
    with pytest.raises(TextError, match=r"field 'query': text contains a NUL character at index 3"):
        check_text("abc\x00", "query")
    with pytest.raises(ValueError, match=r"lone surrogate U\+DC00 \(not valid Unicode\) at index 1"):
        check_text("f\udc00")


def test_a_bad_case_in_a_batch_is_refused_before_either_collection_is_written(bank: CaseBank) -> None:
    existing = make_case("A case that was already in the bank", family="old")
    bank.upsert([existing])
    valid = make_case("A valid verified success written in the same batch")
    # Validation is skipped by model_copy, the way the API's curated imports and feedback build cases:
    # the bank checks again before writing.
    failed = make_case("A failed case", success=False).model_copy(update={"family": "f\udc00"})
    with pytest.raises(ValueError, match=r"case 1: field 'family': text contains a lone surrogate"):
        bank.upsert([valid, failed])
    assert (bank.count(), bank.count(quarantined=True)) == (1, 0)  # on 087dcb0: the valid case was written
    with pytest.raises(ValueError, match=r"field 'outcome.detail'"):
        bank.write_back(valid.model_copy(update={"outcome": Outcome(success=True, verified_by="feedback", detail="\x00")}))
    assert (bank.count(), bank.count(quarantined=True)) == (1, 0)
    assert bank.all() == [existing]


def test_a_write_failing_midway_is_rolled_back_in_both_collections(bank: CaseBank, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = make_case("A case already in the bank, retrieved before")
    bank.upsert([existing])
    bank.record_usage([existing.id], succeeded=True)
    bank.record_usage([existing.id], succeeded=False)
    new = make_case("A new success in the failing batch")
    failed = make_case("A failed trajectory in the failing batch", success=False)

    collection_type = type(bank.quarantine)
    real_upsert = collection_type.upsert

    def upsert(self: Any, *args: Any, **kwargs: Any) -> Any:  # the disk fills up as the quarantine is written
        if self.name.endswith("_quarantine"):
            raise OSError(28, "No space left on device")
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(collection_type, "upsert", upsert)
    with pytest.raises(OSError, match="No space left"):
        bank.upsert([existing, new, failed])  # re-importing `existing` would reset its counters
    monkeypatch.undo()
    assert (bank.count(), bank.count(quarantined=True)) == (1, 0)  # on 087dcb0: `new` stayed
    assert bank.get(new.id) is None
    kept = bank.get(existing.id)
    assert kept is not None and (kept.usage.retrieved, kept.usage.retrieved_in_success) == (2, 1)
    assert bank.retrieve(existing.task, 1, "dense")[0].case.id == existing.id
    assert bank.upsert([existing, new, failed]) == 2  # and the same batch goes through once the disk is back
    assert (bank.count(), bank.count(quarantined=True)) == (2, 1)


def test_casebank_import_names_file_line_and_field_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = os.environ | {"CASEBANK_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    casebank = str(Path(sys.executable).parent / "casebank")
    existing = make_case("A case imported earlier")
    (tmp_path / "ok.jsonl").write_text(existing.model_dump_json() + "\n")
    subprocess.run([casebank, "import", str(tmp_path / "ok.jsonl")], cwd=REPO, env=env, check=True, capture_output=True, timeout=300)

    valid = make_case("A valid success on the first line").model_dump(mode="json")
    bad = json.loads(PAYLOAD) | {"outcome": {"success": False, "verified_by": "checker"}}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(valid) + "\n" + json.dumps(bad) + "\n")  # json.dumps writes "\udc00" as an escape
    result = subprocess.run([casebank, "import", str(path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert "bad.jsonl:2: field 'family': text contains a lone surrogate U+DC00" in output
    assert "Traceback" not in output
    stats = subprocess.run([casebank, "stats"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=True)
    counts = json.loads(stats.stdout)
    assert (counts["cases"], counts["quarantined"]) == (1, 0)
