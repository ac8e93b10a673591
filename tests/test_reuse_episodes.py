"""benchmarks/reuse_episodes.py: a grid that shares configs with an earlier run takes its finished episodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.reuse_episodes import reuse
from lab.ablate.grid import AblationConfig, AblationGrid
from lab.ablate.records import EpisodeRecord, append_record, read_records

ROOT = Path(__file__).resolve().parents[1]
NONE = AblationConfig(name="none", strategy="none", k=0)
HYBRID = AblationConfig(name="hybrid-k4", strategy="hybrid", k=4)
DENSE = AblationConfig(name="dense-k4", strategy="dense", k=4)


def _record(config: AblationConfig, task: str, level: int, status: str = "success") -> EpisodeRecord:
    return EpisodeRecord(config_hash=config.content_hash, config_name=config.name, task_id=task, repeat=0, family="general",
                         level=level, split="dev", ood=False, status=status,  # type: ignore[arg-type]
                         failure_mode=None if status == "success" else status, seed=0, model_calls=3)  # type: ignore[arg-type]


def _source(run_dir: Path, harness: str = "abc123") -> None:
    for config in (NONE, HYBRID, DENSE):
        for task, level in (("t1", 1), ("t2", 2), ("t3", 3)):
            append_record(run_dir, _record(config, task, level))
            step = run_dir / "steps" / config.content_hash / f"{task}-r0.json"
            step.parent.mkdir(parents=True, exist_ok=True)
            step.write_text(json.dumps({"task_id": task, "steps": []}))
    append_record(run_dir, _record(HYBRID, "t4", 1, status="error"))
    (run_dir / "server.jsonl").write_text(json.dumps({"started": 1.0, "harness": harness}) + "\n")


def _grid(path: Path, extra: str = "") -> AblationGrid:
    path.write_text("baseline: none\nconfigs:\n  - {name: none, strategy: none, k: 0}\n  - {name: hybrid-k4, strategy: hybrid, k: 4}\n"
                    "  - {name: ft-none, model: casebank-ft, strategy: none, k: 0}\n" + extra)
    return AblationGrid.load(path)


def test_copies_the_grids_configs_with_their_steps_once(tmp_path: Path) -> None:
    src, dst = tmp_path / "ladder", tmp_path / "fourway"
    _source(src)
    grid = _grid(tmp_path / "grid.yaml")
    assert reuse(src, dst, grid, levels=[], splits=[]) == 6  # none and hybrid-k4 on t1..t3; not dense, not the error
    records = read_records(dst)
    assert sorted((r.config_name, r.task_id) for r in records) == sorted((n, t) for n in ("none", "hybrid-k4") for t in ("t1", "t2", "t3"))
    assert all((dst / "steps" / r.config_hash / f"{r.task_id}-r0.json").exists() for r in records)
    assert not (dst / "steps" / DENSE.content_hash).exists()
    assert reuse(src, dst, grid, levels=[], splits=[]) == 0  # a second copy adds nothing
    assert len((dst / "episodes.jsonl").read_text().splitlines()) == 6
    lines = [json.loads(line) for line in (dst / "server.jsonl").read_text().splitlines()]
    assert [(x["harness"], x["episodes"], x["reused_from"]) for x in lines] == [("abc123", 6, str(src))]  # the empty second copy writes no line


def test_levels_and_the_grids_filters_limit_the_copy(tmp_path: Path) -> None:
    src = tmp_path / "ladder"
    _source(src)
    assert reuse(src, tmp_path / "a", _grid(tmp_path / "g1.yaml"), levels=[1, 2], splits=[]) == 4
    assert {r.level for r in read_records(tmp_path / "a")} == {1, 2}
    assert reuse(src, tmp_path / "b", _grid(tmp_path / "g2.yaml", "filters: {level: [3]}\n"), levels=[], splits=[]) == 2
    assert reuse(src, tmp_path / "c", _grid(tmp_path / "g3.yaml"), levels=[], splits=["test"]) == 0


def test_refuses_episodes_of_another_harness(tmp_path: Path) -> None:
    src, dst = tmp_path / "ladder", tmp_path / "fourway"
    _source(src, harness="abc123")
    dst.mkdir()
    (dst / "server.jsonl").write_text(json.dumps({"started": 1.0, "harness": "fff999"}) + "\n")
    with pytest.raises(ValueError, match="fff999"):
        reuse(src, dst, _grid(tmp_path / "grid.yaml"), levels=[], splits=[])
    assert read_records(dst) == []
    # the command line says so in one line, without a traceback
    out = subprocess.run([sys.executable, "benchmarks/reuse_episodes.py", str(src), str(dst), "-c", str(tmp_path / "grid.yaml")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_a_run_recorded_before_a_lever_default_changed_is_still_found(tmp_path: Path) -> None:
    # copy_guard_short is on by default now; the ladder's agent had no such lever (as if off), so its records
    # carry the hashes of configs with it off, and a grid loaded today must still find them.
    src, dst = tmp_path / "ladder", tmp_path / "fourway"
    old_none = AblationConfig(name="none", strategy="none", k=0, harness={"copy_guard_short": False})
    assert old_none.content_hash != NONE.content_hash
    append_record(src, _record(old_none, "t1", 1))
    (src / "server.jsonl").write_text(json.dumps({"started": 1.0, "harness": "abc123"}) + "\n")
    assert reuse(src, dst, _grid(tmp_path / "grid.yaml"), levels=[], splits=[]) == 1
    assert [r.config_hash for r in read_records(dst)] == [old_none.content_hash]
    # a later lever switched on by the grid is another config: the old default's episodes are not its own
    (tmp_path / "grid2.yaml").write_text("configs:\n  - {name: guard, strategy: none, k: 0, harness: {error_guard: true}}\n")
    assert reuse(src, tmp_path / "other", AblationGrid.load(tmp_path / "grid2.yaml"), levels=[], splits=[]) == 0
