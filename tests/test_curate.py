"""`casebank curate` (lab.curate, issue 30): each method on a small fixed pool picks a selection one can check by
hand, the same seed writes the same bytes, and bad input is one line on stderr with exit code 2.

The pool is seven hand-written cases in five topics; `diverse` embeds them with the real embedder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import seeds
from casebank.casefile import fixed_subset, load_cases, write_cases
from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall, Usage
from cli import app
from lab.curate.methods import METHODS, describe

runner = CliRunner()

# name: (family, level (0: no provenance), task, observations of its run calls)
POOL = {
    "parser-a": ("bugfix", 1, "Fix the off-by-one bug in parser.py so the tests pass.", ["exit code: 0\nok"]),
    "parser-b": ("bugfix", 1, "Fix the off-by-one error in parser.py so that the tests pass.",
                 ["exit code: 1\nFAILED", "exit code: 0\nok"]),
    "cache": ("bugfix", 2, "Repair the crash in cache.py when a key is missing.",
              ["exit code: 1\nKeyError", "error: no such file: cash.py", "exit code: 0\nok"]),
    "haiku": ("report", 1, "Write a haiku about winter into poem.txt.", []),
    "revenue-a": ("report", 2, "Compute the total revenue in sales.csv and print it.", ["exit code: 2\nbad", "exit code: 0\n42"]),
    "revenue-b": ("report", 2, "Compute the total of the revenue column in sales.csv and print it.",
                  ["exit code: 0\n40", "exit code: 0\n41", "exit code: 0\n42", "exit code: 0\n42"]),
    "histogram": ("general", 0, "Plot a histogram of the ages in ages.csv into ages.png.", ["exit code: 0\n"]),
}
TOPICS = {"parser-a": "parser", "parser-b": "parser", "cache": "cache", "haiku": "haiku", "revenue-a": "revenue",
          "revenue-b": "revenue", "histogram": "histogram"}


def _case(name: str) -> Case:
    family, level, task, observations = POOL[name]
    messages = [Message(role="user", content=task)]
    for i, text in enumerate([*observations, "submitted"], start=1):
        tool = "run" if i <= len(observations) else "submit"
        call = ToolCall(id=f"call_{i}", function=FunctionCall(name=tool, arguments={"command": f"step {i}"}))
        messages += [Message(role="assistant", content=f"step {i}", tool_calls=[call]),
                     Message(role="tool", tool_call_id=call.id, name=tool, content=text)]
    provenance = {"provenance": {"source": "pool", "generator": family, "level": level, "name": name}} if level else {"name": name}
    return Case(task=task, family=family, messages=messages, source="pool" if level else "writeback",
                outcome=Outcome(success=True, verified_by="checker"), metadata=provenance,
                created_at=datetime(2026, 1, 1, tzinfo=UTC))


def _name(case: Case) -> str:
    return case.metadata.get("provenance", case.metadata)["name"]


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    folder = tmp_path / "pool"
    write_cases([_case(name) for name in POOL], folder / "pool.jsonl")
    return folder


def curate(tmp_path: Path, *args: str, out: str = "seeds.jsonl") -> tuple[list[str], bytes]:
    res = runner.invoke(app, ["curate", "--out", str(tmp_path / out), *args])
    assert res.exit_code == 0, res.output
    return [_name(c) for c in load_cases(tmp_path / out)], (tmp_path / out).read_bytes()


def test_coverage_takes_one_case_of_each_family_and_level_per_round(pool: Path, tmp_path: Path) -> None:
    names, _ = curate(tmp_path, "--from", str(pool), "--method", "coverage", "--n", "6")
    groups = [(POOL[n][0], POOL[n][1]) for n in names]
    assert groups == [("bugfix", 1), ("bugfix", 2), ("general", 0), ("report", 1), ("report", 2), ("bugfix", 1)]
    assert {names[0], names[5]} == {"parser-a", "parser-b"}  # the second round: the other case of bugfix 1


def test_hard_ranks_recoveries_then_steps(pool: Path, tmp_path: Path) -> None:
    for seed in ("0", "7"):
        names, _ = curate(tmp_path, "--from", str(pool), "--method", "hard", "--n", "4", "--seed", seed)
        # cache: 2 recoveries; parser-b and revenue-a: 1 each, both in 3 steps (the seed orders them);
        # revenue-b: none, but the most steps (5) of the rest
        assert names[0] == "cache" and set(names[1:3]) == {"parser-b", "revenue-a"} and names[3] == "revenue-b"


def test_diverse_covers_every_topic_before_a_second_of_one(pool: Path, tmp_path: Path) -> None:
    for seed in ("0", "1", "2"):
        names, _ = curate(tmp_path, "--from", str(pool), "--method", "diverse", "--n", "5", "--seed", seed)
        assert sorted(TOPICS[n] for n in names) == ["cache", "haiku", "histogram", "parser", "revenue"], names


def test_utility_ranks_by_successful_retrievals(pool: Path, tmp_path: Path) -> None:
    counters = {"haiku": Usage(retrieved=5, retrieved_in_success=4), "revenue-b": Usage(retrieved=3, retrieved_in_success=3),
                "parser-a": Usage(retrieved=2, retrieved_in_success=0)}
    export = [_case(n).model_copy(update={"usage": counters.get(n, Usage())}) for n in POOL]
    write_cases(export, tmp_path / "export.jsonl")
    names, _ = curate(tmp_path, "--from", str(pool), "--method", "utility", "--n", "7", "--usage", str(tmp_path / "export.jsonl"))
    assert names[:2] == ["haiku", "revenue-b"] and names[-1] == "parser-a"  # retrieved only into failures: last
    own, _ = curate(tmp_path, "--from", str(tmp_path / "export.jsonl"), "--method", "utility", "--n", "2", out="own.jsonl")
    assert own == ["haiku", "revenue-b"]  # an online run's export is a pool with its own counters


def test_random_is_a_nested_fixed_subset(pool: Path, tmp_path: Path) -> None:
    three, _ = curate(tmp_path, "--from", str(pool), "--method", "random", "--n", "3", "--seed", "5")
    two, _ = curate(tmp_path, "--from", str(pool), "--method", "random", "--n", "2", "--seed", "5", out="two.jsonl")
    assert two == three[:2] and len(set(three)) == 3
    assert three == [_name(c) for c in fixed_subset([_case(n) for n in POOL], 3, 5)]


def test_human_is_the_bundled_seeds_as_they_are(tmp_path: Path) -> None:
    names = runner.invoke(app, ["curate", "--method", "human", "--n", str(seeds.SEED_COUNT), "--out", str(tmp_path / "h.jsonl")])
    assert names.exit_code == 0, names.output
    assert (tmp_path / "h.jsonl").read_bytes() == seeds.SEEDS_FILE.read_bytes()
    res = runner.invoke(app, ["curate", "--method", "human", "--n", "10", "--seed", "3", "--out", str(tmp_path / "h10.jsonl")])
    assert res.exit_code == 0, res.output
    assert [c.id for c in load_cases(tmp_path / "h10.jsonl")] == [c.id for c in fixed_subset(load_cases(seeds.SEEDS_FILE), 10, 3)]


@pytest.mark.parametrize("method", [m for m in METHODS if m != "human"])
def test_every_method_is_deterministic_by_seed(method: str, pool: Path, tmp_path: Path) -> None:
    args = ["--from", str(pool), "--method", method, "--n", "4", "--seed", "11"]
    if method == "utility":
        export = [_case(n).model_copy(update={"usage": Usage(retrieved=i, retrieved_in_success=i % 2)}) for i, n in enumerate(POOL)]
        write_cases(export, tmp_path / "export.jsonl")
        args += ["--usage", str(tmp_path / "export.jsonl")]
    first, a = curate(tmp_path, *args, out="a.jsonl")
    _, b = curate(tmp_path, *args, out="b.jsonl")
    assert a == b and len(first) == 4 and set(first) <= set(POOL)
    assert describe(method) and describe(method).endswith(".")  # documented in one sentence


@pytest.mark.parametrize(("args", "message"), [
    (["--n", "8"], "the pool has 7 cases, fewer than --n 8"),
    (["--method", "best"], "unknown method 'best'; methods: random, coverage, diverse, hard, utility, human"),
    (["--method", "utility", "--n", "3"], "method utility needs usage counters"),
    (["--n", "0"], "--n must be at least 1"),
    (["--method", "human", "--n", "3"], "method human takes the bundled seeds"),
    (["--usage", "nowhere.jsonl", "--method", "utility", "--n", "3"], "nowhere.jsonl: no such file"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, pool: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["curate", "--from", str(pool), "--out", str(tmp_path / "x.jsonl"), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    assert not (tmp_path / "x.jsonl").exists()


def test_a_missing_pool_says_how_to_build_one(tmp_path: Path) -> None:
    res = runner.invoke(app, ["curate", "--from", str(tmp_path / "nopool"), "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "no such file (build one with `casebank pool build`)" in res.output, res.output
    assert res.output.strip().count("\n") == 0
