"""Two models' four-way tables in one table: the same configs and the same tasks, paired CIs (issue 27).

    python benchmarks/two_models.py [--out benchmarks/results/two_models] [--row LABEL=RUN_DIR:CONFIG ...]

Each row is one config of one run dir (a model is a label, e.g. "0.5B"). The default rows are the committed
0.5B runs (ladder_turns: none and dense-k4 with cases as turns; fourway: ft-none and ft-dense-k4) and the 1.5B's
benchmarks/results/fourway_1.5b; a row whose run dir or config has no episodes yet is listed as missing.

For every row: success over all tasks, by level and on the test split, each with its cluster-bootstrap 95% CI
(lab.ablate.metrics, the report's); the paired difference from its model's `none` over the tasks both have,
as `casebank report` computes it (CI, the discordant tasks, McNemar's exact p, the MDE); and the paired
difference from the first model's row of the same config. The harness
fingerprints of each run dir are listed: rows from run dirs with different fingerprints ran on different
agent code. Writes report.md, summary.json and success.png (success by config and model, with the CIs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_ROWS = [
    "0.5B=benchmarks/results/ladder_turns:none",
    "0.5B=benchmarks/results/ladder_turns:dense-k4",
    "0.5B=benchmarks/results/fourway:ft-none",
    "0.5B=benchmarks/results/fourway:ft-dense-k4",
    "1.5B=benchmarks/results/fourway_1.5b:none",
    "1.5B=benchmarks/results/fourway_1.5b:dense-k4",
    "1.5B=benchmarks/results/fourway_1.5b:ft-none",
    "1.5B=benchmarks/results/fourway_1.5b:ft-dense-k4",
]
# The default model's targets on the test split (issue 27): success % by level and over all tasks.
TARGETS = {"L1": 85.0, "L2": 50.0, "L3": 20.0, "all": 35.0}


def parse_row(spec: str) -> tuple[str, Path, str]:
    label, _, rest = spec.partition("=")
    run_dir, _, config = rest.rpartition(":")
    if not (label and run_dir and config):
        raise SystemExit(f"--row {spec!r}: expected LABEL=RUN_DIR:CONFIG")
    path = Path(run_dir)
    return label, path if path.is_absolute() else ROOT / path, config


def rate(records: list[Any]) -> dict[str, Any]:
    from lab.ablate.metrics import counted, success_interval

    value, ci = success_interval(records)
    return {"n": len(counted(records)), "success": None if value is None else round(100 * value, 1),
            "ci": None if ci is None else [round(100 * ci.low, 1), round(100 * ci.high, 1)]}


def paired(records: list[Any], other: list[Any], name: str) -> dict[str, Any]:
    """The report's paired comparison (lab.ablate.metrics.paired_difference: bootstrap CI, McNemar, MDE)."""
    from lab.ablate.metrics import paired_difference

    d = paired_difference(records, other, name)
    return {"vs": name, "tasks": d.n_tasks, "diff_pp": None if d.diff is None else round(100 * d.diff, 1),
            "ci_pp": None if d.ci is None else [round(100 * d.ci.low, 1), round(100 * d.ci.high, 1)],
            "only_this": d.mcnemar_b, "only_other": d.mcnemar_c, "mcnemar_p": d.mcnemar_p,
            "mde_pp": None if d.mde is None else round(100 * d.mde, 1), "underpowered": d.underpowered}


def load_rows(specs: list[str]) -> list[dict[str, Any]]:
    from lab.ablate.records import read_records
    from lab.ablate.runner import run_fingerprints

    rows = []
    for label, run_dir, config in (parse_row(s) for s in specs):
        records = [r for r in read_records(run_dir) if r.config_name == config] if run_dir.is_dir() else []
        rows.append({"model": label, "config": config, "run_dir": str(run_dir.relative_to(ROOT)) if run_dir.is_relative_to(ROOT) else str(run_dir),
                     "harness": sorted(run_fingerprints(run_dir)) if run_dir.is_dir() else [], "records": records})
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first_model = rows[0]["model"] if rows else None
    by_key = {(r["model"], r["config"]): r for r in rows}
    out = []
    for row in rows:
        recs = row["records"]
        s: dict[str, Any] = {k: row[k] for k in ("model", "config", "run_dir", "harness")}
        if not recs:
            out.append({**s, "missing": True})
            continue
        s["all"] = rate(recs)
        s["levels"] = {f"L{lv}": rate([r for r in recs if r.level == lv]) for lv in (1, 2, 3)}
        test = [r for r in recs if r.split == "test"]
        s["test"] = {"all": rate(test), **{f"L{lv}": rate([r for r in test if r.level == lv]) for lv in (1, 2, 3)}}
        none = by_key.get((row["model"], "none"))
        if row["config"] != "none" and none and none["records"]:
            s["vs_none"] = paired(recs, none["records"], f"{row['model']} none")
            s["vs_none_test"] = paired(test, [r for r in none["records"] if r.split == "test"], f"{row['model']} none, test")
        peer = by_key.get((first_model, row["config"]))
        if row["model"] != first_model and peer and peer["records"]:
            s["vs_first_model"] = paired(recs, peer["records"], f"{first_model} {row['config']}")
        out.append(s)
    return out


def _pct(r: dict[str, Any] | None) -> str:
    if not r or r.get("success") is None:
        return "n/a"
    ci = f" [{r['ci'][0]}, {r['ci'][1]}]" if r.get("ci") else ""
    return f"{r['success']}{ci} (n={r['n']})"


def _diff(d: dict[str, Any] | None) -> str:
    if not d or d.get("diff_pp") is None:
        return ""
    ci = f" [{d['ci_pp'][0]}, {d['ci_pp'][1]}]" if d.get("ci_pp") else ""
    p = f", p={d['mcnemar_p']:.3g}" if d.get("mcnemar_p") is not None else ""
    mde = f", MDE {d['mde_pp']}" if d.get("mde_pp") is not None else ""
    return f"{d['diff_pp']:+.1f}{ci}; {d['only_this']} vs {d['only_other']}{p}{mde}{' underpowered' if d.get('underpowered') else ''}"


def markdown(summary: list[dict[str, Any]]) -> str:
    lines = ["# Two models, the four-way table on the held-out ladder", "",
             "Success % [cluster-bootstrap 95% CI over tasks] (n episodes); infrastructure errors excluded. "
             "Paired differences in percentage points over the tasks both rows have [95% CI]; "
             "`a vs b`: tasks only this row solved vs only the other; p: McNemar's exact test on those; MDE: the smallest "
             "gain 80% power detects at that n and baseline rate (lab.ablate.power), `underpowered` above 10 points.", "",
             "| model | config | all | L1 | L2 | L3 | test split | vs its none (all) | vs its none (test) | vs first model | run dir (harness) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        where = f"{s['run_dir']} ({', '.join(s['harness'])})"
        if s.get("missing"):
            lines.append(f"| {s['model']} | {s['config']} | not run | | | | | | | | {where} |")
            continue
        lv = s["levels"]
        lines.append(f"| {s['model']} | {s['config']} | {_pct(s['all'])} | {_pct(lv['L1'])} | {_pct(lv['L2'])} | {_pct(lv['L3'])} "
                     f"| {_pct(s['test']['all'])} | {_diff(s.get('vs_none'))} | {_diff(s.get('vs_none_test'))} "
                     f"| {_diff(s.get('vs_first_model'))} | {where} |")
    lines += ["", "## Targets on the test split (issue 27)", "",
              "| model | config | " + " | ".join(f"{k} (target {v:g}%)" for k, v in TARGETS.items()) + " |",
              "|---|---|" + "---|" * len(TARGETS)]
    for s in summary:
        if s.get("missing"):
            continue
        cells = []
        for key, target in TARGETS.items():
            got = s["test"][key]["success"]
            cells.append("n/a" if got is None else f"{got} ({got - target:+.1f})")
        lines.append(f"| {s['model']} | {s['config']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(summary: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in summary if not s.get("missing")]
    configs = list(dict.fromkeys(s["config"] for s in rows))
    models = list(dict.fromkeys(s["model"] for s in rows))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, model in enumerate(models):
        xs, ys, errs = [], [], [[], []]
        for j, config in enumerate(configs):
            s = next((r for r in rows if r["model"] == model and r["config"] == config), None)
            if s is None:
                continue
            xs.append(j + (i - (len(models) - 1) / 2) * width)
            y = s["all"]["success"]
            lo, hi = s["all"]["ci"] or [y, y]
            ys.append(y)
            errs[0].append(y - lo)
            errs[1].append(hi - y)
        ax.bar(xs, ys, width, yerr=errs, capsize=3, label=model)
    ax.set_xticks(range(len(configs)), configs)
    ax.set_ylabel("success % (95% CI), whole ladder")
    ax.set_title("Both roads, two models: the same tasks")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--row", action="append", default=None, help="LABEL=RUN_DIR:CONFIG (repeatable; default: issue 27's rows)")
    ap.add_argument("--out", type=Path, default=RESULTS / "two_models")
    args = ap.parse_args(argv)
    summary = summarize(load_rows(args.row or DEFAULT_ROWS))
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(summary)
    (args.out / "report.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if any(not s.get("missing") for s in summary):
        plot(summary, args.out / "success.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
