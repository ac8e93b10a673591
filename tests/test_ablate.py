"""`casebank ablate`: grid expansion, concurrency, resume after a kill, error-vs-failure accounting and
online isolation, against a real (scripted) OpenAI-compatible server over HTTP, the real agent, sandbox
and checkers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from lab.ablate.grid import AblationConfig, AblationGrid
from lab.ablate.records import read_records
from lab.ablate.runner import AblationRun, LLMUnavailable, failure_mode
from casebank.llm.scripted import create_app
from casebank.tasks import TaskFileError, load_tasks
from serving.testing import serve

import seeds

ROOT = Path(__file__).resolve().parents[1]


def write_tasks(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tasks = [
        {"id": "w-alpha", "family": "general", "instruction": "Write the word alpha into a.txt.", "check": "assert open('a.txt').read().strip() == 'alpha'\n"},
        {"id": "w-beta", "family": "bugfix", "instruction": "Write the word beta into b.txt.", "check": "assert open('b.txt').read().strip() == 'beta'\n"},
        {"id": "idle", "family": "general", "instruction": "Tidy the workspace.", "check": "import os\nassert os.path.exists('tidy.txt')\n"},
        {"id": "broken-llm", "family": "general", "instruction": "[server-error] Write the word x into x.txt.", "check": "assert False\n"},
    ]
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


# ---- the grid ------------------------------------------------------------------------------------------
def test_grid_file_configs_axes_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({
        "baseline": "none", "repeats": 2,
        "defaults": {"temperature": 0.0, "harness": {"primer": False}},
        "configs": [{"name": "none", "strategy": "none", "k": 0}, {"name": "dense", "strategy": "dense", "k": 2}],
    }))  # fmt: skip
    grid = AblationGrid.load(path)
    configs = grid.expand()
    assert [c.name for c in configs] == ["none", "dense"]
    assert all(c.harness.primer is False for c in configs)
    # axes: the product over every explicit config; `none` collapses to one (k=0) config
    crossed = grid.with_axes(k=[2, 4], strategy=None).model_copy(update={"baseline": None}).expand()
    assert sorted((c.strategy, c.k) for c in crossed) == [("dense", 2), ("dense", 4), ("none", 0)]
    # identity is content: a renamed config has the same hash, a changed lever another
    a = AblationConfig(name="x", strategy="dense", k=2)
    assert a.content_hash == AblationConfig(name="y", strategy="dense", k=2).content_hash
    assert a.content_hash != AblationConfig(strategy="dense", k=2, harness={"primer": False}).content_hash
    flags = AblationGrid().with_axes(strategy=["bm25", "mmr"], k=[1]).expand()
    assert [c.name for c in flags] == ["bm25-k1", "mmr-k1"]
    # --only: a half of the grid (the same hashes), checked against the names; the baseline need not be in it
    half = grid.model_copy(update={"only": ["dense"]}).expand()
    assert [(c.name, c.content_hash) for c in half] == [(c.name, c.content_hash) for c in configs if c.name == "dense"]
    with pytest.raises(ValueError, match="--only ft: not a config of the grid"):
        grid.model_copy(update={"only": ["ft"]}).expand()


def test_a_lever_added_later_keeps_the_hashes_of_recorded_runs() -> None:
    """A config's hash covers its settings; a lever added after a run was recorded must not orphan the run's
    episodes while it behaves as before it existed (the hash is the one computed before the lever existed)."""
    import hashlib

    from lab.ablate.grid import ADDED_LATER

    config = AblationConfig(name="x", strategy="hybrid", k=4, harness=ADDED_LATER)
    data = config.model_dump(mode="json", exclude={"name"})
    for key in ADDED_LATER:
        del data["harness"][key]
    before = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    assert config.content_hash == before
    assert AblationConfig(name="x", strategy="hybrid", k=4, harness={"error_guard": True}).content_hash != before
    assert AblationConfig(name="x", strategy="hybrid", k=4, harness={**ADDED_LATER, "copy_guard": False}).content_hash != before
    # copy_guard_short is on by default since: the default config no longer hashes as the runs recorded before it
    assert AblationConfig(name="x", strategy="hybrid", k=4).content_hash != before


def test_bad_grid_file_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("repeats: 1\nconfigs:\n  - {strategy: telepathy}\n")
    with pytest.raises(TaskFileError, match=r"grid.yaml:3: field 'configs.0.strategy'"):
        AblationGrid.load(path)
    path.write_text("baseline: nope\nconfigs:\n  - {strategy: none}\n")
    with pytest.raises(ValueError, match="baseline 'nope'"):
        AblationGrid.load(path)


def test_failure_modes() -> None:
    from agent.trajectory import StepRecord

    same = [StepRecord(tool="list_files", args={}, observation="a")] * 3
    assert failure_mode("step limit: 12 model calls", same, submitted=False) == "repeated_call"
    assert failure_mode("model request rejected: context overflow at 100 tokens", [], submitted=False) == "context_overflow"
    assert failure_mode("AssertionError", [StepRecord(tool="write_file", args={}, observation="ok")], submitted=True) == "submitted_check_failed"
    assert failure_mode("step limit: 12", [StepRecord(tool="read_file", args={}, observation="x")], submitted=False) == "never_changed_file"
    assert failure_mode("step limit: 12", [StepRecord(tool="write_file", args={}, observation="x")], submitted=False) == "step_limit"


def test_jobs_are_task_major_and_cheap_levels_first(tmp_path: Path) -> None:
    from casebank.tasks import Task

    tasks = [Task(id=f"t{n}", family="general", instruction="x", check="pass\n", level=level) for n, level in enumerate([3, 1, 2, 1])]
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}, {"name": "b", "strategy": "bm25", "k": 2}])
    run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path, llm_url="http://127.0.0.1:9/v1", seed_file=seeds.FIXTURE_FILE)
    order = [(j.task.id, j.config.name) for j in run.jobs()]
    assert order == [("t1", "a"), ("t1", "b"), ("t3", "a"), ("t3", "b"), ("t2", "a"), ("t2", "b"), ("t0", "a"), ("t0", "b")]


# ---- runs against a scripted server -----------------------------------------------------------------------
def test_concurrent_run_accounts_errors_apart_and_resumes(tmp_path: Path) -> None:
    tasks = load_tasks(write_tasks(tmp_path / "suite"))
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}, {"name": "b", "strategy": "none", "k": 0, "harness": {"primer": False}}])
    app = create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=0.3)
    with serve(app) as url:
        run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE,
                          concurrency=4, max_attempts=2)  # fmt: skip
        first = run.run()
        stats = httpx.get(f"{url}/stats").json()
        assert stats["max_in_flight"] >= 2  # episodes overlapped at the server
        records = read_records(tmp_path / "run")
        assert len(records) == len(first) == 8
        by = {(r.config_name, r.task_id): r for r in records}
        for name in ("a", "b"):
            assert by[(name, "w-alpha")].status == "success" and by[(name, "w-beta")].status == "success"
            assert by[(name, "idle")].status == "failure" and by[(name, "idle")].failure_mode == "submitted_check_failed"
            err = by[(name, "broken-llm")]
            assert err.status == "error" and err.failure_mode == "error" and err.attempts == 2 and "500" in (err.error or "")
        assert by[("a", "w-alpha")].prompt_tokens > 0 and by[("a", "w-alpha")].model_calls == 3
        # a rerun does only what is not finished: the two `error` episodes
        before = stats["requests"]
        again = run.run()
        assert sorted(r.task_id for r in again) == ["broken-llm", "broken-llm"]
        assert len(read_records(tmp_path / "run")) == 8
        assert httpx.get(f"{url}/stats").json()["requests"] > before


def test_an_agent_that_raises_fails_its_episode_and_the_grid_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A harness defect (an exception that is not the server's) must not end a grid of hours: that episode is a
    # failure (`agent_crash`, traceback kept, not retried), the other episodes run, and the report counts it.
    from agent.runner import Agent
    from lab.ablate.metrics import failure_modes
    from lab.ablate.runner import step_file

    real = Agent.run_task
    calls: list[str] = []

    def run_task(self, task, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(task.id)
        if task.id == "idle":
            raise ValueError("harness bug on an odd reply")
        return real(self, task, *args, **kwargs)

    monkeypatch.setattr(Agent, "run_task", run_task)
    tasks = [t for t in load_tasks(write_tasks(tmp_path / "suite")) if t.id in ("w-alpha", "idle", "w-beta")]
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}])
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=0.05)) as url:
        run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE,
                          concurrency=2, max_attempts=3)  # fmt: skip
        run.run()
    by = {r.task_id: r for r in read_records(tmp_path / "run")}
    assert set(by) == {"w-alpha", "idle", "w-beta"}
    crash = by["idle"]
    assert crash.status == "failure" and crash.failure_mode == "agent_crash" and crash.attempts == 1, crash
    assert "ValueError: harness bug on an odd reply" in crash.detail and "Traceback" in crash.detail
    assert calls.count("idle") == 1  # not retried: it would raise again
    assert by["w-alpha"].status == by["w-beta"].status == "success"
    assert json.loads(step_file(tmp_path / "run", crash).read_text())["failure_mode"] == "agent_crash"
    assert failure_modes(by.values())["agent_crash"] == 1


def test_a_404_mid_run_stops_the_run_instead_of_failing_every_episode(tmp_path: Path) -> None:
    # Not a harness defect: a wrong model, key or URL would fail every episode, so the run stops and says why.
    from casebank.tasks import Task

    tasks = [Task(id="lost", family="general", instruction="[not-found] Write the word x into x.txt.", check="assert False\n")]
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}])
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct")) as url:
        run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE, max_attempts=3)
        with pytest.raises(LLMUnavailable, match="NotFoundError"):
            run.run()
        assert httpx.get(f"{url}/stats").json()["requests"] == 1  # not retried
    assert read_records(tmp_path / "run") == []  # nothing recorded: the same command reruns it once set up right


def test_a_slow_model_call_within_the_request_timeout_is_no_error(tmp_path: Path) -> None:
    # A long completion on a busy CPU server is slow, not broken: the per-call timeout is a net for a stuck
    # server (default 1800 s), and a call that outlasts it is an infrastructure error, never a task failure.
    tasks = [t for t in load_tasks(write_tasks(tmp_path / "suite")) if t.id == "w-alpha"]
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}])
    assert AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "d", llm_url="http://x/v1", seed_file=seeds.FIXTURE_FILE).request_timeout_s == 1800
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=1.5)) as url:
        short = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "short", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE,
                            max_attempts=1, request_timeout_s=0.5)  # fmt: skip
        assert short.agent_config(grid.expand()[0], 0).request_timeout_s == 0.5
        (timed_out,) = short.run()
        assert timed_out.status == "error" and "timed out" in (timed_out.error or "").lower()
        ample = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "ample", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE,
                            max_attempts=1, request_timeout_s=30)  # fmt: skip
        (done,) = ample.run()
        assert done.status == "success" and done.model_calls == 3


def test_episodes_spread_over_several_servers_and_a_dead_one_costs_no_episode(tmp_path: Path) -> None:
    import socket

    tasks = [t for t in load_tasks(write_tasks(tmp_path / "suite")) if t.id.startswith("w-")]
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}], repeats=4)
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=0.1)) as one, serve(create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=0.1)) as two:
        run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{one}/v1,{two}/v1", seed_file=seeds.FIXTURE_FILE, concurrency=4)
        run.run()
        records = read_records(tmp_path / "run")
        assert len(records) == 8 and all(r.status == "success" for r in records)
        served = [httpx.get(f"{url}/stats").json()["requests"] for url in (one, two)]
        assert min(served) >= 6, served  # both took episodes (3 calls each)
        # a refused server is skipped: its episode is retried on the live one, never an error
        with pytest.raises(LLMUnavailable):  # the start checks every server
            AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run2", llm_url=f"{dead},{one}/v1", seed_file=seeds.FIXTURE_FILE).run()
        flaky = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run3", llm_url=f"{dead},{one}/v1", seed_file=seeds.FIXTURE_FILE,
                            concurrency=2, max_attempts=2)  # fmt: skip
        flaky.run_dir.mkdir(parents=True)
        flaky.prepare = lambda: None  # type: ignore[method-assign]  # as if the server died after the start check
        flaky.run()
        recs = read_records(tmp_path / "run3")
        assert len(recs) == 8 and all(r.status == "success" for r in recs), [(r.status, r.error) for r in recs]
        assert any(r.attempts == 2 for r in recs)  # some episode met the dead server first
        assert flaky.pool.snapshot()[0].failures >= 1


def test_a_server_gone_for_good_stops_the_run_which_resumes_when_it_is_back(tmp_path: Path) -> None:
    import socket

    tasks = [t for t in load_tasks(write_tasks(tmp_path / "suite")) if t.id == "w-alpha"]
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}], repeats=12)
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=dead, seed_file=seeds.FIXTURE_FILE,
                      concurrency=2, max_attempts=1, stop_after_errors=3)  # fmt: skip
    run.run_dir.mkdir(parents=True)
    run.prepare = lambda: None  # type: ignore[method-assign]  # as if the server died after the start check
    with pytest.raises(LLMUnavailable, match="3 episodes in a row"):
        run.run()
    errors = read_records(tmp_path / "run")
    # the breaker stopped the queue: the 3 errors and at most the one episode still in flight, not all 12
    assert 3 <= len(errors) <= 4 and all(r.status == "error" for r in errors), [(r.status, r.error) for r in errors]
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct", delay_s=0.05)) as url:
        back = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE,
                           concurrency=2, max_attempts=1, stop_after_errors=3)  # fmt: skip
        done = back.run()
    assert len(done) == 12 and all(r.status == "success" for r in done)


def test_online_runs_write_to_their_own_bank_in_a_fixed_order(tmp_path: Path) -> None:
    tasks = [t for t in load_tasks(write_tasks(tmp_path / "suite")) if t.id != "broken-llm"]
    grid = AblationGrid(seed=3, configs=[{"name": "off", "strategy": "dense", "k": 1}, {"name": "on", "strategy": "dense", "k": 1, "write_back": "online"}])
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct")) as url:
        run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE, concurrency=2)
        run.run()
    records = read_records(tmp_path / "run")
    online = sorted((r for r in records if r.config_name == "on"), key=lambda r: r.order or 0)
    assert [r.order for r in online] == [0, 1, 2]
    seeds_n = json.loads((tmp_path / "run/banks/base/built.json").read_text())["cases"]
    # the online bank grows by the verified successes before each episode; the shared bank never changes
    sizes = [r.bank_size for r in online]
    assert sizes[0] == seeds_n
    expected = [seeds_n]
    for r in online[:-1]:
        expected.append(expected[-1] + (r.status == "success"))
    assert sizes == expected
    base = run.bank_for(grid.expand()[0])
    assert base.count() == seeds_n and base.count(quarantined=True) == 0
    assert all(c.usage.retrieved == 0 for c in base.all())  # `off` runs leave usage counters alone
    assert [r.order for r in records if r.config_name == "off"] == [None] * 3


def test_a_seed_subset_banks_the_cases_finetune_trains_on(tmp_path: Path) -> None:
    """LIMI's data-efficiency curve compares the two roads on the same demonstrations: an ablation's
    `seed_subset: N` and `casebank finetune --subset N` (same seed) must pick the same cases, and smaller
    subsets must sit inside larger ones."""
    from casebank.casefile import load_cases
    from lab.finetune.data import load_records

    grid = AblationGrid(seed=0, configs=[{"name": "s10", "strategy": "dense", "k": 1, "seed_subset": 10},
                                         {"name": "s20", "strategy": "dense", "k": 1, "seed_subset": 20}])
    run = AblationRun(grid=grid, tasks=[], run_dir=tmp_path / "run", llm_url="http://127.0.0.1:9/v1", seed_file=seeds.SEEDS_FILE)
    banked = {}
    for config in grid.expand():
        run.bank_for(config)
        banked[config.seed_subset] = json.loads((tmp_path / f"run/banks/subset-{config.seed_subset}/built.json").read_text())["ids"]
    by_first_user_text = {next(m.content for m in c.messages if m.role == "user"): c.id for c in load_cases(seeds.SEEDS_FILE)}
    for n in (10, 20):
        records = load_records(seeds.SEEDS_FILE, subset=n, subset_seed=0)
        trained = sorted(by_first_user_text[next(m["content"] for m in r["messages"] if m["role"] == "user")] for r in records)
        assert trained == banked[n] and len(set(trained)) == n
    assert set(banked[10]) < set(banked[20])
    assert load_records(seeds.SEEDS_FILE, subset=10, subset_seed=1) != load_records(seeds.SEEDS_FILE, subset=10, subset_seed=0)
    with pytest.raises(ValueError, match="larger than"):
        load_records(seeds.SEEDS_FILE, subset=500)


def cli_run_after_one_episode(tmp_path: Path, url: str) -> tuple[list[str], dict[str, str], subprocess.Popen[bytes]]:
    """`casebank ablate` on the four-task suite as a subprocess (its own session), once its first episode is recorded."""
    suite = write_tasks(tmp_path / "suite")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CASEBANK_DATA_DIR": str(tmp_path / "data")}
    cmd = [str(Path(sys.executable).parent / "casebank"), "ablate", "--tasks", str(suite), "--strategy", "none", "--model", "scripted",
           "--llm-url", f"{url}/v1", "--concurrency", "1", "--out", str(tmp_path / "run"), "--max-attempts", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(read_records(tmp_path / "run")) < 1:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode() if proc.stdout else ""
        time.sleep(0.1)
    return cmd, env, proc


def test_cli_run_survives_kill_and_resumes(tmp_path: Path) -> None:
    with serve(create_app(model="scripted", delay_s=0.4)) as url:
        cmd, env, proc = cli_run_after_one_episode(tmp_path, url)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before = read_records(tmp_path / "run")
        assert 1 <= len(before) < 4
        kept = {r.key: r.finished_at for r in before if r.status != "error"}  # an `error` episode runs again
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        records = read_records(tmp_path / "run")
        assert sorted(r.task_id for r in records) == ["broken-llm", "idle", "w-alpha", "w-beta"]
        assert all(records_by.finished_at == kept[records_by.key] for records_by in records if records_by.key in kept)
        lines = [json.loads(x) for x in (tmp_path / "run/episodes.jsonl").read_text().splitlines()]
        finished = [(x["task_id"]) for x in lines if x["status"] != "error"]
        assert sorted(finished) == ["idle", "w-alpha", "w-beta"]  # no finished episode ran twice
        # run.json records the full bank's size (the bundled seeds here), for the data-efficiency plot's x axis
        import seeds
        from casebank.casefile import load_cases

        assert json.loads((tmp_path / "run/run.json").read_text())["seed_count"] == len(load_cases(seeds.default_seed_file(), "casebank"))


def test_cli_stopped_with_sigterm_drops_queued_episodes_and_records_the_server_counters(tmp_path: Path) -> None:
    with serve(create_app(model="scripted", delay_s=0.4)) as url:
        _, _, proc = cli_run_after_one_episode(tmp_path, url)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode == 130, output
        assert "the same command resumes" in output
        assert len(read_records(tmp_path / "run")) < 4  # the queued episodes did not run
        segments = [json.loads(x) for x in (tmp_path / "run/server.jsonl").read_text().splitlines()]
        assert "finished" in segments[-1] and segments[-1]["episodes_planned"] == 4, segments


# ---- a broken world ------------------------------------------------------------------------------------------
def _suite(tmp_path: Path, tasks: list[dict]) -> list:
    path = tmp_path / "broken-suite.jsonl"
    path.write_text("".join(json.dumps({"family": "general", **t}) + "\n" for t in tasks))
    return load_tasks(path)


def test_a_checker_that_cannot_start_stops_the_run_which_resumes_once_fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker's `python` is not there (the preflight did not see it): 8 episodes fail with the same shell
    error, the run stops saying so, none of them counts as a result, and after the fix the same run resumes."""
    import casebank.sandbox.check as check
    import casebank.sandbox.preflight as preflight
    from lab.ablate.runner import BrokenEnvironment

    tasks = _suite(tmp_path, [{"id": f"w-{w}", "instruction": f"Write the word {w} into {w}.txt.",
                               "check": f"assert open('{w}.txt').read().strip() == '{w}'\n"} for w in ("alpha", "beta", "gamma")])
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}], repeats=4)  # 12 episodes
    real = check.checker_command
    monkeypatch.setattr(preflight, "require_sandbox", lambda: None)
    monkeypatch.setattr(check, "checker_command", lambda script: real(script).replace("python -", "casebank-missing-python -", 1))
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct")) as url:
        run = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE, concurrency=2)
        with pytest.raises(BrokenEnvironment) as stopped:
            run.run()
        message = str(stopped.value)
        assert "the environment, not the agent" in message and "casebank-missing-python: command not found" in message
        records = read_records(tmp_path / "run")
        assert 8 <= len(records) <= 9  # the 8 and at most the one still in flight: not all 12
        assert all(r.status == "error" and (r.error or "").startswith("environment:") for r in records), [(r.status, r.detail) for r in records]
        monkeypatch.undo()  # the fix
        again = AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / "run", llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE, concurrency=2)
        done = again.run()
    assert len(done) == 12
    final = read_records(tmp_path / "run")
    assert len(final) == 12 and all(r.status == "success" for r in final)


def test_the_same_checker_output_over_several_tasks_stops_the_run_but_one_task_failing_alike_does_not(tmp_path: Path) -> None:
    from lab.ablate.runner import BrokenEnvironment

    same = "import shutil\nassert shutil.which('casebank-absent-tool'), 'casebank-absent-tool is not installed'\n"
    tasks = _suite(tmp_path, [{"id": f"tidy-{i}", "instruction": f"Tidy folder {i}.", "check": same} for i in range(3)])
    grid = AblationGrid(configs=[{"name": "a", "strategy": "none", "k": 0}], repeats=3)
    with serve(create_app(model="qwen2.5-coder-0.5b-instruct")) as url:
        def run(name: str, tasks: list, grid: AblationGrid) -> AblationRun:
            return AblationRun(grid=grid, tasks=tasks, run_dir=tmp_path / name, llm_url=f"{url}/v1", seed_file=seeds.FIXTURE_FILE, concurrency=1)

        with pytest.raises(BrokenEnvironment, match="same checker output"):
            run("several", tasks, grid).run()
        assert {r.status for r in read_records(tmp_path / "several")} == {"error"}
        # one task failing the same way nine times is the agent's failure, and so is everything with the check off
        one = run("one", tasks[:1], grid.model_copy(update={"repeats": 9})).run()
        assert len(one) == 9 and {r.status for r in one} == {"failure"}
        off = run("off", tasks, grid.model_copy(update={"broken_world_after": 0})).run()
        assert len(off) == 9 and {r.failure_mode for r in off} == {"submitted_check_failed"}
