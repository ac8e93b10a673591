"""`casebank ablate --plan`: what a grid will take and what it can detect, before it runs (nothing runs,
no LLM server is needed).

- Episodes: the grid's episodes and the pending ones (those without a `success`/`failure` record in the
  run dir), as `--dry-run` counts them.
- Expected hours: pending episodes / the throughput last measured on this machine. Throughput comes from
  earlier run dirs (RUN_DIR/server.jsonl and RUN_DIR/episodes.jsonl; by default every run dir under
  benchmarks/results/ and DATA_DIR/ablations/, plus the planned run dir itself). Each `ablate` invocation
  is a window of server.jsonl: its `started` line and its closing line's `finished` (an invocation that was
  killed has no closing line: its window ends at the last episode recorded before the next invocation).
  A window's episodes are the distinct (config, task, repeat) keys with a `success` or `failure` record
  whose `finished_at` falls in it (errors take time but are no result: their time stays in the window);
  windows that overlap (two invocations at once) count their shared time and episodes once.
  Windows whose start line records another machine (`machine`: dtype and CPU flags) are left out. Windows
  whose episodes are all of the grid's models are preferred ("same model"); else any window is used and
  the plan says so. Of those, the run dir with the most recent window is the source, and its rate is its
  windows' episodes over their summed hours (at the concurrency those invocations used).
- Detectable effect: for each config against the baseline, the MDE at 80% power, alpha 0.05 two-sided
  (`lab.ablate.power.minimum_detectable_effect`, McNemar's paired design) for the grid's number of tasks
  and an assumed baseline rate: `--plan-baseline-rate` when given; else the baseline's success rate in an
  earlier run (the same config, by hash, first; else the baseline config of an earlier run of the same
  model), over the planned tasks where it ran them; else `DEFAULT_BASELINE_RATE`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lab.ablate import power
from lab.ablate.records import CONFIGS_FILE, EPISODES_FILE, RUN_FILE, read_records

if TYPE_CHECKING:
    from lab.ablate.grid import AblationConfig

SERVER_FILE = "server.jsonl"  # lab.ablate.runner.SERVER_FILE (the runner imports the agent: not at import time)
REPO = Path(__file__).resolve().parents[2]
# Assumed when no earlier run of the model says better: about the bundled 0.5B model's measured rates
# (5.3% without cases on the held-out ladder, benchmarks/results/ladder_turns), rounded up.
DEFAULT_BASELINE_RATE = 0.10


def default_roots(data_dir: Path) -> list[Path]:
    """Where earlier run dirs are looked for: benchmarks/results/ and DATA_DIR/ablations/."""
    return [REPO / "benchmarks" / "results", Path(data_dir) / "ablations"]


def run_dirs(roots: Iterable[Path]) -> list[Path]:
    """Run dirs (a folder with episodes.jsonl) among `roots` and their direct subfolders, each once."""
    found: dict[Path, Path] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            if (folder / EPISODES_FILE).is_file():
                found.setdefault(folder.resolve(), folder)
    return list(found.values())


def _json_lines(path: Path) -> list[dict]:
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn line
        if isinstance(value, dict):
            out.append(value)
    return out


def _models(run_dir: Path) -> dict[str, str]:
    """config hash -> served model name, from configs.json."""
    try:
        configs = json.loads((run_dir / CONFIGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {h: str((c.get("config") or {}).get("model", "?")) for h, c in configs.items() if isinstance(c, dict)}


@dataclass
class Window:
    """One `ablate` invocation of a run dir, as its server.jsonl and episodes.jsonl tell it."""

    run_dir: Path
    started: float
    ended: float
    keys: frozenset[tuple]  # (config hash, task, repeat) with a task outcome finished in the window
    models: frozenset[str]
    concurrency: int | None = None
    machine: dict | None = None
    closed: bool = True  # had its closing line (else it was killed; it ends at its last episode)

    @property
    def episodes(self) -> int:
        return len(self.keys)

    @property
    def hours(self) -> float:
        return (self.ended - self.started) / 3600


def windows(run_dir: Path) -> list[Window]:
    """The invocations of a run dir with at least one task outcome (the module docstring)."""
    starts: dict[float, dict] = {}
    ends: dict[float, dict] = {}
    for line in _json_lines(run_dir / SERVER_FILE):
        if not isinstance(line.get("started"), (int, float)):
            continue  # e.g. a `reused_from` line of benchmarks/reuse_episodes.py
        (ends if "finished" in line else starts).setdefault(float(line["started"]), line)
    models = _models(run_dir)
    outcomes = [
        (float(e["finished_at"]), (e.get("config_hash"), e.get("task_id"), e.get("repeat")), models.get(str(e.get("config_hash")), "?"))
        for e in _json_lines(run_dir / EPISODES_FILE)
        if e.get("status") in ("success", "failure") and isinstance(e.get("finished_at"), (int, float)) and e["finished_at"] > 0
    ]  # fmt: skip
    times = sorted(set(starts) | set(ends))
    out = []
    for i, started in enumerate(times):
        following = times[i + 1] if i + 1 < len(times) else math.inf
        closed = started in ends
        if closed:
            ended = float(ends[started]["finished"])
        else:
            inside = [t for t, _, _ in outcomes if started <= t < following]
            if not inside:
                continue
            ended = max(inside)
        mine = {key: model for t, key, model in outcomes if started <= t <= ended}
        if not mine or ended <= started:
            continue
        concurrency = ends.get(started, {}).get("concurrency")
        out.append(Window(run_dir=run_dir, started=started, ended=ended, keys=frozenset(mine), models=frozenset(mine.values()),
                          concurrency=concurrency if isinstance(concurrency, int) else None,
                          machine=starts.get(started, {}).get("machine"), closed=closed))  # fmt: skip
    return out


@dataclass
class Throughput:
    run_dir: Path
    windows: list[Window]
    same_model: bool

    @property
    def episodes(self) -> int:
        """Distinct episodes over the windows (two invocations at once share their overlap)."""
        return len(frozenset().union(*(w.keys for w in self.windows)))

    @property
    def hours(self) -> float:
        """The length of the union of the windows: overlapping invocations count their shared time once."""
        total, end = 0.0, -math.inf
        for w in sorted(self.windows, key=lambda w: w.started):
            if w.ended > end:
                total += w.ended - max(w.started, end)
                end = w.ended
        return total / 3600

    @property
    def per_hour(self) -> float:
        return self.episodes / self.hours

    @property
    def models(self) -> list[str]:
        return sorted(set().union(*(w.models for w in self.windows)))

    @property
    def concurrency(self) -> list[int]:
        return sorted({w.concurrency for w in self.windows if w.concurrency is not None})


def measured_throughput(dirs: Sequence[Path], models: set[str], machine: dict | None = None) -> Throughput | None:
    """The episodes per hour last measured (the module docstring); None when no run dir has a usable window."""
    found = [w for d in dirs for w in windows(d) if machine is None or w.machine is None or w.machine == machine]
    same = [w for w in found if w.models <= models]
    pool = same or found
    if not pool:
        return None
    last = max(pool, key=lambda w: w.ended).run_dir
    return Throughput(run_dir=last, windows=[w for w in pool if w.run_dir == last], same_model=bool(same))


@dataclass
class BaselineRate:
    rate: float
    source: str  # how it was found, for the plan's text
    run_dir: Path | None = None
    episodes: int = 0


def earlier_baseline_rate(dirs: Sequence[Path], baseline: AblationConfig, task_ids: Iterable[str]) -> BaselineRate | None:
    """The baseline's success rate in an earlier run: the same config (content hash) first, else the baseline
    config of an earlier run of the same model; over the planned tasks where that run has them, else all of
    its tasks; of several, the one with the most episodes on the planned tasks, then the most episodes."""
    wanted = set(task_ids)
    found: list[tuple[tuple[int, int, int], BaselineRate]] = []
    for run_dir in dirs:
        records = [r for r in read_records(run_dir) if r.status != "error"]
        models = _models(run_dir)
        try:
            run_baseline = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8")).get("baseline")
        except (OSError, ValueError):
            run_baseline = None
        by_hash: dict[str, list] = {}
        for r in records:
            by_hash.setdefault(r.config_hash, []).append(r)
        for config_hash, recs in by_hash.items():
            exact = config_hash == baseline.content_hash
            same_model = recs[0].config_name == run_baseline and models.get(config_hash) == baseline.model
            if not (exact or same_model):
                continue
            on_tasks = [r for r in recs if r.task_id in wanted]
            used = on_tasks or recs
            rate = sum(r.status == "success" for r in used) / len(used)
            what = "the same config" if exact else f"the baseline of an earlier run of {baseline.model}"
            where = "on these tasks" if on_tasks else "on its own tasks (none of these)"
            source = f"{recs[0].config_name} in {_shown(run_dir)}, {what}, {len(used)} episodes {where}"
            found.append(((int(exact), len(on_tasks), len(recs)), BaselineRate(rate, source, run_dir, len(used))))
    if not found:
        return None
    return max(found, key=lambda item: item[0])[1]


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _this_machine() -> dict | None:
    try:
        from lab.ablate.runner import machine_record

        return machine_record()
    except Exception:  # noqa: BLE001 - a plan without the machine filter is still a plan
        return None


@dataclass
class Plan:
    episodes: int
    pending: int
    tasks: int
    baseline: str | None
    comparisons: list[str]  # configs compared against the baseline
    baseline_rate: BaselineRate
    throughput: Throughput | None
    looked_in: list[Path] = field(default_factory=list)
    concurrency: int | None = None

    @property
    def mde(self) -> float | None:
        return power.minimum_detectable_effect(self.tasks, self.baseline_rate.rate)

    @property
    def hours(self) -> float | None:
        return None if self.throughput is None else self.pending / self.throughput.per_hour

    def lines(self) -> list[str]:
        out = [f"plan: {self.pending} episodes to run ({self.episodes} in the grid, {self.episodes - self.pending} already recorded)"]
        t = self.throughput
        if t is None:
            looked = ", ".join(_shown(p) for p in self.looked_in) or "nowhere"
            out.append(f"throughput: none measured (no earlier run dir with server.jsonl and episodes.jsonl in {looked}): no time estimate")
        else:
            model = ", ".join(t.models) + ("" if t.same_model else "; another model than this grid's")
            conc = f", concurrency {'/'.join(map(str, t.concurrency))}" if t.concurrency else ""
            out.append(f"throughput: {t.per_hour:.1f} episodes/h, last measured in {_shown(t.run_dir)} ({model}; {len(t.windows)} "
                       f"invocation(s), {t.episodes} episodes in {t.hours:.2f} h{conc})")  # fmt: skip
            if self.concurrency is not None and t.concurrency and t.concurrency != [self.concurrency]:
                out.append(f"  (this run asks for --concurrency {self.concurrency})")
            hours = self.hours or 0.0
            minutes = f" ({60 * hours:.0f} min)" if hours < 1 else ""
            out.append(f"expected: {hours:.1f} h{minutes} for the {self.pending} pending episodes")
        out.append(f"baseline rate: {100 * self.baseline_rate.rate:.1f}% ({self.baseline_rate.source})")
        if self.baseline is None:
            out.append("detectable effect: no baseline config, no paired comparison")
            return out
        mde = self.mde
        out.append(f"detectable effect vs {self.baseline} (MDE at {power.POWER:.0%} power, alpha {power.ALPHA} two-sided, "
                   f"McNemar, n = {self.tasks} tasks, baseline {100 * self.baseline_rate.rate:.1f}%):")  # fmt: skip
        for name in self.comparisons:
            if mde is None:
                out.append(f"  {name} vs {self.baseline}: no increase detectable  underpowered")
            else:
                flag = f"  underpowered (> {100 * power.UNDERPOWERED_MDE:.0f} pp)" if mde > power.UNDERPOWERED_MDE else ""
                out.append(f"  {name} vs {self.baseline}: MDE {100 * mde:.1f} pp{flag}")
        if not self.comparisons:
            out.append("  (no config besides the baseline)")
        p0 = self.baseline_rate.rate
        if p0 + power.UNDERPOWERED_MDE <= 1:
            need = math.ceil(power.required_tasks(power.UNDERPOWERED_MDE, p0))
            out.append(f"  a {100 * power.UNDERPOWERED_MDE:.0f} pp MDE at this baseline rate needs {need} tasks")
        return out


def make_plan(*, episodes: int, pending: int, task_ids: Sequence[str], configs: Sequence[AblationConfig],
              baseline: AblationConfig | None, roots: Sequence[Path], run_dir: Path | None = None,
              baseline_rate: float | None = None, concurrency: int | None = None, machine: dict | None | bool = True) -> Plan:  # fmt: skip
    """The plan of a grid (the module docstring). `machine=True` reads this machine's record; None: no filter."""
    dirs = run_dirs([*roots, *([run_dir] if run_dir is not None else [])])
    if machine is True:
        machine = _this_machine()
    models = {c.model for c in configs} | ({baseline.model} if baseline else set())
    throughput = measured_throughput(dirs, models, machine if isinstance(machine, dict) else None)
    if baseline_rate is not None:
        rate = BaselineRate(baseline_rate, "--plan-baseline-rate")
    else:
        rate = (earlier_baseline_rate(dirs, baseline, task_ids) if baseline else None) or BaselineRate(
            DEFAULT_BASELINE_RATE, "assumed: no earlier run of this baseline or model; --plan-baseline-rate sets it")
    return Plan(
        episodes=episodes, pending=pending, tasks=len(task_ids), baseline=baseline.name if baseline else None,
        comparisons=[c.name for c in configs if baseline is None or c.content_hash != baseline.content_hash],
        baseline_rate=rate, throughput=throughput, looked_in=list(roots), concurrency=concurrency,
    )
