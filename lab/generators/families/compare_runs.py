"""compare-runs: compare experiment runs, models or checkpoints from their result files."""

from __future__ import annotations

import json
import math
import random
import statistics

from lab.generators import TaskDraft
from lab.generators.families._data import (draw, BENCHES, MODELS, csv_text, dedent, json_check, jsonl_text, lines,
                                           numbers_snippet, para, pick, step, submit)

FAMILY = "compare-runs"
LEVELS = (1, 2, 3)

# (metric, higher is better, low, high, decimals, what it measures)
METRICS = [
    ("val_acc", True, 0.70, 0.93, 3, "validation accuracy"),
    ("val_loss", False, 0.35, 1.40, 4, "validation loss"),
    ("bleu", True, 18.0, 41.0, 1, "BLEU"),
    ("wer", False, 4.0, 19.0, 2, "word error rate"),
    ("latency_ms", False, 12.0, 95.0, 1, "median latency"),
    ("f1", True, 0.55, 0.91, 3, "F1"),
    ("perplexity", False, 6.0, 28.0, 2, "perplexity"),
    ("map50", True, 0.31, 0.72, 3, "mAP@50"),
]


def _run_names(rng: random.Random, n: int) -> list[str]:
    style = rng.randrange(4)
    if style == 0:
        return [f"run-{c}" for c in rng.sample("abcdefghjk", n)]
    if style == 1:
        return rng.sample(["baseline", "wide", "deep", "distilled", "pruned", "augmented", "mixup", "longer", "lora-r8", "lora-r64"], n)
    if style == 2:
        return [f"exp{rng.randint(10, 99)}{c}" for c in rng.sample("abcdefghjk", n)]
    return [f"lr{x}" for x in rng.sample(["1e-5", "2e-5", "3e-5", "5e-5", "1e-4", "2e-4", "3e-4", "5e-4", "1e-3", "3e-3"], n)]


def _distinct_values(rng: random.Random, n: int, lo: float, hi: float, dec: int) -> list[float]:
    while True:
        vals = [round(rng.uniform(lo, hi), dec) for _ in range(n)]
        if len(set(vals)) == n:
            return vals


def _table(rng: random.Random, header: list[str], rows: list[list]) -> tuple[str, str]:
    """The same table as csv, json or markdown: (file name suffix, text)."""
    kind = rng.randrange(3)
    if kind == 0:
        return "csv", csv_text(header, rows)
    if kind == 1:
        return "json", json.dumps([dict(zip(header, r)) for r in rows], indent=2) + "\n"
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "md", lines(out)


def _name_check(names: list[str], want: str) -> str:
    alts = "|".join(sorted((n.lower() for n in names), key=len, reverse=True))
    return dedent(f"""
        import re
        found = re.findall(r"(?<![\\w.-])({alts.replace('.', '[.]')})(?![\\w-])", ANSWER.lower())
        assert found, f"no run named in the answer: {{ANSWER!r}}"
        assert found[0] == {want.lower()!r}, f"expected {want} first: {{ANSWER!r}}"
        print('ok')
        """)


# ---------------------------------------------------------------- level 1

def l1_best_run(rng: random.Random) -> TaskDraft:
    metric, hib, lo, hi, dec, what = pick(rng, *METRICS)
    n = rng.randint(4, 7)
    names = _run_names(rng, n)
    vals = _distinct_values(rng, n, lo, hi, dec)
    extra = pick(rng, ("lr", ["0.001", "0.0003", "0.003"]), ("batch_size", [16, 32, 64, 128]), ("epochs", [3, 5, 10]))
    rows = [[nm, rng.choice(extra[1]), v] for nm, v in zip(names, vals)]
    ext, text = _table(rng, ["run", extra[0], metric], rows)
    fname = pick(rng, "results", "runs", "sweep", "leaderboard") + "." + ext
    best = names[vals.index(max(vals) if hib else min(vals))]
    word = ("highest" if hib else "lowest")
    instruction = pick(
        rng,
        para(f"Name the winner of {fname} on {metric} ({word} wins)."),
        para(f"{fname} lists a small sweep. Going by {what} ({metric}, {'higher' if hib else 'lower'} is better), which run wins?"),
        para(f"Tell me the best run of {fname}: the one with the {word} {metric} column.", "Just name it."),
        para(f"We can only keep one of the runs in {fname}. Pick the one with the best {what} and tell me its name."),
    )
    return TaskDraft(instruction=instruction, files={fname: text}, check=_name_check(names, best),
                     steps=[step("read_file", path=fname), submit(f"{best} has the {word} {metric} ({vals[names.index(best)]}).")],
                     tags=["question", metric])


def l1_mean_winner(rng: random.Random) -> TaskDraft:
    a, b = rng.sample(MODELS, 2)
    benches = rng.sample(BENCHES, rng.randint(3, 5))
    while True:
        sa = [round(rng.uniform(20, 80), 1) for _ in benches]
        sb = [round(s + rng.uniform(-9, 9), 1) for s in sa]
        ma, mb = statistics.mean(sa), statistics.mean(sb)
        wins_a = sum(x > y for x, y in zip(sa, sb))
        if abs(ma - mb) > 0.3 and (wins_a > len(benches) / 2) != (ma > mb):
            break  # the model that wins more benchmarks is not the one with the higher mean
        if rng.random() < 0.3 and abs(ma - mb) > 0.3:
            break
    data = {a: dict(zip(benches, sa)), b: dict(zip(benches, sb))}
    fname = pick(rng, "scores.json", "bench.json", "eval_results.json")
    win = a if ma > mb else b
    instruction = pick(
        rng,
        para(f"Average over the {len(benches)} benchmarks in {fname}: which of {a} and {b} comes out ahead, and what are the averages?"),
        para(f"Average each model's benchmark scores in {fname} (plain mean over benchmarks).", "Which is better on average, and what are the two averages?"),
        para(f"Is {a} or {b} better overall according to {fname}? Compare their mean over the benchmarks and report both means."),
    )
    check = numbers_snippet() + _name_check([a, b], win).replace("print('ok')\n", "") + dedent(f"""
        for m in ({ma!r}, {mb!r}):
            assert any(abs(x - m) < 0.051 for x in NUMS), (m, ANSWER)
        print('ok')
        """)
    return TaskDraft(instruction=instruction, files={fname: json.dumps(data, indent=2) + "\n"}, check=check,
                     steps=[step("run", "Means.", command=f"python -c \"import json,statistics; d=json.load(open('{fname}')); print({{m: statistics.mean(s.values()) for m, s in d.items()}})\""),
                            submit(f"{win} has the higher mean: {a} {ma:.2f}, {b} {mb:.2f}.")],
                     tags=["question", "mean"])


def l1_beat_baseline(rng: random.Random) -> TaskDraft:
    metric, hib, lo, hi, dec, what = pick(rng, *METRICS)
    n = rng.randint(5, 8)
    names = _run_names(rng, n)
    vals = _distinct_values(rng, n + 1, lo, hi, dec)
    base = vals[0]
    rows = [["baseline", base]] + [[nm, v] for nm, v in zip(names, vals[1:])]
    if "baseline" in names:
        rows[0][0] = "reference"
    rng.shuffle(rows)
    ref = next(r[0] for r in rows if r[1] == base)
    better = [r[0] for r in rows if r[0] != ref and ((r[1] > base) if hib else (r[1] < base))]
    ext, text = _table(rng, ["run", metric], rows)
    fname = pick(rng, "ablation", "results", "variants") + "." + ext
    instruction = pick(
        rng,
        para(f"How many runs in {fname} beat the {ref} row on {metric} ({'higher' if hib else 'lower'} is better)?", "Answer with the count."),
        para(f"Count the variants in {fname} whose {what} is better than {ref}'s. Give the number in your summary."),
        para(f"Of the runs listed in {fname}, how many improve on {ref} in {metric}?"),
    )
    names_all = sorted((r[0].lower() for r in rows), key=len, reverse=True)
    check = dedent(f"""
        import re
        a = ANSWER.lower()
        for name in {names_all!r}:
            a = a.replace(name, " ")
        ints = re.findall(r"(?<![\\d.])\\d+(?![\\d.])", a)
        assert {str(len(better))!r} in ints, f"expected {len(better)}: {{ANSWER!r}}"
        print('ok')
        """)
    return TaskDraft(instruction=instruction, files={fname: text}, check=check,
                     steps=[step("read_file", path=fname), submit(f"{len(better)} runs beat {ref} ({', '.join(better) or 'none'}).")],
                     tags=["question", "count"])


def l1_regressed_bench(rng: random.Random) -> TaskDraft:
    benches = rng.sample(BENCHES, rng.randint(4, 6))
    old, new = pick(rng, ("v1", "v2"), ("base", "tuned"), ("sft", "dpo"), ("before", "after"))
    bad = rng.choice(benches)
    rows = []
    for bch in benches:
        x = round(rng.uniform(25, 85), 1)
        y = round(x - rng.uniform(0.5, 4), 1) if bch == bad else round(x + rng.uniform(0.2, 6), 1)
        rows.append([bch, x, y])
    ext, text = _table(rng, ["benchmark", old, new], rows)
    fname = pick(rng, "scores", "evals", "comparison") + "." + ext
    instruction = pick(
        rng,
        para(f"{fname} compares {old} and {new} on several benchmarks. On which benchmark did {new} get worse than {old}?"),
        para(f"The {new} model improved almost everywhere in {fname}. Name the one benchmark where it regressed."),
        para(f"Find the regression: which benchmark in {fname} has a lower {new} score than {old} score?"),
    )
    return TaskDraft(instruction=instruction, files={fname: text}, check=_name_check(benches, bad),
                     steps=[step("read_file", path=fname), submit(f"{new} regressed on {bad}.")],
                     tags=["question", "regression"])


def l1_gap(rng: random.Random) -> TaskDraft:
    metric, hib, lo, hi, dec, what = pick(rng, *METRICS)
    names = _run_names(rng, rng.randint(3, 5))
    vals = _distinct_values(rng, len(names), lo, hi, dec)
    x, y = rng.sample(range(len(names)), 2)
    gap = round(abs(vals[x] - vals[y]), dec)
    data = {nm: {metric: v, "epochs": rng.randint(3, 20)} for nm, v in zip(names, vals)}
    fname = pick(rng, "metrics.json", "final_metrics.json", "runs.json")
    instruction = pick(
        rng,
        para(f"In {fname}, what is the difference in {metric} between {names[x]} and {names[y]}? Give the absolute gap."),
        para(f"How far apart are {names[x]} and {names[y]} on {what}? The numbers are in {fname}."),
        para(f"Report the {metric} gap |{names[x]} - {names[y]}| from {fname}."),
    )
    tol = 0.5 * 10 ** -dec + 1e-9
    check = numbers_snippet() + f"assert any(abs(v - {gap!r}) <= {tol!r} for v in NUMS), ANSWER\nprint('ok')\n"
    return TaskDraft(instruction=instruction, files={fname: json.dumps(data, indent=2) + "\n"}, check=check,
                     steps=[step("read_file", path=fname), submit(f"The {metric} gap is {gap} ({names[x]} {vals[x]}, {names[y]} {vals[y]}).")],
                     tags=["question", "delta"])


# ---------------------------------------------------------------- level 2

def l2_deltas(rng: random.Random) -> TaskDraft:
    benches = rng.sample(BENCHES, rng.randint(4, 6))
    old, new = pick(rng, ("v1", "v2"), ("base", "tuned"), ("sft", "dpo"), ("main", "branch"))
    rel = rng.random() < 0.5
    rows, want = [], {}
    for bch in benches:
        x = round(rng.uniform(20, 85), 1)
        y = round(x + rng.uniform(-4, 6), 1)
        rows.append([bch, x, y])
        want[bch] = round((y - x) / x * 100, 1) if rel else round(y - x, 1)
    fname = pick(rng, "scores.csv", "bench_scores.csv")
    out = pick(rng, "delta.json", "changes.json", "diff.json")
    what = "the relative change in percent, (new - old) / old * 100" if rel else f"{new} minus {old}"
    instruction = pick(
        rng,
        para(f"Per-benchmark movement from {old} to {new}: fill {out} with benchmark -> {what} (1 decimal, negative for a",
             f"drop), computed from {fname}, and print it."),
        para(f"For the release notes: how did every benchmark in {fname} move from {old} to {new}? Save {out} as",
             f"{{\"<benchmark>\": change}} where change is {what} (1 decimal), then cat it."),
    )
    script = dedent(f"""
        import csv, json
        with open("{fname}", newline="") as f:
            out = {{r["benchmark"]: round({'(float(r["' + new + '"]) - float(r["' + old + '"])) / float(r["' + old + '"]) * 100' if rel else 'float(r["' + new + '"]) - float(r["' + old + '"])'}, 1)
                   for r in csv.DictReader(f)}}
        json.dump(out, open("{out}", "w"), indent=2)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["benchmark", old, new], rows)},
                     check=json_check(out, {k: float(v) for k, v in want.items()}, 0.051),
                     steps=[step("read_file", path=fname), step("write_file", path="delta.py", content=script),
                            step("run", command=f"python delta.py && cat {out}"), submit(f"{out}: {json.dumps(want)}")],
                     tags=["csv", "json", "delta"])


def l2_best_per_bench(rng: random.Random) -> TaskDraft:
    models = rng.sample(MODELS, rng.randint(3, 4))
    benches = rng.sample(BENCHES, rng.randint(3, 5))
    lower = rng.random() < 0.3
    rows, want = [], {}
    for bch in benches:
        vals = _distinct_values(rng, len(models), 10, 90, 1)
        for m, v in zip(models, vals):
            rows.append([m, bch, v])
        want[bch] = models[vals.index(min(vals) if lower else max(vals))]
    rng.shuffle(rows)
    col = "error_rate" if lower else "score"
    fname = pick(rng, "long_results.csv", "scores_long.csv", "evals.csv")
    out = pick(rng, "winners.json", "best_model.json", "per_benchmark_best.json")
    instruction = pick(
        rng,
        para(f"{fname} is in long format (model, benchmark, {col}). Write {out} mapping every benchmark to the model with",
             f"the {'lowest' if lower else 'highest'} {col} on it, and check the file with python -m json.tool."),
        para(f"Who wins each benchmark? From {fname} ({'lower' if lower else 'higher'} {col} is better) build {out},",
             '{"<benchmark>": "<model>"}, then validate the JSON.'),
    )
    return TaskDraft(instruction=instruction, files={fname: csv_text(["model", "benchmark", col], rows)},
                     check=json_check(out, want),
                     steps=[step("read_file", path=fname), step("write_file", path=out, content=json.dumps(want, indent=2) + "\n"),
                            step("run", command=f"python -m json.tool {out}"), submit(f"{out}: {json.dumps(want)}")],
                     tags=["csv", "json", "leaderboard"])


def l2_accuracy(rng: random.Random) -> TaskDraft:
    labels = pick(rng, ["cat", "dog", "bird"], ["pos", "neg", "neutral"], ["spam", "ham"], ["low", "medium", "high"],
                  ["billing", "shipping", "returns", "other"])
    a, b = pick(rng, ("baseline", "finetuned"), ("model_a", "model_b"), ("old", "new"), ("small", "large"))
    n = rng.randint(10, 16)
    rows, ca, cb = [], 0, 0
    for i in range(n):
        g = rng.choice(labels)
        pa = g if rng.random() < 0.6 else rng.choice(labels)
        pb = g if rng.random() < 0.75 else rng.choice(labels)
        ca += pa == g
        cb += pb == g
        rows.append([f"ex{i + 1:03d}", g, pa, pb])
    want = {a: round(ca / n, 4), b: round(cb / n, 4)}
    fname = pick(rng, "predictions.csv", "preds.csv", "val_preds.csv")
    out = pick(rng, "accuracy.json", "acc.json")
    instruction = pick(
        rng,
        para(f"{fname} has the gold label and the predictions of {a} and {b} for each example. Write {out}:",
             f'{{"{a}": <accuracy>, "{b}": <accuracy>}} as fractions with 4 decimals. Check it with python -m json.tool.'),
        para(f"Score both classifiers in {fname}: accuracy = share of rows whose prediction equals the gold column.",
             f"Save the two accuracies (0..1, 4 decimals) to {out} keyed {a} and {b}, and validate the file."),
    )
    return TaskDraft(instruction=instruction, files={fname: csv_text(["id", "gold", a, b], rows)},
                     check=json_check(out, want, 6e-5),
                     steps=[step("read_file", path=fname), step("write_file", f"{ca}/{n} and {cb}/{n}.", path=out, content=json.dumps(want) + "\n"),
                            step("run", command=f"python -m json.tool {out}"), submit(f"{a} {ca}/{n} = {want[a]}, {b} {cb}/{n} = {want[b]}.")],
                     tags=["csv", "json", "accuracy"])


def l2_ranking(rng: random.Random) -> TaskDraft:
    metric, hib, lo, hi, dec, what = pick(rng, *METRICS)
    names = _run_names(rng, rng.randint(4, 6))
    vals = _distinct_values(rng, len(names), lo, hi, dec)
    if dec >= 2:  # numbers that sort differently as text
        vals[0] = round(lo + (hi - lo) * 0.05, dec)
        while vals[0] in vals[1:]:
            vals[0] = round(vals[0] + 10 ** -dec, dec)
    recs = [{"run": nm, metric: v, "seed": rng.randint(0, 99)} for nm, v in zip(names, vals)]
    want = [r["run"] for r in sorted(recs, key=lambda r: -r[metric] if hib else r[metric])]
    fname = pick(rng, "runs.jsonl", "results.jsonl")
    out = pick(rng, "ranking.json", "order.json")
    instruction = pick(
        rng,
        para(f"Rank the runs in {fname} from best to worst by {metric} ({'higher' if hib else 'lower'} is better) and write",
             f"{out} as a JSON list of run names. Check it with python -m json.tool."),
        para(f"I want the leaderboard order of {fname}: best {what} first. Save the run names in that order to {out}",
             "(a JSON array) and validate the file."),
    )
    return TaskDraft(instruction=instruction, files={fname: jsonl_text(recs)}, check=json_check(out, want),
                     steps=[step("read_file", path=fname), step("write_file", path=out, content=json.dumps(want) + "\n"),
                            step("run", command=f"python -m json.tool {out}"), submit(f"Ranking: {', '.join(want)}.")],
                     tags=["jsonl", "json", "ranking"])


def l2_budget(rng: random.Random) -> TaskDraft:
    names = _run_names(rng, rng.randint(5, 7))
    accs = _distinct_values(rng, len(names), 0.7, 0.93, 3)
    cost = pick(rng, ("latency_ms", 20, 120, "ms"), ("params_m", 30, 900, "M parameters"), ("gpu_hours", 2, 60, "GPU hours"))
    costs = [rng.randint(cost[1], cost[2]) for _ in names]
    budget = sorted(costs)[len(costs) // 2]
    best_i = max((i for i in range(len(names)) if costs[i] <= budget), key=lambda i: accs[i])
    top_i = accs.index(max(accs))
    if top_i == best_i:  # make the overall best over budget
        costs[top_i] = budget + rng.randint(1, 30)
        best_i = max((i for i in range(len(names)) if costs[i] <= budget), key=lambda i: accs[i])
    rows = [[nm, a, c] for nm, a, c in zip(names, accs, costs)]
    ext, text = _table(rng, ["run", "accuracy", cost[0]], rows)
    fname = pick(rng, "candidates", "models", "runs") + "." + ext
    out = pick(rng, "pick.json", "choice.json", "selected.json")
    want = {"run": names[best_i], "accuracy": accs[best_i], cost[0]: costs[best_i]}
    instruction = pick(
        rng,
        para(f"We can afford at most {budget} {cost[3]}. Among the runs in {fname} with {cost[0]} <= {budget}, pick the one",
             f'with the highest accuracy and write it to {out} as {{"run": .., "accuracy": .., "{cost[0]}": ..}}. Validate the JSON.'),
        para(f"Which run of {fname} should we deploy? It must stay within {budget} {cost[3]} ({cost[0]} column); among those, the",
             f"most accurate wins. Save run, accuracy and {cost[0]} of the winner in {out} and check it with python -m json.tool."),
    )
    return TaskDraft(instruction=instruction, files={fname: text}, check=json_check(out, want, 1e-9),
                     steps=[step("read_file", path=fname), step("write_file", path=out, content=json.dumps(want) + "\n"),
                            step("run", command=f"python -m json.tool {out}"), submit(f"Within budget the best is {names[best_i]} ({accs[best_i]}).")],
                     tags=["json", "selection"])


# ---------------------------------------------------------------- level 3

def l3_seed_ranking(rng: random.Random) -> TaskDraft:
    variants = _run_names(rng, rng.randint(3, 4))
    seeds = rng.sample(range(0, 100), rng.randint(3, 5))
    metric = pick(rng, "test_acc", "test_f1", "exact_match")
    rows, data = [], {}
    for v in variants:
        base = rng.uniform(0.6, 0.9)
        k = len(seeds) - (1 if rng.random() < 0.3 else 0)  # some variant may miss a seed
        vals = [round(base + rng.uniform(-0.02, 0.02), 4) for _ in range(k)]
        data[v] = vals
        rows += [[v, s, x] for s, x in zip(seeds, vals)]
    rng.shuffle(rows)
    means = {v: statistics.mean(x) for v, x in data.items()}
    if len(set(round(m, 6) for m in means.values())) < len(means):
        rows[0][2] = round(rows[0][2] + 0.003, 4)
        data = {}
        for v, s, x in rows:
            data.setdefault(v, []).append(x)
        means = {v: statistics.mean(x) for v, x in data.items()}
    order = sorted(data, key=lambda v: -means[v])
    want = [{"variant": v, "mean": round(means[v], 4), "std": round(statistics.stdev(data[v]), 4), "n_seeds": len(data[v])} for v in order]
    fname = pick(rng, "results.csv", "seed_runs.csv", "ablation_seeds.csv")
    out = pick(rng, "ranking.json", "seed_summary.json")
    instruction = pick(
        rng,
        para(f"Seed-robust comparison: aggregate {fname} per variant over its seeds and write {out}, a list ordered by the",
             f"mean {metric} (highest first) of objects variant, mean, std (n-1 denominator) and n_seeds; 4 decimals."),
        para(f"Are the differences between variants in {fname} bigger than the seed noise? Summarise each variant over its seeds",
             f"(not every variant has all seeds): mean, sample std (n-1) and number of seeds, 4 decimals, in {out} as a JSON list",
             "of objects with keys variant, mean, std, n_seeds ordered by mean, highest first."),
    )
    check = json_check(out, want, 6e-5)
    script = dedent(f"""
        import csv, json, statistics
        data = {{}}
        for r in csv.DictReader(open("{fname}", newline="")):
            data.setdefault(r["variant"], []).append(float(r["{metric}"]))
        out = [{{"variant": v, "mean": round(statistics.mean(x), 4), "std": round(statistics.stdev(x), 4), "n_seeds": len(x)}}
               for v, x in data.items()]
        out.sort(key=lambda d: -statistics.mean(data[d["variant"]]))
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["variant", "seed", metric], rows)}, check=check,
                     steps=[step("read_file", path=fname), step("write_file", path="rank.py", content=script),
                            step("run", command="python rank.py"), submit(f"Ranking: {', '.join(order)}.")],
                     tags=["python", "csv", "seeds"])


def l3_win_rates(rng: random.Random) -> TaskDraft:
    pols = rng.sample(["sft", "dpo", "ppo", "kto", "orpo", "base", "rlhf", "simpo"], 3)
    prompts = [f"p{i}" for i in range(1, rng.randint(6, 9))]
    what = pick(rng, ("reward", "reward-model scores"), ("judge_score", "LLM-judge scores (1-10)"), ("rating", "human ratings (1-5)"))
    recs = []
    for p in prompts:
        for m in pols:
            if rng.random() < 0.12 and p not in prompts[:3]:
                continue
            v = round(rng.uniform(0.2, 0.8), 2) if what[0] == "reward" else rng.randint(1, 10 if what[0] == "judge_score" else 5)
            recs.append({"prompt": p, "model": m, what[0]: v})
    scores = {}
    for r in recs:
        scores.setdefault(r["model"], {})[r["prompt"]] = r[what[0]]
    models = sorted(scores)
    rate = {}
    for a in models:
        rate[a] = {}
        for b in models:
            if a != b:
                shared = [p for p in prompts if p in scores[a] and p in scores[b]]
                rate[a][b] = sum(1.0 if scores[a][p] > scores[b][p] else 0.5 if scores[a][p] == scores[b][p] else 0.0 for p in shared) / len(shared)
    mean = {a: sum(rate[a].values()) / len(rate[a]) for a in models}
    ranking = sorted(models, key=lambda m: -mean[m])
    fname = pick(rng, "rewards.jsonl", "judgements.jsonl", "ratings.jsonl")
    out = pick(rng, "winrates.json", "pairwise.json")
    instruction = pick(
        rng,
        para(f"Tournament over {fname} ({what[1]}): policy A beats B on a prompt when its {what[0]} is higher (tie = 0.5). Compute",
             f"every ordered pair's win fraction over the prompts scored for both, 4 decimals, as {out}[\"winrates\"][A][B], and",
             'list the policies by average win fraction, best first, under "ranking".'),
        para(f"Head-to-head comparison of {', '.join(pols)} using {fname}: for each ordered pair, the fraction of shared prompts",
             "where the first policy scored higher (ties are half a win; prompts missing for either are skipped). Store it in",
             f'{out} under "winrates" (nested A -> B -> rate, 4 decimals) and add "ranking", the policies sorted by their average',
             "win rate, best first."),
    )
    check = dedent(f"""
        import json
        got = json.load(open({out!r}))
        RATE = {json.dumps(rate)}
        for a in RATE:
            for b in RATE[a]:
                assert abs(float(got["winrates"][a][b]) - RATE[a][b]) <= 6e-5, (a, b, got["winrates"][a][b], RATE[a][b])
        assert got["ranking"] == {ranking!r}, got["ranking"]
        print('ok')
        """)
    if len(set(round(v, 9) for v in mean.values())) < len(mean):
        check = check.replace(f"assert got[\"ranking\"] == {ranking!r}, got[\"ranking\"]\n", "")
    script = dedent(f"""
        import json
        scores = {{}}
        for line in open("{fname}"):
            if line.strip():
                r = json.loads(line)
                scores.setdefault(r["model"], {{}})[r["prompt"]] = r["{what[0]}"]
        win = {{a: {{}} for a in sorted(scores)}}
        for a in scores:
            for b in scores:
                if a != b:
                    shared = set(scores[a]) & set(scores[b])
                    s = sum(1.0 if scores[a][p] > scores[b][p] else 0.5 if scores[a][p] == scores[b][p] else 0.0 for p in shared)
                    win[a][b] = round(s / len(shared), 4)
        mean = {{a: sum(w.values()) / len(w) for a, w in win.items()}}
        json.dump({{"winrates": win, "ranking": sorted(win, key=lambda m: -mean[m])}}, open("{out}", "w"), indent=2)
        print(win, mean)
        """)
    return TaskDraft(instruction=instruction, files={fname: jsonl_text(recs)}, check=check,
                     steps=[step("read_file", path=fname), step("write_file", path="wr.py", content=script),
                            step("run", command="python wr.py"), submit(f"{out} written; ranking {', '.join(ranking)}.")],
                     tags=["python", "jsonl", "win-rate"])


def _f1s(gold: list[str], pred: list[str], labels: list[str]) -> dict[str, float]:
    out = {}
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        out[lab] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return out


def l3_macro_f1(rng: random.Random) -> TaskDraft:
    labels = pick(rng, ["bug", "feature", "question"], ["pos", "neg", "neutral"], ["sports", "politics", "tech", "culture"],
                  ["urgent", "normal", "low"])
    a, b = pick(rng, ("baseline", "finetuned"), ("tfidf", "bert"), ("v1", "v2"), ("zero_shot", "few_shot"))
    n = rng.randint(14, 22)
    gold = [labels[i % len(labels)] for i in range(n)]
    rng.shuffle(gold)
    pa = [g if rng.random() < 0.6 else rng.choice(labels) for g in gold]
    pb = [g if rng.random() < 0.72 else rng.choice(labels) for g in gold]
    split = rng.random() < 0.5
    if split:
        files = {f"preds_{a}.csv": csv_text(["id", "label", "pred"], [[i + 1, g, p] for i, (g, p) in enumerate(zip(gold, pa))]),
                 f"preds_{b}.csv": csv_text(["id", "label", "pred"], [[i + 1, g, p] for i, (g, p) in enumerate(zip(gold, pb))])}
        where = f"preds_{a}.csv and preds_{b}.csv (columns id, label, pred)"
        load = dedent(f"""
            def load(name):
                rows = list(csv.DictReader(open(name, newline="")))
                return [r["label"] for r in rows], [r["pred"] for r in rows]
            gold, pa = load("preds_{a}.csv")
            _, pb = load("preds_{b}.csv")
            """)
    else:
        files = {"predictions.csv": csv_text(["id", "label", a, b], [[i + 1, g, x, y] for i, (g, x, y) in enumerate(zip(gold, pa, pb))])}
        where = f"predictions.csv (gold label plus one column per model, {a} and {b})"
        load = dedent(f"""
            rows = list(csv.DictReader(open("predictions.csv", newline="")))
            gold, pa, pb = [r["label"] for r in rows], [r["{a}"] for r in rows], [r["{b}"] for r in rows]
            """)
    fa, fb = _f1s(gold, pa, sorted(labels)), _f1s(gold, pb, sorted(labels))
    ma, mb = sum(fa.values()) / len(fa), sum(fb.values()) / len(fb)
    want = {a: {"per_class_f1": {k: round(v, 4) for k, v in fa.items()}, "macro_f1": round(ma, 4)},
            b: {"per_class_f1": {k: round(v, 4) for k, v in fb.items()}, "macro_f1": round(mb, 4)},
            "better": a if ma > mb else b}
    out = pick(rng, "f1_compare.json", "macro_f1.json")
    instruction = pick(
        rng,
        para(f"Compare the two classifiers in {where} by macro-F1. For each model compute per-class F1 (classes: "
             f"{', '.join(sorted(labels))}; an F1 with zero precision and recall is 0) and their unweighted mean. Write {out}:",
             f'{{"{a}": {{"per_class_f1": {{..}}, "macro_f1": ..}}, "{b}": {{..}}, "better": "<model with the higher macro_f1>"}},',
             "4 decimals."),
        para(f"Accuracy hides the rare classes, so judge {a} vs {b} on macro-F1. The data: {where}. For each model give the F1",
             f"of every class and the macro average (4 decimals, 0 where undefined) and name the better model under \"better\". Save it as {out}."),
    )
    if abs(ma - mb) < 1e-9:
        want.pop("better")
        instruction = instruction.replace(', "better": "<model with the higher macro_f1>"', "").replace(
            ' and name the better model under "better"', "")
    script = "import csv, json\n" + load + dedent(f"""
        def f1s(gold, pred):
            out = {{}}
            for lab in sorted(set(gold) | {{{', '.join(repr(x) for x in sorted(labels))}}}):
                tp = sum(g == lab and p == lab for g, p in zip(gold, pred))
                fp = sum(g != lab and p == lab for g, p in zip(gold, pred))
                fn = sum(g == lab and p != lab for g, p in zip(gold, pred))
                pr = tp / (tp + fp) if tp + fp else 0.0
                rc = tp / (tp + fn) if tp + fn else 0.0
                out[lab] = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
            return out
        res = {{}}
        for name, pred in (("{a}", pa), ("{b}", pb)):
            f = f1s(gold, pred)
            res[name] = {{"per_class_f1": {{k: round(v, 4) for k, v in f.items()}}, "macro_f1": round(sum(f.values()) / len(f), 4)}}
        """) + ('res["better"] = max(("' + a + '", "' + b + '"), key=lambda m: res[m]["macro_f1"])\n' if "better" in want else "") + dedent(f"""
        json.dump(res, open("{out}", "w"), indent=2)
        print(res)
        """)
    return TaskDraft(instruction=instruction, files=files, check=json_check(out, want, 6e-5),
                     steps=[step("read_file", path=next(iter(files))), step("write_file", path="f1.py", content=script),
                            step("run", command="python f1.py"), submit(f"macro-F1 {a} {ma:.4f}, {b} {mb:.4f}.")],
                     tags=["python", "csv", "macro-f1"])


def l3_avg_rank(rng: random.Random) -> TaskDraft:
    models = rng.sample(MODELS, rng.randint(3, 5))
    benches = rng.sample(BENCHES, rng.randint(3, 5))
    lower_bench = rng.choice(benches) if rng.random() < 0.5 else None
    rows, ranks = [], {m: [] for m in models}
    for bch in benches:
        vals = _distinct_values(rng, len(models), 10, 90, 1)
        for m, v in zip(models, vals):
            rows.append([m, bch, v])
        order = sorted(range(len(models)), key=lambda i: vals[i] if bch == lower_bench else -vals[i])
        for r, i in enumerate(order, 1):
            ranks[models[i]].append(r)
    avg = {m: sum(r) / len(r) for m, r in ranks.items()}
    board = [{"model": m, "avg_rank": round(avg[m], 4)} for m in sorted(models, key=lambda m: (avg[m], m))]
    fname = pick(rng, "scores.csv", "leaderboard_raw.csv")
    out = pick(rng, "leaderboard.json", "avg_rank.json")
    note = (f" Careful: {lower_bench} is an error metric, lower is better there; higher is better on the others." if lower_bench
            else " Higher is better on every benchmark.")
    instruction = pick(
        rng,
        para(f"Mean-rank standings from {fname}: position every model per benchmark (1 for the top score), average the",
             f"positions, and save {out} as [{{model, avg_rank}}] from lowest to highest mean rank, ties by name.{note}"),
        para(f"Scores on different benchmarks in {fname} aren't comparable, so compare models by average rank instead: per",
             f"benchmark give rank 1 to the best model, then take each model's mean rank. Save {out}, a JSON list of objects",
             f"with model and avg_rank (4 decimals), lowest average first, ties alphabetical.{note}"),
    )
    script = dedent(f"""
        import csv, json
        rows = list(csv.DictReader(open("{fname}", newline="")))
        ranks = {{}}
        for b in dict.fromkeys(r["benchmark"] for r in rows):
            rs = sorted((r for r in rows if r["benchmark"] == b), key=lambda r: float(r["score"]), reverse=b != {lower_bench!r})
            for i, r in enumerate(rs, 1):
                ranks.setdefault(r["model"], []).append(i)
        avg = {{m: sum(x) / len(x) for m, x in ranks.items()}}
        out = [{{"model": m, "avg_rank": round(avg[m], 4)}} for m in sorted(avg, key=lambda m: (avg[m], m))]
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["model", "benchmark", "score"], rows)},
                     check=json_check(out, board, 6e-5),
                     steps=[step("read_file", path=fname), step("write_file", path="rank.py", content=script),
                            step("run", command="python rank.py"), submit(f"Leaderboard: {', '.join(d['model'] for d in board)}.")],
                     tags=["python", "csv", "leaderboard"])


def l3_best_checkpoint(rng: random.Random) -> TaskDraft:
    runs = _run_names(rng, 2)
    stride = pick(rng, 500, 1000, 2000)
    recs = []
    for r in runs:
        for i in range(rng.randint(4, 6)):
            recs.append({"run": r, "step": stride * (i + 1), "val_acc": round(rng.uniform(0.78, 0.86), 3),
                         "val_loss": round(rng.uniform(0.40, 0.60), 4)})
    # force a tie on the best accuracy, broken by loss
    top = max(recs, key=lambda d: d["val_acc"])
    other = rng.choice([d for d in recs if d is not top])
    other["val_acc"] = top["val_acc"]
    if rng.random() < 0.5:
        other["val_loss"] = round(top["val_loss"] - 0.0123, 4)
    rng.shuffle(recs)
    best = min(recs, key=lambda d: (-d["val_acc"], d["val_loss"]))
    want = {"run": best["run"], "step": best["step"], "val_acc": best["val_acc"], "val_loss": best["val_loss"]}
    fname = pick(rng, "checkpoints.jsonl", "ckpt_metrics.jsonl")
    out = pick(rng, "best_checkpoint.json", "ship.json")
    instruction = pick(
        rng,
        para(f"Release candidate selection over {runs[0]} and {runs[1]}: among all checkpoints in {fname}, maximise val_acc and",
             f"settle equal val_acc by the smaller val_loss. Write the chosen one's run, step, val_acc and val_loss to {out}."),
        para(f"Pick the release checkpoint across both runs in {fname}: best val_acc wins; if several share it, the one with",
             f"the smallest val_loss. Save run, step, val_acc and val_loss of that checkpoint to {out}, and double-check the tie-break."),
    )
    script = dedent(f"""
        import json
        recs = [json.loads(l) for l in open("{fname}") if l.strip()]
        best = min(recs, key=lambda d: (-d["val_acc"], d["val_loss"]))
        json.dump({{k: best[k] for k in ("run", "step", "val_acc", "val_loss")}}, open("{out}", "w"), indent=2)
        print(best, [d for d in recs if d["val_acc"] == best["val_acc"]])
        """)
    return TaskDraft(instruction=instruction, files={fname: jsonl_text(recs)}, check=json_check(out, want, 1e-9),
                     steps=[step("read_file", path=fname), step("write_file", path="best.py", content=script),
                            step("run", command="python best.py"), submit(f"Ship {best['run']} step {best['step']}.")],
                     tags=["python", "jsonl", "checkpoint-selection"])


def l3_sign_test(rng: random.Random) -> TaskDraft:
    unit, metric = pick(rng, ("sentence", "bleu"), ("utterance", "wer"), ("query", "ndcg"), ("problem", "score"))
    base, new = pick(rng, ("base", "new"), ("old", "candidate"), ("control", "treatment"))
    n = rng.randint(12, 20)
    rows = []
    for i in range(n):
        x = round(rng.uniform(10, 60), 1)
        r = rng.random()
        y = x if r < 0.12 else round(x + rng.uniform(0.3, 4), 1) if r < 0.72 else round(x - rng.uniform(0.3, 3), 1)
        rows.append([f"{unit[0]}{i + 1:02d}", x, y])
    lower = metric == "wer"
    nw = sum((y < x) if lower else (y > x) for _, x, y in rows)
    bw = sum((y > x) if lower else (y < x) for _, x, y in rows)
    ties = n - nw - bw
    m, k = nw + bw, min(nw, bw)
    p = min(1.0, 2 * sum(math.comb(m, i) for i in range(k + 1)) / 2 ** m)
    fname = f"per_{unit}_{metric}.csv"
    out = pick(rng, "sign_test.json", "significance.json")
    cols = [f"{unit}_id", f"{metric}_{base}", f"{metric}_{new}"]
    better = "lower" if lower else "higher"
    instruction = pick(
        rng,
        para(f"Significance of {new} over {base} in {fname} ({metric}, {better} is better): count {new}_wins, {base}_wins and",
             f"ties per {unit}, then the exact two-sided sign test p-value on the non-tied ones, p = min(1, 2 * sum over i<=k of",
             f"C(n, i) / 2^n) with n the number of wins and k the smaller win count. Save the four values in {out}, p to 4 decimals."),
        para(f"Paired comparison on {fname}: for each {unit} decide whether {new} or {base} has the better {metric} ({better}",
             f"wins) or whether they tie. Then compute the exact two-sided sign-test p-value over the non-tied {unit}s",
             f"(binomial with p=0.5: 2 * P(X <= min wins), capped at 1). Save {out}: {new}_wins, {base}_wins, ties, p_value."),
    )
    check = dedent(f"""
        import json
        got = json.load(open({out!r}))
        assert (int(got["{new}_wins"]), int(got["{base}_wins"]), int(got["ties"])) == ({nw}, {bw}, {ties}), got
        assert abs(float(got["p_value"]) - {p!r}) <= 6e-5, (got["p_value"], {p!r})
        print('ok')
        """)
    cmp_new = "y < x" if lower else "y > x"
    cmp_base = "y > x" if lower else "y < x"
    script = dedent(f"""
        import csv, json, math
        rows = [(float(r["{cols[1]}"]), float(r["{cols[2]}"])) for r in csv.DictReader(open("{fname}", newline=""))]
        nw = sum({cmp_new} for x, y in rows)
        bw = sum({cmp_base} for x, y in rows)
        n, k = nw + bw, min(nw, bw)
        p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
        out = {{"{new}_wins": nw, "{base}_wins": bw, "ties": len(rows) - nw - bw, "p_value": round(p, 4)}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(cols, rows)}, check=check,
                     steps=[step("run", command=f"head -n 3 {fname}"), step("write_file", path="sign.py", content=script),
                            step("run", command="python sign.py"), submit(f"{new} wins {nw}, {base} wins {bw}, ties {ties}, p = {p:.4f}.")],
                     tags=["python", "csv", "significance-test"])


def l3_category_delta(rng: random.Random) -> TaskDraft:
    cats = rng.sample(["math", "code", "reasoning", "reading", "trivia", "safety", "translation", "summarisation"], rng.randint(3, 4))
    a, b = pick(rng, ("model_a", "model_b"), ("base", "chat"), ("v3", "v4"), ("teacher", "student"))
    n = rng.randint(14, 22)
    ids = list(range(1, n + 1))
    cat = {i: cats[(i - 1) % len(cats)] for i in ids}
    ra = {i: rng.random() < 0.6 for i in ids}
    rb = {i: rng.random() < 0.68 for i in ids}
    rows = []
    for c in sorted(cats) + ["overall"]:
        sel = ids if c == "overall" else [i for i in ids if cat[i] == c]
        acc_a = 100 * sum(ra[i] for i in sel) / len(sel)
        acc_b = 100 * sum(rb[i] for i in sel) / len(sel)
        rows.append({"category": c, "n": len(sel), f"{a}_acc": round(acc_a, 1), f"{b}_acc": round(acc_b, 1),
                     "delta": round(acc_b - acc_a, 1)})
    order_a = rng.sample(ids, n)
    fa = jsonl_text([{"id": i, "category": cat[i], "correct": ra[i]} for i in order_a])
    fb = jsonl_text([{"id": i, "category": cat[i], "correct": rb[i]} for i in ids])
    out = pick(rng, "by_category.json", "category_compare.json")
    instruction = pick(
        rng,
        para(f"Per-category scorecard of {a} vs {b} from {a}.jsonl and {b}.jsonl: for each category (alphabetical, then",
             f'"overall") record n, {a}_acc and {b}_acc in percent and delta ({b} minus {a}, points), 1 decimal, as a JSON list in {out}.'),
        para(f"Where does {b} beat {a}? Join {a}.jsonl and {b}.jsonl on id (the files are in different orders) and compute",
             f"per-category accuracy in percent for both, plus the difference ({b} minus {a}). Save {out} as a JSON list sorted by",
             f'category with an "overall" row last; keys category, n, {a}_acc, {b}_acc, delta, numbers to 1 decimal.'),
    )
    script = dedent(f"""
        import json
        def load(name):
            return {{d["id"]: d for d in map(json.loads, open(name)) if d}}
        A, B = load("{a}.jsonl"), load("{b}.jsonl")
        cats = sorted({{d["category"] for d in A.values()}})
        out = []
        for c in cats + ["overall"]:
            ids = [i for i in A if c == "overall" or A[i]["category"] == c]
            aa = 100 * sum(A[i]["correct"] for i in ids) / len(ids)
            bb = 100 * sum(B[i]["correct"] for i in ids) / len(ids)
            out.append({{"category": c, "n": len(ids), "{a}_acc": round(aa, 1), "{b}_acc": round(bb, 1), "delta": round(bb - aa, 1)}})
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={f"{a}.jsonl": fa, f"{b}.jsonl": fb}, check=json_check(out, rows, 0.051),
                     steps=[step("run", command=f"head -n 2 {a}.jsonl {b}.jsonl"), step("write_file", path="cats.py", content=script),
                            step("run", command="python cats.py"), submit(f"{out} written; overall delta {rows[-1]['delta']:+.1f} points.")],
                     tags=["python", "jsonl", "comparison"])


SCENARIOS = {
    1: [l1_best_run, l1_mean_winner, l1_beat_baseline, l1_regressed_bench, l1_gap],
    2: [l2_deltas, l2_best_per_bench, l2_accuracy, l2_ranking, l2_budget],
    3: [l3_seed_ranking, l3_win_rates, l3_macro_f1, l3_avg_rank, l3_best_checkpoint, l3_sign_test, l3_category_delta],
}


# Alternative vocabularies for scenarios whose default wording sits close to a hand-written task.
RENAMES = {
    "l3_avg_rank": [
        {"avg_rank": "mean_position", "leaderboard": "standings", "scores.csv": "bench_table.csv"},
        {"avg_rank": "rank_mean", "scores.csv": "per_task.csv", "benchmark": "task"}],
    "l3_win_rates": [
        {"winrates": "pairwise", "ranking": "order", "prompts": "questions", "prompt": "question"},
        {"winrates": "beats", "ranking": "leaders", "policies": "systems", "policy": "system"}],
    "l2_deltas": [{}, {"scores.csv": "bench_table.csv", "delta.json": "movement.json", "benchmark": "task"}],
}

def generate(rng: random.Random, level: int) -> TaskDraft:
    return draw(rng, SCENARIOS[level], RENAMES)
