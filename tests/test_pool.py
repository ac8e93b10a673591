"""The pool builder (lab.pool.build, issue 30) on a small N: every case a verified replay, balanced round-robin,
leaks of the eval tasks dropped (a planted twin and a planted near-twin), duplicates and unverifiable tasks
dropped, the same bytes twice, and the same bytes after an interruption that left a torn tail behind.

Real generators, real sandbox, real embedder. Three families at level 1 keep it fast; the plants come through
build_pool's `generate` and `evals` arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import seeds
from casebank.casefile import load_cases
from casebank.embedding import Embedder
from casebank.leakage import LEAKAGE_THRESHOLD
from casebank.tasks import Task, load_tasks
from lab.generators import generate_task, task_id
from lab.generators.validate import validate
from lab.pool.build import MANIFEST, POOL_FILE, POOL_SEEDS, PoolError, PoolManifest, build_pool, eval_tasks

FAMILIES = ["bugfix", "general", "shell-files"]
S = POOL_SEEDS.start
N = 12
BROKEN = ("general", 1, S + 1)  # its checker never passes: unverified
DUPLICATE = ("shell-files", 1, S + 1)  # the same task as shell-files S: a duplicate
TWIN_OF = ("bugfix", 1, S + 1)  # an eval task has its content: a twin
NEAR_OF = ("general", 1, S + 2)  # an eval task has its instruction, reworded: a near-twin


def planted(family: str, level: int, seed: int) -> Task:
    if (family, level, seed) == BROKEN:
        task = generate_task(family, level, seed)
        return task.model_copy(update={"check": "import sys\nsys.exit('planted: this checker never passes')\n"})
    if (family, level, seed) == DUPLICATE:
        return generate_task(family, level, S).model_copy(update={"id": task_id(family, level, seed)})
    return generate_task(family, level, seed)


def planted_evals() -> list[Task]:
    ladder = load_tasks(seeds.EVAL_DIR)
    twin = generate_task(*TWIN_OF).model_copy(update={"id": "l1-planted-twin", "split": "test"})
    near_text = generate_task(*NEAR_OF).instruction.rstrip() + " Thanks!"
    near = ladder[0].model_copy(update={"id": "l1-planted-near", "instruction": near_text})
    return [*ladder[1:4], twin, near]


def build(out: Path, n: int = N, **kw) -> PoolManifest:  # noqa: ANN003
    return build_pool(out, n, families=FAMILIES, levels=[1], chunk=4, jobs=2, evals=planted_evals(), generate=planted, **kw)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PoolManifest]:
    out = tmp_path_factory.mktemp("pool") / "a"
    return out, build(out)


def test_every_case_is_a_verified_replay_in_round_robin_order(pool: tuple[Path, PoolManifest]) -> None:
    out, manifest = pool
    cases = load_cases(out / POOL_FILE)
    assert manifest.cases == len(cases) == N and manifest.bytes == (out / POOL_FILE).stat().st_size
    assert [c.metadata["provenance"]["generator"] for c in cases] == FAMILIES * (N // len(FAMILIES))
    for case in cases:
        prov = case.metadata["provenance"]
        assert case.source == "pool" and prov["source"] == "pool"
        assert case.outcome.success and case.outcome.verified_by == "checker"
        task = generate_task(prov["generator"], prov["level"], prov["seed"])
        assert case.task_id == prov["task_id"] == task.id and case.task == task.instruction
        assert [m.role for m in case.messages][:2] == ["system", "user"] and case.stats.tool_calls >= 1
    # the observations are real: replaying the first case's task again gives the same trajectory
    again = validate(generate_task("bugfix", 1, cases[0].metadata["provenance"]["seed"]))
    assert again.ok and again.replayed.case.id == cases[0].id


def test_planted_leaks_duplicates_and_broken_tasks_are_dropped(pool: tuple[Path, PoolManifest]) -> None:
    out, manifest = pool
    kept = {c.task_id for c in load_cases(out / POOL_FILE)}
    drops = {d.task: d for d in manifest.drops}
    assert drops[task_id(*TWIN_OF)].kind == "twin" and "l1-planted-twin" in drops[task_id(*TWIN_OF)].reason
    assert drops[task_id(*NEAR_OF)].kind == "near" and "l1-planted-near" in drops[task_id(*NEAR_OF)].reason
    assert drops[task_id(*BROKEN)].kind == "unverified" and "never passes" in drops[task_id(*BROKEN)].reason
    assert manifest.dropped["duplicate"] >= 1 and task_id(*DUPLICATE) not in kept
    assert not {task_id(*TWIN_OF), task_id(*NEAR_OF), task_id(*BROKEN)} & kept
    assert manifest.dropped["twin"] == 1 and sum(manifest.dropped.values()) == len(manifest.drops) + manifest.dropped["duplicate"]
    # no kept case is near an eval task
    embedder = Embedder()
    evals = embedder.embed([t.instruction for t in planted_evals()])
    tasks = embedder.embed([c.task for c in load_cases(out / POOL_FILE)])
    assert float((tasks @ evals.T).max()) < LEAKAGE_THRESHOLD
    assert manifest.nearest is not None and manifest.nearest.cosine < LEAKAGE_THRESHOLD


def test_same_bytes_again_and_after_an_interruption(pool: tuple[Path, PoolManifest], tmp_path: Path) -> None:
    out, _ = pool
    b = tmp_path / "b"

    def stop_at_6(cases: int, dropped: int) -> None:
        if cases == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(b, on_progress=stop_at_6)
    written = PoolManifest.model_validate_json((b / MANIFEST).read_text())
    assert written.cases == 4  # the first chunk; the second was in flight
    head = (b / POOL_FILE).read_bytes()
    assert head and (out / POOL_FILE).read_bytes().startswith(head)  # a smaller pool is the larger one's start
    with (b / POOL_FILE).open("ab") as f:  # what a kill in the middle of an append leaves
        f.write(b'{"id": "case-torn", "task": "half a li')
    (b / "chunk.jsonl").write_text("left over\n")
    with pytest.raises(PoolError, match="more than --n 3"):
        build(b, n=3)
    with pytest.raises(PoolError, match="other parameters \\(threshold\\)"):
        build(b, threshold=0.9)
    resumed = build(b)
    assert (b / POOL_FILE).read_bytes() == (out / POOL_FILE).read_bytes()
    assert (b / MANIFEST).read_text() == (out / MANIFEST).read_text()
    assert resumed.cases == N


def test_the_pool_seeds_a_real_bank(pool: tuple[Path, PoolManifest], tmp_path: Path) -> None:
    from casebank.bank import CaseBank
    from casebank.config import Settings

    cases = load_cases(pool[0] / POOL_FILE)
    bank = CaseBank(Settings(data_dir=tmp_path))
    assert bank.upsert(cases) == N and bank.count() == N and bank.count(quarantined=True) == 0
    stored = bank.get(cases[0].id)
    assert stored is not None and stored.source == "pool" and stored.metadata == cases[0].metadata


def test_a_group_that_runs_out_leaves_the_round_robin(tmp_path: Path) -> None:
    def general_repeats(family: str, level: int, seed: int) -> Task:
        return generate_task(family, level, S if family == "general" else seed).model_copy(
            update={"id": task_id(family, level, seed)})

    manifest = build_pool(tmp_path / "p", 5, families=["bugfix", "general"], levels=[1], patience=3, evals=[],
                          generate=general_repeats)
    cases = load_cases(tmp_path / "p" / POOL_FILE)
    assert [c.metadata["provenance"]["generator"] for c in cases] == ["bugfix", "general", "bugfix", "bugfix", "bugfix"]
    assert manifest.exhausted == {"general:1": 1} and manifest.dropped == {"duplicate": 3}


def test_the_default_eval_tasks_are_both_ladders() -> None:
    stems = [p.stem for d in (seeds.GENERATED_DIR, seeds.EVAL_DIR) for p in sorted(d.rglob("*.yaml"))]  # one task a file
    tasks = eval_tasks()
    assert sorted(t.id for t in tasks) == sorted(stems) and {t.split for t in tasks} == {"dev", "test"}
    assert any(t.id.startswith("g-") for t in tasks) and any(t.id.startswith("l1-") for t in tasks)


def test_cli_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    from cli import app

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine\n")
    evals = tmp_path / "evals"
    evals.mkdir()
    runner = CliRunner()
    for args, message in (
        (["--seed-start", "5", "--out", str(tmp_path / "x")], "--seed-start 5 is outside the pool seed range"),
        (["--family", "nope", "--out", str(tmp_path / "x")], "no generator for family nope"),
        (["--out", str(tmp_path / "other")], "is not empty and has no manifest.json"),
    ):
        res = runner.invoke(app, ["pool", "build", "--n", "2", "--eval", str(evals), *args])
        assert res.exit_code == 2, res.output
        assert message in res.output and res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine\n"
