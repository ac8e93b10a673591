"""`casebank ablate --plan`: the pending episodes, the hours at the throughput an earlier run measured (from its
server.jsonl and episodes.jsonl, recorded here by a real run against the scripted server) and the detectable
effect of each comparison, recomputed here; and that the plan itself runs nothing and needs no LLM server."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import seeds
from casebank.llm.scripted import create_app
from casebank.tasks import load_tasks
from lab.ablate.cli import ablate_app
from lab.ablate.grid import AblationGrid
from lab.ablate.records import read_records
from lab.ablate.runner import AblationRun
from serving.testing import serve

N_TASKS = 12


def write_suite(folder: Path) -> Path:
    """12 tasks: 2 the scripted model solves (it writes the word), 10 it fails (it submits at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = [{"id": f"w-{w}", "family": "general", "instruction": f"Write the word {w} into {w}.txt.",
              "check": f"assert open('{w}.txt').read().strip() == '{w}'\n"} for w in ("alpha", "beta")]
    tasks += [{"id": f"tidy-{i:02d}", "family": "general", "instruction": f"Tidy folder {i}.", "check": f"assert False, 'folder {i} is not tidy'\n"}
              for i in range(N_TASKS - 2)]  # fmt: skip
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


def write_grid(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "baseline": "a", "repeats": 1,
        "configs": [{"name": "a", "strategy": "none", "k": 0}, {"name": "b", "strategy": "none", "k": 0, "harness": {"primer": False}}],
    }))  # fmt: skip
    return path


def dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on: --plan must not need a server
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def mde_by_bisection(n: int, p0: float) -> float | None:
    """Connor's (1987) McNemar sample size, independent outcomes (psi = p0 q1 + p1 q0), 80% power, alpha 0.05
    two-sided, solved for the smallest increase by bisection."""
    from scipy.stats import norm

    def needed(delta: float) -> float:
        p1 = p0 + delta
        psi = p0 * (1 - p1) + p1 * (1 - p0)
        return (norm.ppf(0.975) * psi**0.5 + norm.ppf(0.8) * (p0 * (1 - p0) + p1 * (1 - p1)) ** 0.5) ** 2 / delta**2

    low, high = 1e-12, 1 - p0
    if needed(high) > n:
        return None
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (low, mid) if needed(mid) <= n else (mid, high)
    return high


def plan(tmp_path: Path, *extra: str) -> str:
    suite, grid = write_suite(tmp_path / "suite"), write_grid(tmp_path / "grid.yaml")
    result = CliRunner().invoke(ablate_app, ["-c", str(grid), "--tasks", str(suite), "--seeds", str(seeds.FIXTURE_FILE),
                                             "--llm-url", dead_url(), "--out", str(tmp_path / "new"), "--plan", *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "new").exists()  # nothing ran, nothing was written
    return result.output


def test_plan_without_earlier_runs_prints_the_episodes_and_the_mde_at_the_assumed_rate(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    output = plan(tmp_path, "--plan-runs", str(tmp_path / "nothing"))
    assert f"plan: {2 * N_TASKS} episodes to run ({2 * N_TASKS} in the grid, 0 already recorded)" in output
    assert "throughput: none measured" in output and "no time estimate" in output and "expected:" not in output
    assert "baseline rate: 10.0% (assumed" in output
    mde = mde_by_bisection(N_TASKS, 0.10)
    assert mde is not None
    assert f"b vs a: MDE {100 * mde:.1f} pp  underpowered (> 10 pp)" in output
    assert f"n = {N_TASKS} tasks" in output
    # the flag sets the assumed rate
    output = plan(tmp_path, "--plan-runs", str(tmp_path / "nothing"), "--plan-baseline-rate", "0.0")
    assert "baseline rate: 0.0% (--plan-baseline-rate)" in output
    assert f"b vs a: MDE {100 * mde_by_bisection(N_TASKS, 0.0):.1f} pp" in output  # type: ignore[operator]


def test_plan_takes_throughput_and_baseline_rate_from_an_earlier_run(tmp_path: Path) -> None:
    # an earlier run of the same grid on 5 of the 12 tasks (w-alpha and 4 that fail), against the scripted server
    tasks = load_tasks(write_suite(tmp_path / "suite"))
    earlier = [t for t in tasks if t.id in ("w-alpha", "tidy-00", "tidy-01", "tidy-02", "tidy-03")]
    grid = AblationGrid.load(write_grid(tmp_path / "grid.yaml"))
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=0.05)) as url:
        AblationRun(grid=grid, tasks=earlier, run_dir=tmp_path / "results" / "earlier", llm_url=f"{url}/v1",
                    seed_file=seeds.FIXTURE_FILE, concurrency=4).run()  # fmt: skip
    run_dir = tmp_path / "results" / "earlier"
    records = read_records(run_dir)
    assert len(records) == 10 and {r.status for r in records} <= {"success", "failure"}

    output = plan(tmp_path, "--plan-runs", str(tmp_path / "results"), "--concurrency", "4")
    # throughput: that run's episodes over its one invocation (server.jsonl), read here without the code under test
    (segment,) = [s for s in map(json.loads, (run_dir / "server.jsonl").read_text().splitlines()) if "finished" in s]
    outcomes = [e for e in map(json.loads, (run_dir / "episodes.jsonl").read_text().splitlines()) if e["status"] != "error"]
    per_hour = len(outcomes) / ((segment["finished"] - segment["started"]) / 3600)
    flat = re.sub(r"\s+", " ", output)
    assert f"throughput: {per_hour:.1f} episodes/h, last measured in {run_dir} (qwen2.5-coder-0.5b-instruct; 1 invocation(s), 10 episodes" in flat
    hours = 2 * N_TASKS / per_hour
    assert f"expected: {hours:.1f} h ({60 * hours:.0f} min) for the {2 * N_TASKS} pending episodes" in flat
    # the baseline's rate there: config `a` (the same config hash) solved 1 of its 5 tasks
    rate = sum(r.status == "success" for r in records if r.config_name == "a") / 5
    assert rate == pytest.approx(0.2)
    assert f"baseline rate: {100 * rate:.1f}% (a in {run_dir}, the same config, 5 episodes on these tasks)" in flat
    mde = mde_by_bisection(N_TASKS, rate)
    assert mde is not None and f"b vs a: MDE {100 * mde:.1f} pp underpowered (> 10 pp)" in flat
    # resuming into the earlier run dir: its recorded episodes are not pending
    again = CliRunner().invoke(ablate_app, ["-c", str(tmp_path / "grid.yaml"), "--tasks", str(tmp_path / "suite" / "tasks.jsonl"),
                                            "--llm-url", dead_url(), "--out", str(run_dir), "--plan", "--plan-runs", str(tmp_path / "results")])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert f"plan: {2 * N_TASKS - 10} episodes to run ({2 * N_TASKS} in the grid, 10 already recorded)" in again.output
    assert len(read_records(run_dir)) == 10
