"""The casebank CLI end to end: seed, search, stats, import/export; bad files change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casebank.casefile import load_cases
from cli import app
from seeds import FIXTURE_FILE

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def invoke(*args: str) -> str:
    """The command's output with whitespace collapsed: rich wraps lines at the terminal width."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_seed_then_search_prints_ranked_cases(data_dir: Path) -> None:
    out = invoke("seed", "--from", str(FIXTURE_FILE))
    assert "6 cases" in out and "6 retrievable" in out
    table = invoke("search", "average accuracy per run in a CSV", "-k", "3", "--strategy", "hybrid")
    assert "3 cases" in table and "analysis" in table
    rows = json.loads(invoke("search", "fix the KeyError timestamp crash in the log parser", "-k", "2", "--strategy", "bm25", "--json"))
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["family"] == "debug-traceback"
    assert rows[0]["score"] >= rows[1]["score"]
    stats = json.loads(invoke("stats"))
    assert stats["cases"] == 6 and stats["quarantined"] == 0


def test_malformed_import_names_the_line_and_writes_nothing(data_dir: Path, tmp_path: Path) -> None:
    invoke("seed", "--from", str(FIXTURE_FILE))
    lines = FIXTURE_FILE.read_text().splitlines()
    bad = json.loads(lines[2])
    bad["messages"][0]["role"] = "robot"
    new_cases = [json.loads(line) | {"task": f"brand new task {i}", "id": ""} for i, line in enumerate(lines[:2])]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(new_cases[0]), json.dumps(new_cases[1]), json.dumps(bad)]) + "\n")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2
    assert "mixed.jsonl:3: field 'messages.0.role'" in " ".join(result.output.split())
    assert json.loads(invoke("stats"))["cases"] == 6  # the two good records were not written either


def test_export_import_round_trip_and_sft(data_dir: Path, tmp_path: Path) -> None:
    invoke("seed", "--from", str(FIXTURE_FILE))
    invoke("export", "--out", str(tmp_path / "all.jsonl"))
    assert sorted(c.id for c in load_cases(tmp_path / "all.jsonl")) == sorted(c.id for c in load_cases(FIXTURE_FILE))
    invoke("export", "--format", "limi", "--out", str(tmp_path / "limi.jsonl"))
    invoke("export", "--format", "sft-jsonl", "--out", str(tmp_path / "sft.jsonl"))
    sft = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == 6 and all(r["tools"] and r["messages"][0]["role"] == "user" for r in sft)
    # A LIMI file imported without --curated is unverified: quarantined, not retrievable.
    invoke("seed", "--reset", "--from", str(FIXTURE_FILE))
    out = invoke("import", str(tmp_path / "limi.jsonl"), "--format", "limi")
    assert "0 retrievable, 6 quarantined" in out
    out = invoke("import", str(tmp_path / "limi.jsonl"), "--format", "limi", "--curated")
    assert "6 retrievable" in out


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "casebank"
    env = {**os.environ, "CASEBANK_DATA_DIR": str(tmp_path)}
    out = subprocess.run([str(exe), "seed", "--from", str(FIXTURE_FILE)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([str(exe), "search", "verbose flag", "-k", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "cli-feature" in out.stdout
