"""Metrics of an ablation run, computed from its records (`records.read_records`).

Why these choices:
- `error` records are infrastructure, not the agent: they are dropped from every rate and mean and
  counted apart (`n_error`). A task counts for a config when it has at least one non-error episode.
- Success rate: successes / episodes. Its 95% CI is a percentile bootstrap over *tasks* (a cluster
  bootstrap): resample task ids with replacement and take successes / episodes over the resampled
  tasks. Repeats of one task are not independent (same task, same workspace), so resampling episodes
  would make the interval too narrow. When every task has the same number of non-error repeats, the
  statistic is the mean over tasks of the per-task mean success.
- Paired difference against the baseline config: only tasks present in both configs count; per task
  the mean success over its repeats, in each config; resample task ids; difference of the means
  (config minus baseline). Pairing removes the task-difficulty variance both arms share.
- Beside that interval, every paired difference carries McNemar's exact test on the per-task outcomes
  and the minimum detectable effect at 80% power for its number of tasks and its baseline rate
  (`lab.ablate.power`, where the formulas are): a task is solved in a config when its mean success
  over the counted repeats is above 0.5 (majority; with one repeat, the episode); b = tasks only the
  config solved, c = tasks only the baseline solved, p = binomtest(b, b + c, 0.5) two-sided. The MDE
  takes the baseline's mean per-task success over the common tasks as p0. A comparison whose MDE is
  above 10 points (or that can detect no increase at all) is `underpowered`.
- Every bootstrap: `scipy.stats.bootstrap`, method `percentile`, `N_RESAMPLES` resamples, a fresh
  `numpy.random.default_rng(BOOTSTRAP_SEED)` per interval (each interval is reproducible on its own),
  tasks in sorted id order. Fewer than two tasks: no interval.
- pass@R / all-R: over the tasks whose R repeats all finished without an infrastructure error: the
  share where any (pass@R) or every (all-R) repeat succeeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from lab.ablate import power
from lab.ablate.records import FAILURE_MODES, EpisodeRecord

CONFIDENCE = 0.95
N_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MEAN_FIELDS = ("model_calls", "tool_calls", "tool_errors", "prompt_tokens", "completion_tokens", "wall_s", "retrieval_ms")

# Breakdowns: a name and how a record is grouped.
DIMENSIONS: dict[str, Callable[[EpisodeRecord], str]] = {
    "split": lambda r: r.split,
    "level": lambda r: f"L{r.level}",
    "split_level": lambda r: f"{r.split}/L{r.level}",
    "family": lambda r: r.family,
    "distribution": lambda r: "out-of-distribution" if r.ood else "in-distribution",
}


class Interval(BaseModel):
    low: float
    high: float


class PairedDiff(BaseModel):
    """Config minus baseline, in success-rate units (0..1), over the tasks both have."""

    baseline: str
    n_tasks: int
    diff: float | None = None
    ci: Interval | None = None
    # McNemar's exact test on the per-task outcomes (solved: mean success over repeats > 0.5)
    mcnemar_b: int = 0  # tasks only this config solved
    mcnemar_c: int = 0  # tasks only the baseline solved
    mcnemar_p: float | None = None  # two-sided exact binomial p of b in b + c at 1/2 (1.0 when b + c == 0)
    # power: the smallest increase n_tasks detect at 80% power, alpha 0.05 two-sided, from baseline_rate
    baseline_rate: float | None = None  # the baseline's mean per-task success over the common tasks
    mde: float | None = None  # success-rate units; None with tasks: no increase up to 100% is detectable
    underpowered: bool | None = None  # mde above 10 points (or None); None without a common task


class ConfigMetrics(BaseModel):
    """One config over one set of records (the whole run, or one group of a breakdown)."""

    config: str  # the config's label (its name; name@hash when two configs share a name)
    config_hash: str
    n: int  # episodes counted: success + failure
    n_error: int  # infrastructure errors, excluded from n
    n_tasks: int
    successes: int
    failures: int
    success_rate: float | None = None
    ci: Interval | None = None
    diff: PairedDiff | None = None  # None for the baseline itself, or without a baseline
    repeats: int = 1
    pass_at_r: float | None = None  # only when repeats > 1
    all_r: float | None = None
    n_tasks_all_repeats: int = 0  # tasks pass@R / all-R are taken over
    means: dict[str, float] = Field(default_factory=dict)  # MEAN_FIELDS over counted episodes
    failure_modes: dict[str, int] = Field(default_factory=dict)  # FAILURE_MODES -> count ("error" = n_error)


class CurvePoint(BaseModel):
    """One episode of an online run, in its order; `success_rate` is cumulative over counted episodes."""

    order: int
    task_id: str
    repeat: int
    status: str
    success_rate: float | None
    bank_size: int | None


class ConfigInfo(BaseModel):
    label: str
    config_hash: str
    config: dict[str, Any] = Field(default_factory=dict)


class RunMetrics(BaseModel):
    method: dict[str, Any]
    baseline: str | None
    baseline_unknown: str | None = None  # run.json's baseline when no recorded config has that name
    repeats: int
    configs: list[ConfigInfo]
    overall: list[ConfigMetrics]
    breakdowns: dict[str, dict[str, list[ConfigMetrics]]]
    learning_curves: dict[str, list[CurvePoint]]


# ---- bootstrap -------------------------------------------------------------------------------------------
def bootstrap_interval(data: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], *, seed: int = BOOTSTRAP_SEED,
                       n_resamples: int = N_RESAMPLES) -> Interval | None:  # fmt: skip
    """Percentile bootstrap of a statistic of paired arrays (one row per task); None under two tasks."""
    from scipy.stats import bootstrap

    if len(data[0]) < 2:
        return None
    result = bootstrap(
        tuple(data), statistic, paired=True, vectorized=True, n_resamples=n_resamples, confidence_level=CONFIDENCE,
        method="percentile", rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Interval(low=float(ci.low), high=float(ci.high))


def _ratio(successes: np.ndarray, episodes: np.ndarray, axis: int = -1) -> np.ndarray:
    return successes.sum(axis=axis) / episodes.sum(axis=axis)


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a.mean(axis=axis) - b.mean(axis=axis)


# ---- per-task tallies ------------------------------------------------------------------------------------
def counted(records: Iterable[EpisodeRecord]) -> list[EpisodeRecord]:
    """The records rates are taken over: task outcomes, not infrastructure errors."""
    return [r for r in records if r.status != "error"]


def per_task(records: Iterable[EpisodeRecord]) -> dict[str, tuple[int, int]]:
    """task id -> (successes, counted episodes), sorted by task id; tasks with only errors are absent."""
    tally: dict[str, list[int]] = {}
    for r in counted(records):
        s = tally.setdefault(r.task_id, [0, 0])
        s[0] += r.status == "success"
        s[1] += 1
    return {t: (s, n) for t, (s, n) in sorted(tally.items())}


def success_interval(records: Iterable[EpisodeRecord], **kwargs: Any) -> tuple[float | None, Interval | None]:
    """Success rate and its cluster-bootstrap CI over tasks (see the module docstring)."""
    tasks = per_task(records)
    if not tasks:
        return None, None
    s = np.array([v[0] for v in tasks.values()], dtype=float)
    n = np.array([v[1] for v in tasks.values()], dtype=float)
    return float(s.sum() / n.sum()), bootstrap_interval((s, n), _ratio, **kwargs)


def paired_difference(records: Iterable[EpisodeRecord], baseline: Iterable[EpisodeRecord], baseline_name: str,
                      **kwargs: Any) -> PairedDiff:  # fmt: skip
    """Mean over common tasks of (mean success here - mean success in the baseline), with its CI."""
    mine, theirs = per_task(records), per_task(baseline)
    common = sorted(set(mine) & set(theirs))
    if not common:
        return PairedDiff(baseline=baseline_name, n_tasks=0)
    a = np.array([mine[t][0] / mine[t][1] for t in common])
    b = np.array([theirs[t][0] / theirs[t][1] for t in common])
    here = [power.solved(*mine[t]) for t in common]
    there = [power.solved(*theirs[t]) for t in common]
    only_here = sum(x and not y for x, y in zip(here, there, strict=True))
    only_there = sum(y and not x for x, y in zip(here, there, strict=True))
    p0 = float(b.mean())
    mde = power.minimum_detectable_effect(len(common), p0)
    return PairedDiff(
        baseline=baseline_name, n_tasks=len(common), diff=float(a.mean() - b.mean()),
        ci=bootstrap_interval((a, b), _mean_difference, **kwargs),
        mcnemar_b=only_here, mcnemar_c=only_there, mcnemar_p=power.mcnemar_exact(only_here, only_there),
        baseline_rate=p0, mde=mde, underpowered=power.is_underpowered(len(common), mde),
    )


def pass_all(records: Iterable[EpisodeRecord], repeats: int) -> tuple[float | None, float | None, int]:
    """(pass@R, all-R, tasks) over the tasks whose `repeats` repeats all have a task outcome."""
    by_task: dict[str, dict[int, bool]] = {}
    for r in counted(records):
        by_task.setdefault(r.task_id, {})[r.repeat] = r.status == "success"
    complete = [list(v.values()) for v in by_task.values() if all(i in v for i in range(repeats))]
    if not complete:
        return None, None, 0
    return sum(map(any, complete)) / len(complete), sum(map(all, complete)) / len(complete), len(complete)


def failure_modes(records: Iterable[EpisodeRecord]) -> dict[str, int]:
    """Every failure mode (zeros included, in `FAILURE_MODES` order); `error` counts infrastructure errors."""
    counts: Counter[str] = Counter()
    for r in records:
        if r.status == "error":
            counts["error"] += 1
        elif r.status == "failure":
            counts[r.failure_mode or "other"] += 1
    return {mode: counts[mode] for mode in FAILURE_MODES}


def means(records: Iterable[EpisodeRecord]) -> dict[str, float]:
    kept = counted(records)
    if not kept:
        return {}
    return {f: float(np.mean([getattr(r, f) for r in kept])) for f in MEAN_FIELDS}


def config_metrics(info: ConfigInfo, records: list[EpisodeRecord], repeats: int,
                   baseline: tuple[ConfigInfo, list[EpisodeRecord]] | None = None, **kwargs: Any) -> ConfigMetrics:  # fmt: skip
    """Everything the report says about one config over these records."""
    kept = counted(records)
    rate, ci = success_interval(kept, **kwargs)
    successes = sum(r.status == "success" for r in kept)
    metrics = ConfigMetrics(
        config=info.label, config_hash=info.config_hash, n=len(kept), n_error=len(records) - len(kept),
        n_tasks=len(per_task(kept)), successes=successes, failures=len(kept) - successes, success_rate=rate, ci=ci,
        repeats=repeats, means=means(kept), failure_modes=failure_modes(records),
    )
    if baseline is not None and baseline[0].config_hash != info.config_hash:
        metrics.diff = paired_difference(kept, baseline[1], baseline[0].label, **kwargs)
    if repeats > 1:
        metrics.pass_at_r, metrics.all_r, metrics.n_tasks_all_repeats = pass_all(kept, repeats)
    return metrics


# ---- the run ---------------------------------------------------------------------------------------------
def config_infos(records: Sequence[EpisodeRecord], configs: dict[str, dict]) -> list[ConfigInfo]:
    """The run's configs in the order they first appear in the records; configs.json names win (a
    renamed config keeps its hash); a name two configs share gets the hash appended."""
    hashes = list(dict.fromkeys(r.config_hash for r in records))
    names = {r.config_hash: r.config_name for r in records}
    for h in hashes:
        names[h] = (configs.get(h) or {}).get("name") or names[h]
    taken = Counter(names[h] for h in hashes)
    return [
        ConfigInfo(label=names[h] if taken[names[h]] == 1 else f"{names[h]}@{h[:6]}", config_hash=h,
                   config=dict((configs.get(h) or {}).get("config") or {}))
        for h in hashes
    ]  # fmt: skip


def resolve_baseline(infos: Sequence[ConfigInfo], requested: str | None, from_run: str | None) -> ConfigInfo | None:
    """The baseline config: `requested` (a name or hash; unknown is an error), else the run's own (if it has records)."""
    def find(name: str) -> ConfigInfo | None:
        return next((i for i in infos if name in (i.label, i.config_hash, i.config.get("name"))), None)

    if requested:
        found = find(requested)
        if found is None:
            raise ValueError(f"baseline {requested!r} is not a config of this run ({', '.join(i.label for i in infos)})")
        return found
    return find(from_run) if from_run else None


def run_repeats(records: Sequence[EpisodeRecord], run: dict[str, Any]) -> int:
    return int(run.get("repeats") or 0) or (max((r.repeat for r in records), default=0) + 1)


def learning_curve(records: Iterable[EpisodeRecord]) -> list[CurvePoint]:
    """An online config's episodes in order, with the cumulative success rate and the bank size."""
    points, successes, kept = [], 0, 0
    for r in sorted((r for r in records if r.order is not None), key=lambda r: r.order or 0):
        if r.status != "error":
            kept += 1
            successes += r.status == "success"
        points.append(CurvePoint(order=r.order or 0, task_id=r.task_id, repeat=r.repeat, status=r.status,
                                 success_rate=successes / kept if kept else None, bank_size=r.bank_size))  # fmt: skip
    return points


def compute(records: Sequence[EpisodeRecord], configs: dict[str, dict], run: dict[str, Any],
            baseline: str | None = None, **kwargs: Any) -> RunMetrics:  # fmt: skip
    """All metrics of a run: per config, per breakdown group, and the online learning curves."""
    infos = config_infos(records, configs)
    base = resolve_baseline(infos, baseline, run.get("baseline"))
    repeats = run_repeats(records, run)
    by_config = {i.config_hash: [r for r in records if r.config_hash == i.config_hash] for i in infos}

    def table(select: Callable[[EpisodeRecord], bool]) -> list[ConfigMetrics]:
        chosen = {h: [r for r in rs if select(r)] for h, rs in by_config.items()}
        pair = (base, chosen[base.config_hash]) if base else None
        return [config_metrics(i, chosen[i.config_hash], repeats, pair, **kwargs) for i in infos if chosen[i.config_hash]]

    breakdowns = {
        dim: {value: table(lambda r, key=key, value=value: key(r) == value) for value in sorted({key(r) for r in records})}
        for dim, key in DIMENSIONS.items()
    }
    curves = {i.label: learning_curve(by_config[i.config_hash]) for i in infos}
    return RunMetrics(
        method={
            "success_ci": "percentile bootstrap over tasks (cluster): resample task ids, successes / episodes",
            "paired_difference": "percentile bootstrap over the tasks both configs have: per task mean success over "
            "repeats, difference of the means (config minus baseline)",
            "mcnemar": "exact two-sided binomial test of b in b + c at 1/2 over the common tasks (b: only the config "
            "solved the task, c: only the baseline did; solved: mean success over the task's repeats > 0.5)",
            "mde": f"minimum detectable increase at {power.POWER:.0%} power, alpha {power.ALPHA} two-sided, for the "
            "common tasks and the baseline's rate on them: Connor (1987) paired-design sample size with the "
            "discordance implied by independent outcomes, psi = p0 (1 - p1) + p1 (1 - p0)",
            "underpowered_above": power.UNDERPOWERED_MDE,
            "confidence": CONFIDENCE, "n_resamples": kwargs.get("n_resamples", N_RESAMPLES),
            "seed": kwargs.get("seed", BOOTSTRAP_SEED), "errors": "excluded from rates and means, counted as n_error",
        },  # fmt: skip
        baseline=base.label if base else None,
        baseline_unknown=run.get("baseline") if (base is None and run.get("baseline")) else None,
        repeats=repeats,
        configs=infos,
        overall=table(lambda r: True),
        breakdowns=breakdowns,
        learning_curves={label: points for label, points in curves.items() if points},
    )
