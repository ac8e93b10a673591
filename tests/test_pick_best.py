"""benchmarks/pick_best.py: the best in-context config is picked on dev only, ties go to the default, and
the grids that use it are pointed at it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.pick_best import dev_successes, main, pick
from lab.ablate.grid import AblationConfig, AblationGrid
from lab.ablate.records import EpisodeRecord, append_record, read_records

HYBRID = AblationConfig(name="hybrid-k4", strategy="hybrid", k=4)
BM25 = AblationConfig(name="bm25-k4", strategy="bm25", k=4)


def _record(config: AblationConfig, task: str, split: str, status: str) -> EpisodeRecord:
    return EpisodeRecord(config_hash=config.content_hash, config_name=config.name, task_id=task, repeat=0, family="general",
                         level=1, split=split, ood=False, status=status,  # type: ignore[arg-type]
                         failure_mode=None if status == "success" else "repeated_call", seed=0, model_calls=3)  # type: ignore[arg-type]


def _run(run_dir: Path, outcomes: dict[tuple[str, str], dict[str, str]]) -> None:
    """outcomes[(task, split)][config name] = status."""
    configs = {c.name: c for c in (HYBRID, BM25)}
    for (task, split), by_config in outcomes.items():
        for name, status in by_config.items():
            append_record(run_dir, _record(configs[name], task, split, status))
    (run_dir / "configs.json").write_text(json.dumps({c.content_hash: {"name": c.name, "config": c.model_dump()} for c in configs.values()}))


def test_the_pick_counts_dev_only_and_a_tie_goes_to_the_first_named(tmp_path: Path) -> None:
    # bm25 wins 2-1 on dev; on test hybrid wins 2-0, which must not count.
    _run(tmp_path, {("a", "dev"): {"hybrid-k4": "success", "bm25-k4": "success"},
                    ("b", "dev"): {"hybrid-k4": "failure", "bm25-k4": "success"},
                    ("c", "test"): {"hybrid-k4": "success", "bm25-k4": "failure"},
                    ("d", "test"): {"hybrid-k4": "success", "bm25-k4": "failure"}})  # fmt: skip
    counts = dev_successes(read_records(tmp_path), ["hybrid-k4", "bm25-k4"])
    assert counts == {"hybrid-k4": (1, 2), "bm25-k4": (2, 2)}
    assert pick(counts) == "bm25-k4"
    assert pick({"hybrid-k4": (1, 2), "bm25-k4": (1, 2)}) == "hybrid-k4"
    assert pick({"bm25-k4": (1, 2), "hybrid-k4": (1, 2)}) == "bm25-k4"


def test_candidates_that_ran_different_dev_episodes_are_refused(tmp_path: Path) -> None:
    _run(tmp_path, {("a", "dev"): {"hybrid-k4": "success", "bm25-k4": "success"}, ("b", "dev"): {"hybrid-k4": "failure"}})
    with pytest.raises(ValueError, match="did not finish the same dev episodes"):
        dev_successes(read_records(tmp_path), ["hybrid-k4", "bm25-k4"])
    # An infrastructure error is not a finished episode either.
    append_record(tmp_path, _record(BM25, "b", "dev", "error"))
    with pytest.raises(ValueError):
        dev_successes(read_records(tmp_path), ["hybrid-k4", "bm25-k4"])


def test_rewrite_points_a_grid_at_the_pick_and_keeps_its_comments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, {("a", "dev"): {"hybrid-k4": "failure", "bm25-k4": "success"}})
    grid = tmp_path / "fourway.yaml"
    grid.write_text("# the four-way table\nbaseline: none\nconfigs:\n  - {name: none, strategy: none, k: 0}\n"
                    "  - {name: hybrid-k4, strategy: hybrid, k: 4}\n  - {name: ft-hybrid-k4, model: casebank-ft, strategy: hybrid, k: 4}\n")
    assert main([str(tmp_path), "--candidate", "hybrid-k4", "--candidate", "bm25-k4", "--rewrite", str(grid)]) == 0
    assert "* bm25-k4: 1/1 on dev" in capsys.readouterr().out
    text = grid.read_text()
    assert text.startswith("# the four-way table\n") and "hybrid" not in text
    configs = {c.name: c for c in AblationGrid.load(grid).expand()}
    assert set(configs) == {"none", "bm25-k4", "ft-bm25-k4"}
    assert configs["bm25-k4"].content_hash == BM25.content_hash  # the episodes the run already has
    assert (configs["ft-bm25-k4"].strategy, configs["ft-bm25-k4"].model) == ("bm25", "casebank-ft")
