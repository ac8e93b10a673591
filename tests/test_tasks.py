"""Task files: YAML and JSONL load and validate; errors name file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casebank.tasks import TaskFileError, load_tasks

GOOD = {"id": "demo-one", "family": "bugfix", "instruction": "Fix it.", "files": {"a.py": "x = 1\n"}, "check": "assert True\n"}


def test_yaml_and_jsonl_load(tmp_path: Path) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "one.yaml").write_text("id: demo-yaml\nfamily: f\ninstruction: do\ncheck: |\n  assert True\n")
    (tmp_path / "suite" / "more.jsonl").write_text(json.dumps(GOOD) + "\n\n" + json.dumps(GOOD | {"id": "demo-two", "split": "seed"}) + "\n")
    tasks = load_tasks(tmp_path / "suite")
    assert [t.id for t in tasks] == ["demo-one", "demo-two", "demo-yaml"]
    assert [t.id for t in load_tasks(tmp_path / "suite", split="seed")] == ["demo-two"]
    assert "check" not in tasks[0].public() and "steps" not in tasks[0].public()


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("id: a-task\nfamily: f\ninstruction: do\ncheck: 'x'\ntimeout_s: soon\n", 5, "timeout_s"),  # wrong type
        ("id: a-task\nfamily: f\ncheck: 'x'\n", 1, "instruction"),  # missing field
        ("id: a-task\nfamily: f\ninstruction: do\ncheck: 'x'\nfiles:\n  ../evil.py: boom\n", 5, "files"),  # escapes the workspace
        ("id: a-task\nfamily: f\ninstruction: do: twice\ncheck: x\n", 3, "<yaml>"),  # bad YAML
        ("id: Bad Id!\nfamily: f\ninstruction: do\ncheck: 'x'\n", 1, "id"),
    ],
)
def test_bad_yaml_names_file_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(text)
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert str(info.value).startswith(f"{path}:{line}: field '{field}'")


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD | {"id": "x2", "steps": [{"tool": 3}]}) + "\n")
    with pytest.raises(TaskFileError, match=r"tasks.jsonl:2: field 'steps.0.tool'"):
        load_tasks(path)
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(TaskFileError, match=r"tasks.jsonl:2: field '<json>'"):
        load_tasks(path)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    (tmp_path / "b.jsonl").write_text(json.dumps(GOOD) + "\n")
    with pytest.raises(TaskFileError, match="duplicate task id 'demo-one'"):
        load_tasks(tmp_path)
