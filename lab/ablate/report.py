"""`casebank report RUN_DIR`: report.md (Markdown tables), summary.json (every number) and PNG plots.

Plots are drawn on `matplotlib.figure.Figure` objects with the Agg canvas (no pyplot, no display, no
global state), so a report can be built on a headless machine or from a thread. A plot without data
(no online config, no config with a strategy and k) is skipped, and report.md says why.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from casebank.errors import LabError
from lab.ablate import power
from lab.ablate.metrics import ConfigMetrics, RunMetrics, compute
from lab.ablate.records import FAILURE_MODES, read_configs, read_records, read_run

REPORT_FILE = "report.md"
SUMMARY_FILE = "summary.json"
BREAKDOWN_TITLES = {
    "split": "By split (dev / test)",
    "level": "By level",
    "split_level": "By split and level",
    "family": "By family",
    "distribution": "In-distribution vs out-of-distribution (family has / lacks seed demonstrations)",
}


class ReportError(LabError, ValueError):
    """A run directory that cannot be reported on (nothing recorded, an unknown baseline)."""


class Report(BaseModel):
    out: Path
    report: Path
    summary: Path
    plots: dict[str, Path] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)  # plot -> why


# ---- numbers as text -------------------------------------------------------------------------------------
def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def interval(ci: Any) -> str:
    return "-" if ci is None else f"[{100 * ci.low:.1f}, {100 * ci.high:.1f}]"


def signed(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}"


def diff_cell(m: ConfigMetrics, baseline: str | None) -> str:
    if baseline is None:
        return "-"
    if m.diff is None:
        return "baseline"
    if not m.diff.n_tasks:
        return "no common task"
    ci = interval(m.diff.ci) if m.diff.ci is not None else "[no CI: 1 task]"
    return f"{signed(m.diff.diff)} {ci} (n={m.diff.n_tasks})"


def mcnemar_cell(m: ConfigMetrics) -> str:
    """McNemar's exact p and the discordant tasks (b: only this config solved, c: only the baseline)."""
    if m.diff is None or not m.diff.n_tasks or m.diff.mcnemar_p is None:
        return "-"
    p = m.diff.mcnemar_p
    return f"{f'{p:.3f}' if p >= 0.001 else '<0.001'} ({m.diff.mcnemar_b}/{m.diff.mcnemar_c})"


UNDERPOWERED = "underpowered"


def mde_cell(m: ConfigMetrics) -> str:
    """The minimum detectable effect (pp, 80% power) and the `underpowered` label when it is above 10 points."""
    d = m.diff
    if d is None or not d.n_tasks:
        return "-"
    if d.mde is None:
        text = f"> {100 * (1 - (d.baseline_rate or 0.0)):.1f}"  # not even a jump to 100% is detectable
    else:
        text = f"{100 * d.mde:.1f}"
    return f"{text} {UNDERPOWERED}" if d.underpowered else text


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- tables ----------------------------------------------------------------------------------------------
MCNEMAR = "McNemar p (b/c)"
MDE = "MDE at 80% power (pp)"


def main_table(metrics: RunMetrics) -> str:
    """One row per config: counts, success with CI, paired difference, pass@R/all-R, costs, errors."""
    repeated = metrics.repeats > 1
    header = ["config", "n", "tasks", "success %", "95% CI", "diff vs baseline (pp) [95% CI]", MCNEMAR, MDE]
    header += [f"pass@{metrics.repeats} %", f"all-{metrics.repeats} %"] if repeated else []
    header += ["steps", "tool errors", "prompt tok", "completion tok", "wall s", "retrieval ms", "errors"]
    rows = []
    for m in metrics.overall:
        mean = m.means
        row: list[object] = [m.config, m.n, m.n_tasks, pct(m.success_rate), interval(m.ci), diff_cell(m, metrics.baseline),
                             mcnemar_cell(m), mde_cell(m)]  # fmt: skip
        row += [pct(m.pass_at_r), pct(m.all_r)] if repeated else []
        row += [
            _num(mean, "model_calls", 1), _num(mean, "tool_errors", 2), _num(mean, "prompt_tokens", 0),
            _num(mean, "completion_tokens", 0), _num(mean, "wall_s", 1), _num(mean, "retrieval_ms", 1), m.n_error,
        ]  # fmt: skip
        rows.append(row)
    return md_table(header, rows)


def _num(values: dict[str, float], key: str, digits: int) -> str:
    return "-" if key not in values else f"{values[key]:.{digits}f}"


def breakdown_table(name: str, groups: dict[str, list[ConfigMetrics]], baseline: str | None) -> str:
    header = [name, "config", "n", "tasks", "success %", "95% CI", "diff vs baseline (pp) [95% CI]", MCNEMAR, MDE, "errors"]
    rows = [
        [value, m.config, m.n, m.n_tasks, pct(m.success_rate), interval(m.ci), diff_cell(m, baseline), mcnemar_cell(m), mde_cell(m),
         m.n_error]
        for value, table in groups.items()
        for m in table
    ]
    return md_table(header, rows)


def failure_table(metrics: RunMetrics) -> str:
    header = ["config", "failures", *FAILURE_MODES]
    rows = [[m.config, m.failures, *(m.failure_modes.get(mode, 0) for mode in FAILURE_MODES)] for m in metrics.overall]
    return md_table(header, rows)


def markdown(metrics: RunMetrics, report: Report, run_dir: Path) -> str:
    r = metrics.repeats
    if metrics.baseline:
        baseline = metrics.baseline
    elif metrics.baseline_unknown:
        baseline = f"{metrics.baseline_unknown!r} (from run.json) has no records: no paired differences"
    else:
        baseline = "none given (no paired differences)"
    parts = [
        f"# Ablation report: `{run_dir}`",
        "",
        f"Configs: {len(metrics.overall)}; repeats: {r}; baseline: {baseline}.",
        "",
        "Success % is successes / episodes; infrastructure errors are excluded (column `errors`). "
        f"95% CIs: percentile bootstrap over tasks ({metrics.method['n_resamples']} resamples, seed {metrics.method['seed']}). "
        "The difference against the baseline is paired: only tasks both configs have, per task the mean over repeats "
        "(percentage points, config minus baseline)."
        " Beside it: McNemar's exact test on the per-task outcomes (a task is solved when its mean success over its repeats "
        "is above 0.5; b = tasks only the config solved, c = tasks only the baseline solved; two-sided exact binomial p of b "
        "in b + c at 1/2), and the minimum detectable effect: the smallest increase over the baseline's rate that this many "
        f"tasks detect at {power.POWER:.0%} power, alpha {power.ALPHA} two-sided (McNemar sample size, Connor 1987, with "
        "the discordance of independent outcomes). A comparison whose MDE is above "
        f"{100 * power.UNDERPOWERED_MDE:.0f} points is marked `{UNDERPOWERED}` (hatched, faded bars and hollow points in "
        "the plots): a difference it does not show may still be there."
        + (f" pass@{r} / all-{r}: share of tasks (with all {r} repeats free of errors) where any / every repeat succeeded." if r > 1 else ""),
        "",
        "## Per config",
        "",
        main_table(metrics),
        "",
        "Means per counted episode: steps (model calls), tool errors, prompt and completion tokens, wall time (s), "
        "retrieval latency (ms).",
        "",
    ]
    for dim, title in BREAKDOWN_TITLES.items():
        parts += [f"## {title}", "", breakdown_table(dim, metrics.breakdowns.get(dim, {}), metrics.baseline), ""]
    parts += ["## Failure modes", "", "Failed episodes by failure mode; `error` counts infrastructure errors.", "",
              failure_table(metrics), ""]  # fmt: skip
    if metrics.learning_curves:
        parts += ["## Online runs", ""]
        rows = [[label, len(points), pct(points[-1].success_rate), _bank_range(points)] for label, points in metrics.learning_curves.items()]
        parts += [md_table(["config", "episodes", "final cumulative success %", "bank size (first -> last)"], rows), ""]
    parts += ["## Plots", ""]
    for name, path in report.plots.items():
        parts += [f"![{name}]({path.name})", ""]
    for name, why in report.skipped.items():
        parts += [f"- `{name}.png` skipped: {why}"]
    return "\n".join(parts).rstrip() + "\n"


def _bank_range(points: list[Any]) -> str:
    sizes = [p.bank_size for p in points if p.bank_size is not None]
    return f"{sizes[0]} -> {sizes[-1]}" if sizes else "-"


# ---- plots -----------------------------------------------------------------------------------------------
def _figure(width: float = 8.0, height: float = 4.5) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _errors(rows: list[ConfigMetrics]) -> list[list[float]]:
    """Asymmetric error bars (percent) around each rate; zero where there is no interval."""
    low = [100 * (m.success_rate - m.ci.low) if m.ci and m.success_rate is not None else 0.0 for m in rows]
    high = [100 * (m.ci.high - m.success_rate) if m.ci and m.success_rate is not None else 0.0 for m in rows]
    return [low, high]


UNDERPOWERED_LABEL = f"underpowered vs baseline (MDE > {100 * power.UNDERPOWERED_MDE:.0f} pp)"


def _underpowered(m: ConfigMetrics) -> bool:
    return bool(m.diff is not None and m.diff.underpowered)


def _bar_group(m: ConfigMetrics, baseline: str | None) -> str:
    if m.config == baseline:
        return "baseline"
    return "underpowered" if _underpowered(m) else "config"


def plot_success(metrics: RunMetrics) -> tuple[Any | None, str]:
    rows = [m for m in metrics.overall if m.success_rate is not None]
    if not rows:
        return None, "no config has a counted episode"
    fig = _figure(max(6.0, 1.1 * len(rows) + 2), 4.5)
    ax = fig.add_subplot()
    x = list(range(len(rows)))
    rates = [100 * (m.success_rate or 0.0) for m in rows]
    groups = (
        ("config", "success rate", {"color": "tab:blue"}),
        ("underpowered", UNDERPOWERED_LABEL, {"color": "tab:blue", "alpha": 0.4, "hatch": "//", "edgecolor": "tab:blue"}),
        ("baseline", f"baseline ({metrics.baseline})", {"color": "tab:orange"}),
    )
    for group, label, style in groups:
        picked = [i for i, m in enumerate(rows) if _bar_group(m, metrics.baseline) == group]
        if picked:
            ax.bar(picked, [rates[i] for i in picked], label=label, **style)
    ax.errorbar(x, rates, yerr=_errors(rows), fmt="none", ecolor="black", capsize=4, label="95% bootstrap CI")
    ax.set_xticks(x, [m.config for m in rows], rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_xlabel("config")
    ax.set_ylabel("success rate (% of episodes)")
    ax.set_title("Success per config (95% CI, bootstrap over tasks)")
    ax.legend(loc="upper right")
    return fig, ""


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def k_series(metrics: RunMetrics) -> dict[str, list[tuple[int, ConfigMetrics]]]:
    """Lines of the success-vs-k plot: one per strategy (and per value of any other field that varies
    across the run's configs, so two case formats are two lines); `none` configs are a line of their own."""
    by_hash = {i.config_hash: i for i in metrics.configs}
    usable = [(m, _flat(by_hash[m.config_hash].config)) for m in metrics.overall if m.success_rate is not None]
    usable = [(m, c) for m, c in usable if "strategy" in c and isinstance(c.get("k"), int)]
    keys = sorted({key for _, c in usable for key in c})
    varying = [key for key in keys if key not in ("name", "strategy", "k") and len({json.dumps(c.get(key)) for _, c in usable}) > 1]
    series: dict[str, list[tuple[int, ConfigMetrics]]] = {}
    for m, c in usable:
        extra = ", ".join(f"{key.rsplit('.', 1)[-1]}={c.get(key)}" for key in varying)
        label = str(c["strategy"]) + (f" ({extra})" if extra else "")
        series.setdefault(label, []).append((int(c["k"]), m))
    return {label: sorted(points, key=lambda p: p[0]) for label, points in sorted(series.items())}


def plot_success_vs_k(metrics: RunMetrics) -> tuple[Any | None, str]:
    series = k_series(metrics)
    if not series:
        return None, "no config has both a `strategy` and a `k` in configs.json"
    fig = _figure()
    ax = fig.add_subplot()
    lines = {label: points for label, points in series.items() if not label.startswith("none")}
    for label, points in series.items():
        if label.startswith("none"):  # k = 0 for every strategy: a reference line with its CI band
            for _, m in points:
                line = ax.axhline(100 * (m.success_rate or 0.0), linestyle="--", color="0.4", label=f"{m.config} (no cases, k=0)")
                if m.ci is not None:
                    ax.axhspan(100 * m.ci.low, 100 * m.ci.high, color=line.get_color(), alpha=0.12)
    dodge = 0.04 * max(1, max((k for pts in series.values() for k, _ in pts), default=1))  # two strategies at one k
    ks = sorted({k for pts in series.values() for k, _ in pts})
    _rate_lines(ax, lines, ks, dodge)
    pad = max(0.5, 0.08 * (ks[-1] - ks[0]))  # room for the dodged points and their caps at both ends
    ax.set_xlim(ks[0] - pad, ks[-1] + pad)
    ax.set_xlabel("k (cases retrieved into the prompt)")
    ax.set_title("Success vs k per strategy (95% CI, bootstrap over tasks)")
    ax.legend(title="strategy")
    return fig, ""


def _rate_lines(ax: Any, lines: dict[str, list[tuple[int, ConfigMetrics]]], xticks: list[int], dodge: float = 0.0) -> None:
    """One success-rate line with CI bars per label, side by side by `dodge` where x values coincide."""
    weak = False
    for i, (label, points) in enumerate(lines.items()):
        rows = [m for _, m in points]
        offset = (i - (len(lines) - 1) / 2) * dodge
        xs, ys = [x + offset for x, _ in points], [100 * (m.success_rate or 0.0) for m in rows]
        bars = ax.errorbar(xs, ys, yerr=_errors(rows), marker="o", capsize=4, label=label)
        hollow = [(x, y) for x, y, m in zip(xs, ys, rows, strict=True) if _underpowered(m)]
        if hollow:  # an underpowered comparison against the baseline: a hollow point over the filled one
            weak = True
            ax.plot(*zip(*hollow, strict=True), linestyle="none", marker="o", markersize=8, markerfacecolor="white",
                    markeredgecolor=bars.lines[0].get_color(), markeredgewidth=1.5, zorder=3)  # fmt: skip
    if weak:
        ax.plot([], [], linestyle="none", marker="o", markersize=8, markerfacecolor="white", markeredgecolor="0.3", label=UNDERPOWERED_LABEL)
    ax.set_xticks(xticks)
    ax.set_ylim(0, 100)
    ax.set_ylabel("success rate (% of episodes)")


def demonstration_series(metrics: RunMetrics, all_seeds: int | None = None) -> dict[str, list[tuple[int, ConfigMetrics]]]:
    """Lines of the data-efficiency plot (LIMI's question): success against the number of demonstrations a
    config draws on, its `seed_subset` (all seeds when unset). One line per road: the served model with
    retrieved cases (the subset is its bank), or a fine-tuned model without them (the subset is what it was
    trained on: `casebank finetune --subset N`, served as NAME-N, so casebank-ft-10 and casebank-ft share a line).
    Both roads start from the same point, 0 demonstrations: the model that reads cases, without them (no cases,
    no fine-tuning). Empty unless a subset varies."""
    by_hash = {i.config_hash: i for i in metrics.configs}
    points: dict[str, list[tuple[int, ConfigMetrics]]] = {}
    plain: dict[str, ConfigMetrics] = {}  # model -> its run without cases (and without a subset)
    case_models: set[str] = set()
    subsets = set()
    for m in metrics.overall:
        config = by_hash[m.config_hash].config
        if m.success_rate is None or "seed_subset" not in config:
            continue
        with_cases = bool(config.get("k")) and config.get("strategy") != "none"
        served = str(config.get("model", "?"))
        if with_cases:
            case_models.add(served)
        elif not config.get("seed_subset"):
            plain[served] = m
        subset = config.get("seed_subset") or all_seeds
        if subset is None:
            continue
        subsets.add(subset)
        model = re.sub(r"-s?\d+$", "", served)  # casebank-ft-10 (trained on 10) is road casebank-ft
        road = f"{model}, {config.get('strategy')} k={config.get('k')}" if with_cases else f"{model}, no cases"
        points.setdefault(road, []).append((int(subset), m))
    if len(subsets) < 2:
        return {}
    # the base model without cases is no road's point at "all seeds": it is every road's 0
    zero = next((plain[name] for name in sorted(case_models) if name in plain), None)
    if zero is not None:
        points = {road: [p for p in pts if p[1] is not zero] for road, pts in points.items()}
        points = {road: [(0, zero), *pts] for road, pts in points.items() if pts}
    return {road: sorted(pts, key=lambda p: p[0]) for road, pts in sorted(points.items()) if len({n for n, _ in pts}) > 1}


def plot_data_efficiency(metrics: RunMetrics, all_seeds: int | None = None) -> tuple[Any | None, str]:
    series = demonstration_series(metrics, all_seeds)
    if not series:
        return None, "no road was run on two or more seed subsets (seed_subset)"
    fig = _figure()
    ax = fig.add_subplot()
    _rate_lines(ax, series, sorted({n for pts in series.values() for n, _ in pts}))
    ax.set_xlabel("demonstrations (seeds in the bank, or trained on)")
    ax.set_title("Success vs number of demonstrations (95% CI, bootstrap over tasks)")
    ax.legend(title="model, retrieval")
    return fig, ""


def plot_learning_curve(metrics: RunMetrics) -> tuple[Any | None, str]:
    curves = metrics.learning_curves
    if not curves:
        return None, "no online (write-back) config in this run"
    fig = _figure(10.0, 4.5)
    rate_ax, bank_ax = fig.subplots(1, 2)
    for label, points in curves.items():
        kept = [p for p in points if p.success_rate is not None]
        rate_ax.plot([p.order for p in kept], [100 * p.success_rate for p in kept], label=label)  # type: ignore[operator]
        sized = [p for p in points if p.bank_size is not None]
        bank_ax.plot([p.order for p in sized], [p.bank_size for p in sized], label=label)
    rate_ax.set_ylim(0, 100)
    rate_ax.set_xlabel("episode (position in the online order)")
    rate_ax.set_ylabel("cumulative success rate (%)")
    rate_ax.set_title("Online learning curve")
    rate_ax.legend(title="config")
    bank_ax.set_xlabel("episode (position in the online order)")
    bank_ax.set_ylabel("bank size (retrievable cases)")
    bank_ax.set_title("Bank size at each episode")
    bank_ax.legend(title="config")
    return fig, ""


def plot_failure_modes(metrics: RunMetrics) -> tuple[Any | None, str]:
    rows = [m for m in metrics.overall if sum(m.failure_modes.values())]
    if not rows:
        return None, "no failed or errored episode"
    fig = _figure(max(6.0, 1.1 * len(rows) + 3), 4.5)
    ax = fig.add_subplot()
    x = list(range(len(rows)))
    bottom = [0] * len(rows)
    colors = {mode: f"C{i}" for i, mode in enumerate(FAILURE_MODES)} | {"error": "0.75"}
    for mode in FAILURE_MODES:
        counts = [m.failure_modes.get(mode, 0) for m in rows]
        if any(counts):
            ax.bar(x, counts, bottom=bottom, label=mode, color=colors[mode], hatch="//" if mode == "error" else None)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_xticks(x, [m.config for m in rows], rotation=30, ha="right")
    ax.set_xlabel("config")
    ax.set_ylabel("episodes (count)")
    ax.set_title("Failure modes per config (error = infrastructure, not a task failure)")
    ax.legend(title="failure mode", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig, ""


PLOTS: dict[str, Callable[[RunMetrics], tuple[Any | None, str]]] = {
    "success": plot_success,
    "success_vs_k": plot_success_vs_k,
    "learning_curve": plot_learning_curve,
    "failure_modes": plot_failure_modes,
    "data_efficiency": plot_data_efficiency,
}


# ---- the whole report ------------------------------------------------------------------------------------
def _seed_count(run_dir: Path) -> int | None:
    """How many seeds the run's full bank holds, for configs without a subset: RUN_DIR/banks/base/built.json,
    or `seed_count` in run.json (the runner records it; a run whose full-bank configs were all copied in has
    no base bank of its own)."""
    try:
        return int(json.loads((run_dir / "banks" / "base" / "built.json").read_text())["cases"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    count = read_run(run_dir).get("seed_count")
    return count if isinstance(count, int) else None


def build_report(run_dir: Path, out: Path | None = None, baseline: str | None = None, **kwargs: Any) -> Report:
    """Read RUN_DIR, write report.md, summary.json and the plots into `out` (default RUN_DIR/report)."""
    run_dir = Path(run_dir)
    records = read_records(run_dir)
    if not records:
        raise ReportError(f"{run_dir}: no episode recorded (expected {run_dir / 'episodes.jsonl'})")
    try:
        metrics = compute(records, read_configs(run_dir), read_run(run_dir), baseline, **kwargs)
    except ValueError as e:
        raise ReportError(str(e)) from None
    out = Path(out) if out is not None else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out=out, report=out / REPORT_FILE, summary=out / SUMMARY_FILE)
    plots = {**PLOTS, "data_efficiency": functools.partial(plot_data_efficiency, all_seeds=_seed_count(run_dir))}
    for name, draw in plots.items():
        fig, why = draw(metrics)
        if fig is None:
            report.skipped[name] = why
            continue
        path = out / f"{name}.png"
        fig.savefig(path)
        report.plots[name] = path
    report.report.write_text(markdown(metrics, report, run_dir), encoding="utf-8")
    summary = {
        "run_dir": str(run_dir),
        **metrics.model_dump(mode="json"),
        "plots": {name: path.name for name, path in report.plots.items()},
        "skipped_plots": report.skipped,
    }
    report.summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return report
