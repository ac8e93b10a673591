"""`casebank report`: the numbers in summary.json and report.md against the JSONL they come from, the
bootstrap CIs against a resampling loop written here with numpy, error-vs-failure accounting, the paired
difference over common tasks only, the online learning curve, and the PNG plots read back as images."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from lab.ablate.grid import AblationConfig
from lab.ablate.metrics import ConfigMetrics, compute
from lab.ablate.records import (
    CONFIGS_FILE, EPISODES_FILE, FAILURE_MODES, RUN_FILE, EpisodeRecord, append_record, read_configs, read_records, read_run,
)  # fmt: skip
from lab.ablate.report import build_report
from lab.ablate.report_cli import report_app

REPEATS = 3
B = 10_000  # the report's resamples and seed, redone here by hand
SEED = 0
# task id -> (family, level, split); "shell" has no seed demonstration (out of distribution)
TASKS = {
    f"t{i:02d}": (["general", "bugfix", "data", "shell"][i % 4], 1 + i % 3, "dev" if i % 2 else "test") for i in range(12)
}
CONFIGS = {
    "none": AblationConfig(name="none", strategy="none", k=0),
    "hybrid-k2": AblationConfig(name="hybrid-k2", strategy="hybrid", k=2),
    "hybrid-k4": AblationConfig(name="hybrid-k4", strategy="hybrid", k=4),
    "dense-k4": AblationConfig(name="dense-k4", strategy="dense", k=4),
    "online": AblationConfig(name="online", strategy="hybrid", k=4, write_back="online"),
}
P_SUCCESS = {"none": 0.25, "hybrid-k2": 0.5, "hybrid-k4": 0.6, "dense-k4": 0.45, "online": 0.55}


def _record(name: str, task: str, repeat: int, status: str, rng: np.random.Generator, config: AblationConfig | None = None,
            **extra: object) -> EpisodeRecord:
    family, level, split = TASKS[task]
    mode = None if status == "success" else ("error" if status == "error" else FAILURE_MODES[1 + int(rng.integers(0, 5))])
    return EpisodeRecord(
        config_hash=(config or CONFIGS[name]).content_hash, config_name=name, task_id=task, repeat=repeat, family=family, level=level,
        split=split, ood=family == "shell", status=status, failure_mode=mode, seed=repeat,  # type: ignore[arg-type]
        model_calls=int(rng.integers(1, 13)), tool_calls=int(rng.integers(0, 12)), tool_errors=int(rng.integers(0, 3)),
        prompt_tokens=int(rng.integers(500, 9000)), completion_tokens=int(rng.integers(20, 400)),
        wall_s=round(float(rng.uniform(1, 90)), 3), retrieval_ms=round(float(rng.uniform(0, 40)), 3), **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def write_run(run_dir: Path, *, configs: dict[str, AblationConfig] = CONFIGS, baseline: str | None = "none") -> None:
    """A synthetic run: 5 configs x 12 tasks x 3 repeats, with infrastructure errors, a rerun that replaced an
    error, tasks one config lacks, an online config with order and bank size, and a torn last line."""
    rng = np.random.default_rng(7)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIGS_FILE).write_text(json.dumps({c.content_hash: {"name": n, "config": c.model_dump(mode="json")} for n, c in configs.items()}))
    (run_dir / RUN_FILE).write_text(json.dumps({"baseline": baseline, "tasks": sorted(TASKS), "seed_families": ["bugfix", "data", "general"], "repeats": REPEATS}))
    order = 0
    for name in configs:
        for task in TASKS:
            if name == "none" and task == "t11":
                continue  # the baseline never ran t11
            for r in range(REPEATS):
                status = "success" if rng.random() < P_SUCCESS[name] else "failure"
                if name == "hybrid-k4" and (task == "t03" or (task == "t05" and r == 1)):
                    status = "error"  # every repeat of t03 errored: hybrid-k4 lacks t03
                extra: dict[str, object] = {}
                if name == "online":
                    extra = {"order": order, "bank_size": 78 + int(rng.integers(0, 2)) + order // 3}
                    order += 1
                append_record(run_dir, _record(name, task, r, status, rng, **extra))
    # an error episode that a later rerun finished: the later record wins
    append_record(run_dir, _record("dense-k4", "t00", 0, "error", rng))
    append_record(run_dir, _record("dense-k4", "t00", 0, "success", rng))
    # a kill mid-append: a torn last line (a success that must not count)
    torn = _record("none", "t11", 0, "success", rng).model_dump_json()
    with (run_dir / EPISODES_FILE).open("a") as f:
        f.write(torn[: len(torn) // 2])


def raw_records(run_dir: Path) -> dict[str, list[dict]]:
    """The JSONL read independently of the code under test: parseable lines, later key wins, by config name."""
    by_key: dict[tuple, dict] = {}
    for line in (run_dir / EPISODES_FILE).read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        by_key[(rec["config_hash"], rec["task_id"], rec["repeat"])] = rec
    out: dict[str, list[dict]] = defaultdict(list)
    for rec in by_key.values():
        out[rec["config_name"]].append(rec)
    return out


def task_tally(recs: list[dict]) -> dict[str, tuple[int, int]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in recs:
        if r["status"] != "error":
            tally[r["task_id"]][0] += r["status"] == "success"
            tally[r["task_id"]][1] += 1
    return {t: (s, n) for t, (s, n) in sorted(tally.items())}


def percentile_ci(stats: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def ci_by_hand(tally: dict[str, tuple[int, int]]) -> tuple[float, float]:
    """Cluster percentile bootstrap: resample task ids, successes / episodes over the resampled tasks."""
    s = np.array([v[0] for v in tally.values()], dtype=float)
    n = np.array([v[1] for v in tally.values()], dtype=float)
    idx = np.random.default_rng(SEED).integers(0, len(s), size=(B, len(s)))
    return percentile_ci(s[idx].sum(axis=1) / n[idx].sum(axis=1))


def paired_by_hand(mine: dict[str, tuple[int, int]], base: dict[str, tuple[int, int]]) -> tuple[int, float, tuple[float, float]]:
    common = sorted(set(mine) & set(base))
    a = np.array([mine[t][0] / mine[t][1] for t in common])
    b = np.array([base[t][0] / base[t][1] for t in common])
    idx = np.random.default_rng(SEED).integers(0, len(common), size=(B, len(common)))
    return len(common), float(a.mean() - b.mean()), percentile_ci(a[idx].mean(axis=1) - b[idx].mean(axis=1))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    run_dir = tmp_path_factory.mktemp("run")
    write_run(run_dir)
    report = build_report(run_dir, run_dir / "out")
    summary = json.loads(report.summary.read_text())
    return run_dir, report.out, summary


def overall(summary: dict) -> dict[str, dict]:
    return {m["config"]: m for m in summary["overall"]}


# ---- numbers --------------------------------------------------------------------------------------------
def test_counts_and_rates_in_summary_equal_the_jsonl(built: tuple[Path, Path, dict]) -> None:
    run_dir, _, summary = built
    raw = raw_records(run_dir)
    rows = overall(summary)
    assert list(rows) == list(CONFIGS)  # every config, in the run's order
    for name, recs in raw.items():
        ok = sum(r["status"] == "success" for r in recs)
        failed = sum(r["status"] == "failure" for r in recs)
        m = rows[name]
        assert (m["successes"], m["failures"], m["n"], m["n_error"]) == (ok, failed, ok + failed, len(recs) - ok - failed)
        assert m["success_rate"] == pytest.approx(ok / (ok + failed))
        assert m["n_tasks"] == len(task_tally(recs))
        kept = [r for r in recs if r["status"] != "error"]
        for field in ("model_calls", "tool_errors", "prompt_tokens", "completion_tokens", "wall_s", "retrieval_ms"):
            assert m["means"][field] == pytest.approx(np.mean([r[field] for r in kept]))
        modes = {mode: sum(r["failure_mode"] == mode for r in recs) for mode in FAILURE_MODES}
        assert m["failure_modes"] == modes
    assert rows["none"]["n"] == 11 * REPEATS  # t11 only in the torn line: not counted
    assert rows["dense-k4"]["n"] == 12 * REPEATS and rows["dense-k4"]["n_error"] == 0  # the rerun replaced the error


def test_errors_are_excluded_not_counted_as_failures(built: tuple[Path, Path, dict]) -> None:
    run_dir, _, summary = built
    m = overall(summary)["hybrid-k4"]
    assert m["n_error"] == REPEATS + 1  # t03 x 3, t05 repeat 1
    assert m["n"] == 12 * REPEATS - m["n_error"]
    assert m["failures"] == m["n"] - m["successes"]
    assert m["failure_modes"]["error"] == m["n_error"]
    assert sum(v for k, v in m["failure_modes"].items() if k != "error") == m["failures"]
    assert m["n_tasks"] == 11  # t03 had only errors
    # pass@R / all-R only over tasks with all R repeats free of errors (t03 and t05 are not)
    assert m["n_tasks_all_repeats"] == 10
    complete = defaultdict(list)
    for r in raw_records(run_dir)["hybrid-k4"]:
        if r["task_id"] not in ("t03", "t05"):
            complete[r["task_id"]].append(r["status"] == "success")
    assert m["pass_at_r"] == pytest.approx(sum(map(any, complete.values())) / 10)
    assert m["all_r"] == pytest.approx(sum(map(all, complete.values())) / 10)


def test_success_cis_equal_an_independent_bootstrap(built: tuple[Path, Path, dict]) -> None:
    run_dir, _, summary = built
    raw = raw_records(run_dir)
    for name, m in overall(summary).items():
        low, high = ci_by_hand(task_tally(raw[name]))
        assert (m["ci"]["low"], m["ci"]["high"]) == pytest.approx((low, high), abs=1e-12)
        assert low <= m["success_rate"] <= high
    # the breakdowns use the same method on their subset
    test_none = next(m for m in summary["breakdowns"]["split"]["test"] if m["config"] == "none")
    low, high = ci_by_hand(task_tally([r for r in raw["none"] if r["split"] == "test"]))
    assert (test_none["ci"]["low"], test_none["ci"]["high"]) == pytest.approx((low, high), abs=1e-12)


def test_paired_difference_uses_common_tasks_only(built: tuple[Path, Path, dict]) -> None:
    run_dir, _, summary = built
    raw = raw_records(run_dir)
    base = task_tally(raw["none"])
    rows = overall(summary)
    assert summary["baseline"] == "none" and rows["none"]["diff"] is None
    for name in ("hybrid-k2", "hybrid-k4", "dense-k4", "online"):
        mine = task_tally(raw[name])
        n, diff, (low, high) = paired_by_hand(mine, base)
        d = rows[name]["diff"]
        assert d["baseline"] == "none"
        assert d["n_tasks"] == n
        assert d["diff"] == pytest.approx(diff)
        assert (d["ci"]["low"], d["ci"]["high"]) == pytest.approx((low, high), abs=1e-12)
    # t11 (baseline lacks it) and t03 (hybrid-k4 only errored) drop out of hybrid-k4's pairs
    assert rows["hybrid-k4"]["diff"]["n_tasks"] == 10
    assert rows["hybrid-k2"]["diff"]["n_tasks"] == 11
    # not the unpaired difference of the two rates
    unpaired = rows["hybrid-k4"]["success_rate"] - rows["none"]["success_rate"]
    assert rows["hybrid-k4"]["diff"]["diff"] != pytest.approx(unpaired)


def test_breakdowns_by_split_level_family_and_distribution(built: tuple[Path, Path, dict]) -> None:
    run_dir, _, summary = built
    raw = raw_records(run_dir)
    keys = {
        "split": lambda r: r["split"], "level": lambda r: f"L{r['level']}", "split_level": lambda r: f"{r['split']}/L{r['level']}",
        "family": lambda r: r["family"], "distribution": lambda r: "out-of-distribution" if r["ood"] else "in-distribution",
    }  # fmt: skip
    assert set(summary["breakdowns"]["split"]) == {"dev", "test"}
    assert set(summary["breakdowns"]["distribution"]) == {"in-distribution", "out-of-distribution"}
    for dim, key in keys.items():
        for value, table in summary["breakdowns"][dim].items():
            for m in table:
                recs = [r for r in raw[m["config"]] if key(r) == value]
                ok = sum(r["status"] == "success" for r in recs)
                kept = sum(r["status"] != "error" for r in recs)
                assert (m["successes"], m["n"], m["n_error"]) == (ok, kept, len(recs) - kept), (dim, value, m["config"])


def test_learning_curve_of_the_online_config(built: tuple[Path, Path, dict]) -> None:
    run_dir, _, summary = built
    assert list(summary["learning_curves"]) == ["online"]  # only records with an order
    points = summary["learning_curves"]["online"]
    recs = sorted(raw_records(run_dir)["online"], key=lambda r: r["order"])
    assert [p["order"] for p in points] == [r["order"] for r in recs] == list(range(12 * REPEATS))
    wins = np.cumsum([r["status"] == "success" for r in recs]) / np.arange(1, len(recs) + 1)
    assert [p["success_rate"] for p in points] == pytest.approx(list(wins))
    assert [p["bank_size"] for p in points] == [r["bank_size"] for r in recs]


# ---- report.md ------------------------------------------------------------------------------------------
def md_rows(text: str, section: str) -> list[dict[str, str]]:
    """The first Markdown table after a `## section` heading, as dicts."""
    body = text.split(f"## {section}\n", 1)[1].splitlines()
    start = next(i for i, ln in enumerate(body) if ln.startswith("|"))
    end = next((i for i in range(start, len(body)) if not body[i].startswith("|")), len(body))
    lines = body[start:end]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True)) for ln in lines[2:]]


def test_report_md_main_table_equals_the_jsonl(built: tuple[Path, Path, dict]) -> None:
    run_dir, out, summary = built
    text = (out / "report.md").read_text()
    raw = raw_records(run_dir)
    rows = {r["config"]: r for r in md_rows(text, "Per config")}
    assert list(rows) == list(CONFIGS)
    for name, recs in raw.items():
        ok = sum(r["status"] == "success" for r in recs)
        kept = sum(r["status"] != "error" for r in recs)
        row = rows[name]
        assert int(row["n"]) == kept and int(row["errors"]) == len(recs) - kept
        assert row["success %"] == f"{100 * ok / kept:.1f}"
        low, high = ci_by_hand(task_tally(recs))
        assert row["95% CI"] == f"[{100 * low:.1f}, {100 * high:.1f}]"
        assert row["steps"] == f"{np.mean([r['model_calls'] for r in recs if r['status'] != 'error']):.1f}"
        assert f"pass@{REPEATS} %" in row and f"all-{REPEATS} %" in row
    assert rows["none"]["diff vs baseline (pp) [95% CI]"] == "baseline"
    d = overall(summary)["hybrid-k4"]["diff"]
    assert rows["hybrid-k4"]["diff vs baseline (pp) [95% CI]"] == f"{100 * d['diff']:+.1f} [{100 * d['ci']['low']:.1f}, {100 * d['ci']['high']:.1f}] (n=10)"
    split_rows = md_rows(text, "By split (dev / test)")
    assert {(r["split"], r["config"]) for r in split_rows} == {(s, c) for s in ("dev", "test") for c in CONFIGS}
    failures = {r["config"]: r for r in md_rows(text, "Failure modes")}
    assert int(failures["hybrid-k4"]["error"]) == overall(summary)["hybrid-k4"]["n_error"]
    for plot in ("success", "success_vs_k", "learning_curve", "failure_modes"):
        assert f"]({plot}.png)" in text


def test_plots_are_valid_pngs(built: tuple[Path, Path, dict]) -> None:
    _, out, summary = built
    assert set(summary["plots"]) == {"success", "success_vs_k", "learning_curve", "failure_modes"}
    assert summary["skipped_plots"] == {"data_efficiency": "no road was run on two or more seed subsets (seed_subset)"}
    for name in summary["plots"]:
        image = imread(out / f"{name}.png")
        assert image.ndim == 3 and image.shape[2] in (3, 4), name
        assert image.shape[0] >= 300 and image.shape[1] >= 500, (name, image.shape)
        assert float(image[..., :3].std()) > 0.05, f"{name} is blank"  # something is drawn


def test_success_vs_k_lines_per_strategy(built: tuple[Path, Path, dict]) -> None:
    from lab.ablate.metrics import RunMetrics
    from lab.ablate.report import k_series

    _, _, summary = built
    series = k_series(RunMetrics.model_validate(summary))
    # write_back varies across the run's configs, so it names the lines apart
    assert {label: [k for k, _ in pts] for label, pts in series.items()} == {
        "dense (write_back=off)": [4], "hybrid (write_back=off)": [2, 4], "hybrid (write_back=online)": [4], "none (write_back=off)": [0],
    }  # fmt: skip


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_run(run_dir)  # ends in a torn line already (a "none" success on t11)

    def numbers() -> list[ConfigMetrics]:
        return compute(read_records(run_dir), read_configs(run_dir), read_run(run_dir), n_resamples=200).overall

    before = numbers()
    assert next(m for m in before if m.config == "none").n_tasks == 11
    # the torn line ended by the next append: that record is still dropped; a new torn tail is ignored too
    append_record(run_dir, _record("none", "t00", 1, "failure", np.random.default_rng(1)))
    with (run_dir / EPISODES_FILE).open("a") as f:
        f.write('{"config_hash": "' + CONFIGS["none"].content_hash + '", "config_name": "none", "task_id": "t1')
    after = {m.config: m for m in numbers()}
    assert after["none"].n_tasks == 11 and after["none"].n == 11 * REPEATS
    assert after["none"].successes == sum(r["status"] == "success" for r in raw_records(run_dir)["none"])


def test_data_efficiency_lines_per_road(tmp_path: Path) -> None:
    """LIMI's curve: success against the demonstrations each config draws on, one line per road; a config
    without a subset counts every seed of the run's bank; the base model without cases is both roads' 0."""
    from lab.ablate.report import demonstration_series

    run_dir = tmp_path / "run"
    configs = {
        "base-none": AblationConfig(name="base-none", strategy="none", k=0),
        **{f"cases-{n}": AblationConfig(name=f"cases-{n}", strategy="hybrid", k=4, seed_subset=n) for n in (10, 40)},
        "cases-all": AblationConfig(name="cases-all", strategy="hybrid", k=4),
        **{f"ft-{n}": AblationConfig(name=f"ft-{n}", model=f"casebank-ft-{n}", strategy="none", k=0, seed_subset=n) for n in (10, 40)},
        "ft-all": AblationConfig(name="ft-all", model="casebank-ft", strategy="none", k=0),
    }
    (run_dir / "banks" / "base").mkdir(parents=True)
    (run_dir / "banks" / "base" / "built.json").write_text(json.dumps({"cases": 78, "ids": []}))
    (run_dir / CONFIGS_FILE).write_text(json.dumps({c.content_hash: {"name": n, "config": c.model_dump(mode="json")} for n, c in configs.items()}))
    (run_dir / RUN_FILE).write_text(json.dumps({"baseline": "base-none", "tasks": sorted(TASKS), "repeats": 1}))
    rng = np.random.default_rng(3)
    wins = {"base-none": 2, "cases-10": 3, "cases-40": 5, "cases-all": 6, "ft-10": 1, "ft-40": 4, "ft-all": 7}
    for name, config in configs.items():
        for i, task in enumerate(sorted(TASKS)):
            append_record(run_dir, _record(name, task, 0, "success" if i < wins[name] else "failure", rng, config=config))
    report = build_report(run_dir, n_resamples=200)
    assert "data_efficiency" in report.plots and imread(report.plots["data_efficiency"]).shape[0] >= 300
    summary = json.loads(report.summary.read_text())
    from lab.ablate.metrics import RunMetrics

    series = demonstration_series(RunMetrics.model_validate(summary), all_seeds=78)
    assert {road: [(n, m.config, m.successes) for n, m in pts] for road, pts in series.items()} == {
        "qwen2.5-coder-0.5b-instruct, hybrid k=4": [(0, "base-none", 2), (10, "cases-10", 3), (40, "cases-40", 5), (78, "cases-all", 6)],
        "casebank-ft, no cases": [(0, "base-none", 2), (10, "ft-10", 1), (40, "ft-40", 4), (78, "ft-all", 7)],
    }  # base-none (no cases, not fine-tuned) is 0 demonstrations on both roads, not 78
    assert demonstration_series(RunMetrics.model_validate(summary), all_seeds=None)["qwen2.5-coder-0.5b-instruct, hybrid k=4"][-1][0] == 40
    # a run whose full-bank configs were copied in has no base bank: the seed count comes from run.json
    from lab.ablate.report import _seed_count

    shutil.rmtree(run_dir / "banks" / "base")
    assert _seed_count(run_dir) is None
    (run_dir / RUN_FILE).write_text(json.dumps({"baseline": "base-none", "tasks": sorted(TASKS), "repeats": 1, "seed_count": 78}))
    assert _seed_count(run_dir) == 78


# ---- plots skipped, the command ---------------------------------------------------------------------------
def test_plots_without_data_are_skipped_and_said(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    offline = {n: c for n, c in CONFIGS.items() if n != "online"}
    write_run(run_dir, configs=offline, baseline="gone")
    (run_dir / CONFIGS_FILE).write_text("{}")  # no config details: no strategy, no k
    report = build_report(run_dir, n_resamples=200)
    assert report.out == run_dir / "report"
    assert set(report.skipped) == {"success_vs_k", "learning_curve", "data_efficiency"}
    text = report.report.read_text()
    assert "`learning_curve.png` skipped: no online (write-back) config in this run" in text
    assert "`success_vs_k.png` skipped" in text
    assert not (report.out / "learning_curve.png").exists()
    rows = {r["config"]: r for r in md_rows(text, "Per config")}
    assert set(rows) == set(offline)  # names come from the records when configs.json lacks them
    assert {r["diff vs baseline (pp) [95% CI]"] for r in rows.values()} == {"-"}
    assert "baseline: 'gone' (from run.json) has no records: no paired differences." in text


def test_report_command(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_run(run_dir, configs={n: CONFIGS[n] for n in ("none", "hybrid-k2")})
    runner = CliRunner()
    result = runner.invoke(report_app, [str(run_dir), "--out", str(tmp_path / "out"), "--baseline", "hybrid-k2"])
    assert result.exit_code == 0, result.output
    output = re.sub(r"\s+", " ", result.output)
    assert str(tmp_path / "out" / "report.md") in output and "summary.json" in output and "failure_modes.png" in output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["baseline"] == "hybrid-k2"
    assert overall(summary)["hybrid-k2"]["diff"] is None and overall(summary)["none"]["diff"]["baseline"] == "hybrid-k2"

    bad = runner.invoke(report_app, [str(run_dir), "--baseline", "nope"])
    assert bad.exit_code == 2
    assert "baseline 'nope' is not a config of this run" in re.sub(r"\s+", " ", bad.output)
    assert "Traceback" not in bad.output
    missing = runner.invoke(report_app, [str(tmp_path / "absent")])
    assert missing.exit_code == 2 and "no such run directory" in re.sub(r"\s+", " ", missing.output)
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(report_app, [str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "no episode recorded" in re.sub(r"\s+", " ", empty.output)


# ---- McNemar's test and the minimum detectable effect ------------------------------------------------------
def mde_by_bisection(n: int, p0: float, alpha: float = 0.05, power: float = 0.80) -> float | None:
    """The MDE redone here: Connor's (1987) McNemar sample size with the discordance of independent outcomes,
    n(delta) = (z_{1-alpha/2} sqrt(psi) + z_power sqrt(psi - delta^2))^2 / delta^2, psi = p0 q1 + p1 q0,
    solved for the smallest delta in (0, 1 - p0] by bisection (n(delta) falls as delta grows)."""
    from scipy.stats import norm

    def needed(delta: float) -> float:
        p1 = p0 + delta
        psi = p0 * (1 - p1) + p1 * (1 - p0)
        return (norm.ppf(1 - alpha / 2) * psi**0.5 + norm.ppf(power) * (p0 * (1 - p0) + p1 * (1 - p1)) ** 0.5) ** 2 / delta**2

    low, high = 1e-12, 1 - p0
    if needed(high) > n:
        return None
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (low, mid) if needed(mid) <= n else (mid, high)
    return high


def mcnemar_by_hand(mine: dict[str, tuple[int, int]], base: dict[str, tuple[int, int]]) -> tuple[int, int, float, float]:
    """(b, c, exact two-sided p from the binomial pmf, the baseline's mean per-task success) over common tasks;
    a task is solved when more than half its counted repeats succeeded."""
    from scipy.stats import binom

    common = sorted(set(mine) & set(base))
    here = {t: mine[t][0] / mine[t][1] > 0.5 for t in common}
    there = {t: base[t][0] / base[t][1] > 0.5 for t in common}
    b = sum(here[t] and not there[t] for t in common)
    c = sum(there[t] and not here[t] for t in common)
    p = 1.0 if b + c == 0 else min(1.0, 2 * float(binom.cdf(min(b, c), b + c, 0.5)))
    return b, c, p, float(np.mean([base[t][0] / base[t][1] for t in common]))


def test_mcnemar_and_mde_equal_independent_computations(built: tuple[Path, Path, dict]) -> None:
    from scipy.stats import norm

    run_dir, _, summary = built
    raw = raw_records(run_dir)
    base = task_tally(raw["none"])
    checked_discordant = 0
    for name in ("hybrid-k2", "hybrid-k4", "dense-k4", "online"):
        d = overall(summary)[name]["diff"]
        b, c, p, p0 = mcnemar_by_hand(task_tally(raw[name]), base)
        assert (d["mcnemar_b"], d["mcnemar_c"]) == (b, c), name
        assert d["mcnemar_p"] == pytest.approx(p, rel=1e-9), name
        checked_discordant += b + c
        assert d["baseline_rate"] == pytest.approx(p0)
        n = d["n_tasks"]
        expected = mde_by_bisection(n, p0)
        if expected is None:
            assert d["mde"] is None
        else:
            assert d["mde"] == pytest.approx(expected, abs=1e-7), name
            # at the MDE the normal-approximation power of McNemar's test is 80%
            p1 = p0 + d["mde"]
            psi = p0 * (1 - p1) + p1 * (1 - p0)
            achieved = norm.cdf((d["mde"] * n**0.5 - norm.ppf(0.975) * psi**0.5) / (psi - d["mde"] ** 2) ** 0.5)
            assert achieved == pytest.approx(0.80, abs=1e-6)
        assert d["underpowered"] is (expected is None or expected > 0.10)
    assert checked_discordant > 0  # the synthetic run has discordant tasks
    # the breakdowns run the same test on their subset
    for value, table in summary["breakdowns"]["split"].items():
        m = next(m for m in table if m["config"] == "hybrid-k4")
        b, c, p, p0 = mcnemar_by_hand(task_tally([r for r in raw["hybrid-k4"] if r["split"] == value]),
                                      task_tally([r for r in raw["none"] if r["split"] == value]))  # fmt: skip
        assert (m["diff"]["mcnemar_b"], m["diff"]["mcnemar_c"]) == (b, c)
        assert m["diff"]["mcnemar_p"] == pytest.approx(p, rel=1e-9)
        assert m["diff"]["mde"] == pytest.approx(mde_by_bisection(m["diff"]["n_tasks"], p0), abs=1e-7)
    assert "Connor (1987)" in summary["method"]["mde"] and summary["method"]["underpowered_above"] == 0.10


def test_mde_and_mcnemar_functions_against_scipy() -> None:
    from scipy.stats import binom

    from lab.ablate.power import mcnemar_exact, minimum_detectable_effect, required_tasks

    for n, p0 in [(95, 0.0526), (200, 0.05), (30, 0.3), (1000, 0.5), (12, 0.0), (200, 0.85)]:
        expected = mde_by_bisection(n, p0)
        assert expected is not None
        assert minimum_detectable_effect(n, p0) == pytest.approx(expected, abs=1e-8), (n, p0)
        assert required_tasks(expected, p0) == pytest.approx(n, rel=1e-6)
    assert minimum_detectable_effect(95, 0.0526) == pytest.approx(0.133, abs=5e-4)  # the ladder: 95 tasks, none at 5.3%
    assert minimum_detectable_effect(3, 0.5) is None and mde_by_bisection(3, 0.5) is None  # nothing detectable
    assert minimum_detectable_effect(0, 0.2) is None and minimum_detectable_effect(10, 1.0) is None
    for b, c in [(5, 1), (0, 7), (3, 3), (12, 30), (1, 0)]:
        assert mcnemar_exact(b, c) == pytest.approx(min(1.0, 2 * binom.cdf(min(b, c), b + c, 0.5)), rel=1e-12)
    assert mcnemar_exact(0, 0) == 1.0


def _big_run(run_dir: Path, n_tasks: int = 200) -> None:
    """Two configs on n_tasks tasks (half dev, half test), one repeat: the baseline solves 5%, the other 15%."""
    configs = {"none": CONFIGS["none"], "dense-k4": CONFIGS["dense-k4"]}
    wins = {"none": n_tasks // 20, "dense-k4": 3 * n_tasks // 20}
    run_dir.mkdir(parents=True)
    (run_dir / CONFIGS_FILE).write_text(json.dumps({c.content_hash: {"name": n, "config": c.model_dump(mode="json")} for n, c in configs.items()}))
    (run_dir / RUN_FILE).write_text(json.dumps({"baseline": "none", "repeats": 1}))
    for name, config in configs.items():
        for i in range(n_tasks):
            ok = i < wins[name]
            append_record(run_dir, EpisodeRecord(
                config_hash=config.content_hash, config_name=name, task_id=f"b{i:03d}", repeat=0, family="general", level=1,
                split="dev" if i % 2 else "test", ood=False, status="success" if ok else "failure",
                failure_mode=None if ok else "step_limit", seed=0,
            ))  # fmt: skip


def test_underpowered_comparisons_are_labelled_in_report_md_and_the_plots(built: tuple[Path, Path, dict], tmp_path: Path) -> None:
    from lab.ablate.metrics import RunMetrics
    from lab.ablate.report import UNDERPOWERED_LABEL, plot_success

    # the synthetic run: 10-11 tasks per comparison, every comparison underpowered
    _, out, summary = built
    rows = {r["config"]: r for r in md_rows((out / "report.md").read_text(), "Per config")}
    assert rows["none"]["MDE at 80% power (pp)"] == "-" and rows["none"]["McNemar p (b/c)"] == "-"
    for name in ("hybrid-k2", "hybrid-k4", "dense-k4", "online"):
        d = overall(summary)[name]["diff"]
        assert rows[name]["MDE at 80% power (pp)"] == f"{100 * d['mde']:.1f} underpowered"
        assert rows[name]["McNemar p (b/c)"] == f"{d['mcnemar_p']:.3f} ({d['mcnemar_b']}/{d['mcnemar_c']})"
    assert "`underpowered`" in (out / "report.md").read_text()

    # 200 tasks at a 5% baseline: the overall comparison detects 8 points, each split (100 tasks) only 13
    run_dir = tmp_path / "big"
    _big_run(run_dir)
    report = build_report(run_dir, n_resamples=200)
    text = report.report.read_text()
    big = json.loads(report.summary.read_text())
    d = overall(big)["dense-k4"]["diff"]
    assert d["underpowered"] is False and d["mde"] == pytest.approx(mde_by_bisection(200, 0.05), abs=1e-7) and d["mde"] < 0.10
    assert (d["mcnemar_b"], d["mcnemar_c"]) == (20, 0) and d["mcnemar_p"] == pytest.approx(2 * 0.5**20)
    row = {r["config"]: r for r in md_rows(text, "Per config")}["dense-k4"]
    assert row["MDE at 80% power (pp)"] == f"{100 * d['mde']:.1f}" and "underpowered" not in row["MDE at 80% power (pp)"]
    assert row["McNemar p (b/c)"] == "<0.001 (20/0)"
    split_rows = [r for r in md_rows(text, "By split (dev / test)") if r["config"] == "dense-k4"]
    assert len(split_rows) == 2 and all(r["MDE at 80% power (pp)"].endswith(" underpowered") for r in split_rows)

    # the success plot: underpowered bars hatched and faded, with a legend entry; none in the big run's plot
    def legend_and_hatches(metrics: RunMetrics) -> tuple[list[str], dict[str, str | None]]:
        fig, _ = plot_success(metrics)
        ax = fig.axes[0]
        names = [t.get_text() for t in ax.get_xticklabels()]
        hatch = {round(p.get_x() + p.get_width() / 2): p.get_hatch() for p in ax.patches}  # bar centre -> hatch
        return [t.get_text() for t in ax.get_legend().get_texts()], {name: hatch[i] for i, name in enumerate(names)}

    labels, hatches = legend_and_hatches(RunMetrics.model_validate(summary))
    assert UNDERPOWERED_LABEL in labels
    assert hatches["none"] is None and hatches["dense-k4"] == "//"
    labels, hatches = legend_and_hatches(RunMetrics.model_validate(big))
    assert UNDERPOWERED_LABEL not in labels and set(hatches.values()) == {None}
