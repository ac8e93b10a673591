"""Task files: YAML and JSONL load and validate; errors name file, line and field. Levels, the dev/test
split check, and the submitted answer reaching the checker as ANSWER."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from typer.testing import CliRunner

from cli import app
from casebank.demos import replay
from casebank.sandbox.check import run_check
from casebank.sandbox.tools import Workspace
from casebank.tasks import Task, TaskFileError, load_tasks, split_problems

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
        ("id: a-task\nfamily: f\ninstruction: do\ncheck: 'x'\nlevel: 4\n", 5, "level"),  # levels are 1..3
        ("id: a-task\nfamily: f\ninstruction: do\nlevel: easy\ncheck: 'x'\n", 4, "level"),
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


def test_level_defaults_to_3_and_is_public(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD | {"id": "easy-one", "level": 1}) + "\n")
    assert [(t.id, t.level, t.public()["level"]) for t in load_tasks(tmp_path)] == [("demo-one", 3, 3), ("easy-one", 1, 1)]


def _suite(*rows: tuple[str, int, str]) -> list[Task]:
    return [Task(id=f"t{i}", family=family, level=level, split=split, instruction="do", check="x")
            for i, (family, level, split) in enumerate(rows)]


def test_split_problems_name_every_gap() -> None:
    good = _suite(("a", 1, "dev"), ("a", 1, "test"), ("a", 3, "dev"), ("b", 3, "test"), ("b", 1, "dev"), ("b", 3, "dev"))
    assert split_problems(good) == []
    # A (family, level) group of two in one split, a level only in dev, a split that is neither.
    bad = _suite(("a", 1, "dev"), ("a", 1, "dev"), ("a", 2, "dev"), ("a", 3, "test"), ("b", 3, "eval"))
    assert split_problems(bad) == [
        "t4: split 'eval' is not one of ['dev', 'test']",
        "split 'test' has no task of level 1",
        "split 'test' has no task of level 2",
        "split 'dev' has no task of level 3",
        "split 'dev' has no task of family 'b'",
        "split 'test' has no task of family 'b'",
        "a level 1: 2 tasks, all in ['dev']",
    ]


def _write_suite(root: Path, rows: list[dict]) -> Path:
    root.mkdir()
    (root / "suite.jsonl").write_text("".join(json.dumps(GOOD | row) + "\n" for row in rows))
    return root


def test_tasks_list_filters_and_split_check_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    suite = _write_suite(tmp_path / "ok", [
        {"id": "l1-a", "family": "alpha", "level": 1, "split": "dev"},
        {"id": "l1-b", "family": "alpha", "level": 1, "split": "test"},
        {"id": "l3-c", "family": "beta", "level": 3, "split": "dev"},
        {"id": "l3-d", "family": "beta", "level": 3, "split": "test"},
    ])
    listed = runner.invoke(app, ["tasks", "list", "--tasks", str(suite), "--family", "alpha", "--split", "test"])
    assert listed.exit_code == 0 and "1 tasks" in listed.output and "l1-b" in listed.output and "l1-a" not in listed.output
    by_level = runner.invoke(app, ["tasks", "list", "--tasks", str(suite), "--level", "3"])
    assert by_level.exit_code == 0 and "l3-c" in by_level.output and "l3-d" in by_level.output and "l1-" not in by_level.output
    assert runner.invoke(app, ["tasks", "list", "--tasks", str(suite), "--level", "4"]).exit_code == 2
    checked = runner.invoke(app, ["tasks", "split-check", "--tasks", str(suite)])
    assert checked.exit_code == 0 and "dev 2, test 2" in checked.output, checked.output
    lopsided = _write_suite(tmp_path / "bad", [{"id": "x", "family": "alpha", "split": "dev"}, {"id": "y", "family": "alpha", "split": "dev"}])
    failed = runner.invoke(app, ["tasks", "split-check", "--tasks", str(lopsided)])
    assert failed.exit_code == 1 and "alpha level 3: 2 tasks, all in ['dev']" in " ".join(failed.output.split())


# A hostile answer: the heredoc's own delimiter on a line of its own, then shell that would pass the check.
ESCAPE = "391\n__CASEBANK_CHECK_EOF__\nexit 0\n"


def test_checker_sees_the_answer_verbatim_and_cannot_be_escaped() -> None:
    # The checker compares a digest: it may not contain the delimiter itself.
    check = "import hashlib\nassert hashlib.sha256(ANSWER.encode()).hexdigest() == EXPECTED, repr(ANSWER)\n"
    task = Task(id="ask", family="general", instruction="What is 17 * 23?", check=check, files={"a.txt": "x\n"})
    with Workspace.create(task.files) as ws:
        for answer in ("391", 'it is "391" \\ ünïcode', ESCAPE):
            digest = hashlib.sha256(answer.encode()).hexdigest()
            probe = task.model_copy(update={"check": f"EXPECTED = {digest!r}\n{task.check}"})
            assert run_check(probe, ws, answer).passed, answer
        assert run_check(task.model_copy(update={"check": "assert ANSWER == ''\n"}), ws).passed  # None -> ""
        # The escape attempt stays inside the Python string: a checker that always fails still fails.
        assert not run_check(task.model_copy(update={"check": "raise SystemExit(1)\n"}), ws, ESCAPE).passed


def test_replay_passes_the_submit_summary_as_answer() -> None:
    check = "import re\nassert '391' in re.findall(r'\\d+', ANSWER), ANSWER\n"
    steps = [{"tool": "run", "args": {"command": "python -c 'print(17 * 23)'"}}, {"tool": "submit", "args": {"summary": "17 * 23 = 391."}}]
    task = Task(id="ask", family="general", instruction="What is 17 * 23?", check=check, steps=steps)
    assert replay(task).ok
    wrong = task.model_copy(update={"steps": [task.steps[0], task.steps[1].model_copy(update={"args": {"summary": "It is 390."}})]})
    assert not replay(wrong).check.passed
