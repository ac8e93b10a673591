"""Runs an ablation grid against an OpenAI-compatible LLM server, concurrently and resumably.

- Every (config, task, repeat) is one episode; a finished one is one line in RUN_DIR/episodes.jsonl.
  Rerunning skips every episode with a `success` or `failure` record (an `error` one runs again).
- Episodes are ordered task-major (task 1 under every config, then task 2, ...), so a run stopped
  half-way still holds paired data; tasks go by level, the cheap low levels first (in load order
  within a level), so a long CPU run has its level-1 table first.
- Isolation: `write_back: off` configs share RUN_DIR/banks/base, built from the seed file, which
  nothing writes (no write-back, no usage counters). Each `online` config works on its own copy,
  RUN_DIR/banks/online-<hash>, runs its tasks one at a time in a fixed shuffled order, and records the
  bank size before each episode. A `seed_subset` builds its bank from a fixed random subset of seeds.
- Infrastructure errors (LLM unreachable, 5xx, HTTP timeouts) are retried up to `max_attempts` times,
  then recorded as `error`: never a task failure. A 401/403/404 (wrong key, model or URL) stops the run.
  Any other exception from the agent is a harness defect: that episode is a `failure` (`agent_crash`,
  the traceback in its detail) and the run goes on. After `stop_after_errors` `error` records in a row
  (the server is gone, not one request broken) the run stops starting episodes and raises
  LLMUnavailable: a rerun resumes once the server is back, instead of the queue filling with errors.
- A broken world: before anything, the sandbox preflight (casebank.sandbox.preflight) runs one checker-style
  `python` and raises SandboxBroken if it cannot start. After that, if the first `broken_world_after` (a grid
  option, 8 by default; 0: off) finished episodes of an invocation all fail the same way (the same
  checker shell error such as `python: command not found`, or the same checker output over at least two
  tasks), the run stops with BrokenEnvironment: those episodes (and any later one failing the same way) are
  re-recorded as `error`, so they count as no result and the same command reruns them once the cause is fixed.
- Several servers (`llm_url` comma-separated): each episode leases the least busy live one
  (`casebank.llm.endpoints.EndpointPool`); one that refuses connections is left out for a while and the
  retry goes to another, so one server down does not stop the run.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agent.render import abbreviate
from agent.trajectory import StepRecord
from casebank.config import Settings
from casebank.errors import LLMError, TaskError, classify_llm_error
from casebank.llm.endpoints import EndpointPool, parse_urls
from casebank.models import Case
from casebank.tasks import Task
from lab.ablate.grid import AblationConfig, AblationGrid
from lab.ablate.records import CONFIGS_FILE, RUN_FILE, EpisodeRecord, append_record, read_records


class LLMUnavailable(LLMError, RuntimeError):
    """The server cannot be reached before the run starts."""


class BrokenEnvironment(TaskError, RuntimeError):
    """The first episodes of a run all failed the same way: the environment, not the agent."""


# The checker is `python - <<heredoc` (casebank.sandbox.check): when its whole output is one shell error line,
# python itself did not start (`/bin/bash: line 1: python: command not found`, exit 127).
_SHELL_ERROR = re.compile(r"(?:/usr)?(?:/bin/)?(?:ba|da)?sh: (?:line \d+: )?\S.*")
SHELL_PREFIX = "the checker's shell said "


def failure_signature(record: EpisodeRecord) -> str | None:
    """What a failed episode's failure would share with others if the environment caused it: the checker's
    shell error, or (submitted, checked, failed) the checker's output. None for anything else."""
    if record.status != "failure":
        return None
    detail = record.detail.strip()
    if _SHELL_ERROR.fullmatch(detail):
        return SHELL_PREFIX + detail
    if record.failure_mode == "submitted_check_failed" and detail:
        return detail
    return None


def broken_world(records: Sequence[EpisodeRecord]) -> str | None:
    """The shared signature when these episodes all failed the same way, else None. The same checker output
    needs two tasks or more (one task failing alike under every config is the agent); a shell error does not."""
    signatures = {failure_signature(r) for r in records}
    if len(signatures) != 1 or None in signatures:
        return None
    signature = signatures.pop()
    assert signature is not None
    if not signature.startswith(SHELL_PREFIX) and len({r.task_id for r in records}) < 2:
        return None
    return signature


def served_models(llm_url: str, api_key: str = "EMPTY", timeout: float = 10.0) -> dict[str, int | None]:
    """Served model name -> its context length (vLLM's `max_model_len`), from GET /v1/models."""
    try:
        r = httpx.get(f"{llm_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
        r.raise_for_status()
    except httpx.HTTPError as e:
        raise LLMUnavailable(f"cannot reach the LLM at {llm_url}: {e}") from None
    return {m["id"]: m.get("max_model_len") for m in r.json().get("data", [])}


STEPS_DIR = "steps"  # per-episode step logs, RUN_DIR/steps/<config hash>/<task>-r<repeat>.json
SERVER_FILE = "server.jsonl"  # one line per `ablate` invocation: the LLM server's counters over it
_COUNTERS = {
    "vllm:prefix_cache_queries_total": "prefix_cache_queries",
    "vllm:prefix_cache_hits_total": "prefix_cache_hits",
    "vllm:prompt_tokens_total": "prompt_tokens",
    "vllm:generation_tokens_total": "generation_tokens",
    # seconds summed over requests (histogram sums): where the server's time went
    "vllm:request_queue_time_seconds_sum": "request_queue_s",
    "vllm:request_prefill_time_seconds_sum": "request_prefill_s",
    "vllm:request_decode_time_seconds_sum": "request_decode_s",
    "vllm:e2e_request_latency_seconds_sum": "request_latency_s",
    "vllm:e2e_request_latency_seconds_count": "requests",
}


def run_fingerprints(run_dir: Path) -> set[str]:
    """The harness fingerprints a run dir's invocations (and copies, benchmarks/reuse_episodes.py) recorded."""
    path = run_dir / SERVER_FILE
    if not path.exists():
        return set()
    return {json.loads(line).get("harness", "") for line in path.read_text().splitlines() if line.strip()} - {""}


def step_file(run_dir: Path, record: EpisodeRecord) -> Path:
    """Where an episode's step log lives: RUN_DIR/steps/<config hash>/<task>-r<repeat>.json."""
    return run_dir / STEPS_DIR / record.config_hash / f"{record.task_id}-r{record.repeat}.json"


def harness_fingerprint() -> str:
    """A hash of what shapes an episode beyond its config: the agent's code and the prompt templates.
    A config's hash covers its settings only, so a resumed run records this per invocation (server.jsonl)
    and the CLI warns when it changed since the run began."""
    import hashlib

    import agent
    import casebank.prompts

    h = hashlib.sha256()
    for folder in (Path(agent.__file__).parent, Path(casebank.prompts.__file__).parent):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in {".py", ".md", ".j2", ".json"}:
                h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def server_counters(llm_url: str) -> dict[str, float]:
    """vLLM's cumulative counters from its Prometheus /metrics ({} when the server has none), summed over
    the servers of a comma-separated `llm_url`."""
    out: dict[str, float] = {}
    for url in parse_urls(llm_url):
        for key, value in _counters(url).items():
            out[key] = out.get(key, 0.0) + value
    return out


def machine_record() -> dict[str, object]:
    """This machine's CPU flags and the dtype casebank would pick on them (casebank.llm.cpu)."""
    from casebank.llm.cpu import cpu_dtype, dtype_record

    return dtype_record(cpu_dtype(), chosen=True)


def local_servers(llm_url: str, data_dir: Path) -> list[dict]:
    """What `casebank llm serve` recorded (model, dtype, CPU flags) about each server of `llm_url` on this machine."""
    from urllib.parse import urlsplit

    from casebank.llm.server import server_info

    out = []
    for url in parse_urls(llm_url):
        parts = urlsplit(url)
        if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port and (info := server_info(data_dir, parts.port)):
            out.append({"url": url, **info})
    return out


def server_root(llm_url: str) -> str:
    """The server's own root (where vLLM's /metrics and dev endpoints live) from its OpenAI base URL."""
    return llm_url.rstrip("/").removesuffix("/v1")


def _counters(llm_url: str) -> dict[str, float]:
    try:
        text = httpx.get(f"{server_root(llm_url)}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in _COUNTERS:
            try:
                out[_COUNTERS[name]] = out.get(_COUNTERS[name], 0.0) + float(line.rsplit(" ", 1)[1])
            except ValueError:
                continue
    return out


def failure_mode(outcome_detail: str, steps: Sequence[StepRecord], submitted: bool) -> str:
    """Why a failed episode failed (records.FailureMode), the first that applies."""
    detail = outcome_detail.lower()
    if "context overflow" in detail or "maximum context length" in detail:
        return "context_overflow"
    calls = [(s.tool, json.dumps(s.args, sort_keys=True, default=str)) for s in steps]
    if any(calls[i] == calls[i + 1] == calls[i + 2] for i in range(len(calls) - 2)):
        return "repeated_call"
    if submitted:
        return "submitted_check_failed"
    if not any(s.tool in ("write_file", "edit_file") and s.ok for s in steps):
        return "never_changed_file"
    if any(word in detail for word in ("step limit", "token budget", "time limit")):
        return "step_limit"
    return "other"


@dataclass
class Job:
    config: AblationConfig
    task: Task
    repeat: int
    order: int | None = None  # online runs: position in the fixed shuffled order


@dataclass
class Tally:
    done: int = 0
    success: int = 0
    failure: int = 0
    error: int = 0
    total: int = 0


@dataclass
class AblationRun:
    grid: AblationGrid
    tasks: list[Task]
    run_dir: Path
    llm_url: str
    seed_file: Path
    concurrency: int = 4
    max_attempts: int = 3
    # One model call's HTTP timeout: a net against a stuck server, not a limit on the model. At the CPU
    # server's ~2 tok/s per request under 8 concurrent episodes, a 1024-token completion takes ~500 s; at
    # 300 s (the chat default) such a call timed out again on every retry (temperature 0 repeats it) and
    # the episode became an infrastructure error after 3 x 2 x 300 s.
    request_timeout_s: float = 1800.0
    # Consecutive `error` records that stop the run (0: never). Each has already had max_attempts tries.
    stop_after_errors: int = 8
    api_key: str = "EMPTY"
    settings: Settings = field(default_factory=Settings)
    on_record: Callable[[EpisodeRecord], None] | None = None
    seed_families: list[str] = field(default_factory=list)
    seed_count: int | None = None  # cases in seed_file (the full bank)

    def __post_init__(self) -> None:
        self.configs = self.grid.expand()
        self._banks: dict[str, Any] = {}
        self._bank_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._max_model_len: dict[str, int] = {}
        self._steps: dict[tuple[str, str, int], tuple[list[StepRecord], str | None]] = {}
        self._errors_in_a_row = 0
        self._broken: str | None = None  # why the run stopped starting episodes (the circuit breaker)
        self._first: list[EpisodeRecord] = []  # the invocation's first finished episodes, for the broken-world check
        self._world: str | None = None  # their shared failure, once they showed one
        # Several servers (comma-separated --llm-url): each episode leases the least busy live one.
        self.pool = EndpointPool(self.llm_url)

    # ---- planning ------------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        """Every episode of the grid, task-major; online configs in their fixed shuffled order."""
        jobs: list[Job] = []
        for task in sorted(self.tasks, key=lambda t: getattr(t, "level", 3)):  # stable: load order within a level
            for config in self.configs:
                if config.write_back == "off":
                    jobs += [Job(config, task, r) for r in range(self.grid.repeats)]
        for config in self.configs:
            if config.write_back == "online":
                order = list(self.tasks)
                random.Random(self.grid.seed).shuffle(order)
                n = 0
                for r in range(self.grid.repeats):
                    for task in order:
                        jobs.append(Job(config, task, r, order=n))
                        n += 1
        return jobs

    def pending(self) -> list[Job]:
        finished = {rec.key for rec in read_records(self.run_dir) if rec.status != "error"}
        return [j for j in self.jobs() if (j.config.content_hash, j.task.id, j.repeat) not in finished]

    # ---- the run -----------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Write configs.json and run.json; check the server and read each model's context length."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        configs_path = self.run_dir / CONFIGS_FILE
        known = json.loads(configs_path.read_text()) if configs_path.exists() else {}
        for c in self.configs:
            known[c.content_hash] = {"name": c.name, "config": c.model_dump(mode="json")}
        configs_path.write_text(json.dumps(known, indent=2, sort_keys=True))
        run = {
            "baseline": self.grid.baseline,
            "tasks": sorted(t.id for t in self.tasks),
            "seed_families": sorted(self.seed_families),
            "seed_count": self.seed_count,
            "repeats": self.grid.repeats,
            "seed": self.grid.seed,
            "seed_file": str(self.seed_file),
            "llm_url": self.llm_url,
            "grid": self.grid.model_dump(mode="json"),
        }
        (self.run_dir / RUN_FILE).write_text(json.dumps(run, indent=2, sort_keys=True))
        # Every server must serve every model of the grid; a model's context is the smallest served.
        for url in self.pool.urls:
            served = served_models(url, self.api_key)
            missing = sorted({c.model for c in self.configs} - set(served))
            if missing:
                raise LLMUnavailable(f"the server at {url} does not serve {', '.join(missing)} (it serves {', '.join(served)})")
            for name, n in served.items():
                self._max_model_len[name] = min(self._max_model_len.get(name, 1 << 30), int(n or 8192))

    def run(self, on_start: Callable[[list[Job]], None] | None = None) -> list[EpisodeRecord]:
        from casebank.sandbox.preflight import require_sandbox

        require_sandbox()  # SandboxBroken before anything is written: a checker that cannot start fails every episode
        self.prepare()
        todo = self.pending()
        before, started = server_counters(self.llm_url), time.time()
        # The fingerprint goes down at the start too: a killed invocation never reaches the `finally`.
        with (self.run_dir / SERVER_FILE).open("a", encoding="utf-8") as f:
            f.write(json.dumps({"started": started, "harness": harness_fingerprint(), "episodes_planned": len(todo),
                                "machine": machine_record(), "servers": local_servers(self.llm_url, self.settings.data_dir)}) + "\n")
        try:
            return self._run(todo, on_start)
        finally:
            after = server_counters(self.llm_url)
            segment = {"started": started, "finished": time.time(), "episodes_planned": len(todo), "concurrency": self.concurrency,
                       "harness": harness_fingerprint()}
            segment.update({key: after[key] - before.get(key, 0.0) for key in after})
            with (self.run_dir / SERVER_FILE).open("a", encoding="utf-8") as f:
                f.write(json.dumps(segment) + "\n")

    def earlier_fingerprints(self) -> set[str]:
        return run_fingerprints(self.run_dir)

    def _run(self, todo: list[Job], on_start: Callable[[list[Job]], None] | None) -> list[EpisodeRecord]:
        if on_start is not None:
            on_start(todo)
        self._errors_in_a_row, self._broken, self._first, self._world = 0, None, [], None
        # Online configs are lanes: their episodes run in order, one at a time; the rest run freely.
        lanes: dict[str, list[Job]] = {}
        free: list[Job] = []
        for job in todo:
            if job.config.write_back == "online":
                lanes.setdefault(job.config.content_hash, []).append(job)
            else:
                free.append(job)
        records: list[EpisodeRecord] = []
        pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency))
        try:
            futures = [pool.submit(self._lane, lane) for lane in lanes.values()]
            futures += [pool.submit(self._lane, [job]) for job in free]
            for future in as_completed(futures):
                records += future.result()
            if self._world is not None:
                raise BrokenEnvironment(self._world_message())
            if self._broken is not None:
                raise LLMUnavailable(self._broken)
        except BaseException:
            # The circuit breaker, Ctrl-C or SIGTERM (the CLI turns it into KeyboardInterrupt): episodes not started are dropped (a
            # rerun does them), the running ones finish and are recorded, then `run` records the server's counters.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return records

    def _lane(self, jobs: list[Job]) -> list[EpisodeRecord]:
        out = []
        for job in jobs:
            if self._broken is not None or self._world is not None:
                break  # not recorded: a rerun does it
            record = self.run_episode(job)
            with self._write_lock:
                self._count_error(record)
                if self._world is not None and failure_signature(record) == self._world:
                    record = self._as_environment_error(record)  # broken the same way: no result either
                append_record(self.run_dir, record)
                self._write_steps(job, record)
                self._watch_world(record)
            if self.on_record is not None:
                self.on_record(record)
            out.append(record)
        return out

    def _watch_world(self, record: EpisodeRecord) -> None:
        """The broken-world check: once the first `broken_world_after` episodes are in, if they all failed the
        same way, re-record them as errors (later lines win) and stop starting episodes."""
        n = self.grid.broken_world_after
        if not n or len(self._first) >= n:
            return
        self._first.append(record)
        if len(self._first) == n and (signature := broken_world(self._first)) is not None:
            self._world = signature
            for earlier in self._first:
                append_record(self.run_dir, self._as_environment_error(earlier))

    def _as_environment_error(self, record: EpisodeRecord) -> EpisodeRecord:
        return record.model_copy(update={"status": "error", "failure_mode": "error", "error": f"environment: {(self._world or '')[:480]}"})

    def _world_message(self) -> str:
        n, signature = self.grid.broken_world_after, self._world or ""
        what = "checker shell error" if signature.startswith(SHELL_PREFIX) else "checker output"
        return (f"the first {n} episodes all failed with the same {what}:\n  {signature.removeprefix(SHELL_PREFIX)[:400]}\n"
                "That is the environment, not the agent: those episodes are recorded as errors (no result), and the same "
                "command reruns them once the cause is fixed. `casebank doctor` checks the usual causes. If these tasks "
                "really all fail this way, set broken_world_after: 0 in the grid (or --broken-world-after 0).")

    def _count_error(self, record: EpisodeRecord) -> None:
        """The circuit breaker: `stop_after_errors` error records in a row stop new episodes."""
        self._errors_in_a_row = self._errors_in_a_row + 1 if record.status == "error" else 0
        if self.stop_after_errors and self._errors_in_a_row >= self.stop_after_errors and self._broken is None:
            self._broken = (f"stopped after {self._errors_in_a_row} episodes in a row ended in infrastructure errors "
                            f"(last: {(record.error or '')[-200:]}); finished episodes are kept, the same command resumes "
                            "once the LLM server answers again")

    # ---- one episode ---------------------------------------------------------------------------------------
    def run_episode(self, job: Job) -> EpisodeRecord:
        from agent.runner import Agent

        config, task = job.config, job.task
        bank = self.bank_for(config)
        last_error = ""
        for attempt in range(1, self.max_attempts + 1):
            timed = TimedStore(bank) if bank is not None else None
            bank_size = bank.count() if (bank is not None and config.write_back == "online") else None
            with self.pool.lease() as url:
                agent_config = self.agent_config(config, job.repeat).model_copy(update={"llm_url": url})
                agent = Agent(agent_config, timed, checkpointer=_memory_saver())
                started = time.perf_counter()
                try:
                    result = agent.run_task(task)
                except Exception as e:
                    kind = classify_llm_error(e)
                    if kind == "fatal":  # wrong key, model or URL: every episode would meet it
                        raise LLMUnavailable(f"the LLM server refused the request ({type(e).__name__}: {e}); check the URL, model and API key") from e
                    if kind is None:  # a harness defect: this episode fails (agent_crash), the grid goes on
                        return self._crashed(job, e, attempt, bank_size, time.perf_counter() - started)
                    last_error = f"{type(e).__name__}: {e}"  # infrastructure: retried
                    if kind == "unreachable":
                        self.pool.mark_down(url)  # the next attempt leases another server, if there is one
                    time.sleep(min(30.0, 2.0**attempt))
                    continue
                finally:
                    agent.close()
            self._steps[(job.config.content_hash, job.task.id, job.repeat)] = (result.steps, result.answer)
            return self._record(job, result, attempt, timed, bank_size, time.perf_counter() - started)
        return EpisodeRecord(
            **self._key(job), status="error", failure_mode="error", error=last_error[-500:], detail=last_error[-500:],
            attempts=self.max_attempts, seed=self.grid.seed + job.repeat, finished_at=time.time(), order=job.order,
        )

    def _crashed(self, job: Job, error: Exception, attempt: int, bank_size: int | None, wall: float) -> EpisodeRecord:
        """The record of an episode whose agent raised: not retried (at temperature 0 it would raise again),
        counted as a failure, the traceback's tail in `detail` (and the step log) for whoever fixes it."""
        import traceback

        trace = "".join(traceback.format_exception(error))
        return EpisodeRecord(
            **self._key(job), status="failure", failure_mode="agent_crash", detail=f"agent crashed: {trace[-480:]}",
            attempts=attempt, seed=self.grid.seed + job.repeat, wall_s=round(wall, 3), order=job.order, bank_size=bank_size,
            finished_at=time.time(),
        )

    def _write_steps(self, job: Job, record: EpisodeRecord) -> None:
        """RUN_DIR/steps/<config hash>/<task>-r<repeat>.json: the episode's tool calls, observations
        (abbreviated) and answer, for reading why it failed. Not read back by the run or the report."""
        steps, answer = self._steps.pop(record.key, ([], None))
        path = step_file(self.run_dir, record)
        path.parent.mkdir(parents=True, exist_ok=True)
        out = {"task_id": record.task_id, "status": record.status, "failure_mode": record.failure_mode, "answer": answer,
               "detail": record.detail,
               "steps": [{"tool": s.tool, "args": s.args, "ok": s.ok, "observation": abbreviate(s.observation, 800)} for s in steps]}
        path.write_text(json.dumps(out, indent=1, default=str))

    def agent_config(self, config: AblationConfig, repeat: int) -> Any:
        from agent.config import AgentConfig

        return AgentConfig.from_settings(
            self.settings,
            llm_url=self.llm_url,
            api_key=self.api_key,
            model=config.model,
            temperature=config.temperature,
            seed=self.grid.seed + repeat,
            strategy=config.strategy,
            k=config.k,
            case_token_budget=config.case_token_budget,
            max_steps=config.max_steps,
            token_budget=config.token_budget,
            harness=config.harness,
            max_model_len=self._max_model_len.get(config.model, 8192),
            write_back=config.write_back == "online",
            record_usage=config.write_back == "online",
            max_retries=1,
            request_timeout_s=self.request_timeout_s,
        )

    def _key(self, job: Job) -> dict[str, Any]:
        t = job.task
        return {
            "config_hash": job.config.content_hash,
            "config_name": job.config.name,
            "task_id": t.id,
            "repeat": job.repeat,
            "family": t.family,
            "level": getattr(t, "level", 3),
            "split": t.split,
            "ood": bool(self.seed_families) and t.family not in self.seed_families,
        }

    def _record(self, job: Job, result: Any, attempt: int, timed: TimedStore | None, bank_size: int | None, wall: float) -> EpisodeRecord:
        success = result.outcome.verified_success
        submitted = result.answer is not None
        return EpisodeRecord(
            **self._key(job),
            status="success" if success else "failure",
            failure_mode=None if success else failure_mode(result.outcome.detail, result.steps, submitted),  # type: ignore[arg-type]
            submitted=submitted,
            detail=result.outcome.detail[-500:],
            attempts=attempt,
            seed=self.grid.seed + job.repeat,
            model_calls=result.model_calls,
            tool_calls=len(result.steps),
            tool_errors=sum(not s.ok for s in result.steps),
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            wall_s=round(wall, 3),
            retrieval_ms=round(timed.retrieval_ms, 3) if timed else 0.0,
            retrieved=[cid for cid, _ in result.retrieved],
            order=job.order,
            bank_size=bank_size,
            finished_at=time.time(),
        )

    # ---- banks -----------------------------------------------------------------------------------------------
    def bank_for(self, config: AblationConfig) -> Any:
        if not (config.k > 0 and config.strategy != "none") and config.write_back == "off":
            return None
        name = f"subset-{config.seed_subset}" if config.seed_subset else "base"
        if config.write_back == "online":
            name = f"online-{config.content_hash}"
        with self._bank_lock:
            if name not in self._banks:
                self._banks[name] = self._open_bank(name, config.seed_subset)
            return self._banks[name]

    def _open_bank(self, name: str, subset: int | None) -> Any:
        from casebank.bank import CaseBank
        from casebank.casefile import fixed_subset, load_cases

        folder = self.run_dir / "banks" / name
        bank = CaseBank(self.settings.model_copy(update={"data_dir": folder, "chroma_url": None}))
        marker = folder / "built.json"
        if marker.exists():
            return bank  # built before (an online bank keeps its write-backs across a resume)
        cases: list[Case] = load_cases(self.seed_file, "casebank")
        if subset:
            cases = fixed_subset(cases, subset, self.grid.seed)  # the same cases `casebank finetune --subset N` trains on
        bank.reset()
        bank.upsert(cases)
        marker.write_text(json.dumps({"cases": len(cases), "ids": sorted(c.id for c in cases)}))
        return bank


class TimedStore:
    """The bank as the agent sees it, timing retrieval (per episode)."""

    def __init__(self, bank: Any):
        self.bank = bank
        self.retrieval_ms = 0.0

    def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.bank.retrieve(*args, **kwargs)
        finally:
            self.retrieval_ms += (time.perf_counter() - t0) * 1000

    def write_back(self, case: Case) -> Any:
        return self.bank.write_back(case)

    def record_usage(self, case_ids: Sequence[str], *, succeeded: bool) -> None:
        self.bank.record_usage(case_ids, succeeded=succeeded)

    def count(self, **kwargs: Any) -> int:
        return self.bank.count(**kwargs)


def _memory_saver() -> Any:
    """Episodes of a run need no persistence: an in-memory saver, limited to the state's own types."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from agent.state import CHECKPOINT_TYPES

    return InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES))
