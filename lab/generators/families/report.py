"""report: read data (files, a script's output) and write a Markdown report with given tables and sections."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter

from lab.generators import TaskDraft
from lab.generators.families._data import (draw, BENCHES, COMPANIES, HOSTS, MODELS, PEOPLE, TABLE_SNIPPET, csv_text, dedent,
                                           lines, para, pick, step, submit)

FAMILY = "report"
LEVELS = (1, 2, 3)

ROWS_SNIPPET = '''
def rows_match(got, want, ordered, tol, what):
    """got: table rows (cells); want: rows of str / number cells. Strings compare case-insensitively."""
    def ok(g, w):
        if len(g) < len(w):
            return False
        for c, x in zip(g, w):
            if isinstance(x, str):
                if c.strip().lower() != x.lower():
                    return False
            else:
                try:
                    if abs(num(c) - x) > tol:
                        return False
                except ValueError:
                    return False
        return True
    assert len(got) == len(want), (what, "rows", got, want)
    if ordered:
        for g, w in zip(got, want):
            assert ok(g, w), (what, g, w)
    else:
        left = list(got)
        for w in want:
            hit = next((g for g in left if ok(g, w)), None)
            assert hit is not None, (what, "missing row", w, got)
            left.remove(hit)
'''


def _table_check(path: str, header: list[str], want: list[list], ordered: bool = True, tol: float = 0.051,
                 section: str | None = None, extra: str = "") -> str:
    src = f"section(text, {section!r})" if section else "text"
    return (TABLE_SNIPPET + ROWS_SNIPPET + dedent(f"""
        import os
        assert os.path.isfile({path!r}), "{path} missing"
        text = open({path!r}, encoding="utf-8").read()
        got = table_with({src}, {header!r})
        rows_match(got, {json.dumps(want)}, {ordered!r}, {tol!r}, "table")
        """) + (dedent(extra) if extra else "") + "print('ok')\n")


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


# ---------------------------------------------------------------- level 1

def l1_bullets(rng: random.Random) -> TaskDraft:
    kind = pick(rng, ("finished.txt", "Done this fortnight", "what we closed in the last two weeks"), ("highlights.txt", "Sprint highlights", "the sprint highlights"),
                ("shipped.txt", "Shipped in June", "the features that shipped"), ("risks.txt", "Open risks", "the open risks"))
    pool = ["migrated the billing database to Postgres 16", "fixed the login timeout on mobile", "added CSV export to the admin panel",
            "vendor contract expires in August", "on-call rota has a gap in week 32", "cut cold-start time by 40%",
            "new onboarding checklist", "retired the legacy search API", "flaky payment tests still unexplained",
            "dark mode for the dashboard", "upgraded the CI runners", "GDPR export request backlog"]
    items = rng.sample(pool, rng.randint(3, 6))
    numbered = rng.random() < 0.4
    out = pick(rng, "weekly.md", "report.md", "summary.md", "notes.md")
    heading = f"# {kind[1]}"
    style = "a numbered list (1., 2., ...)" if numbered else "a Markdown bullet list"
    instruction = pick(
        rng,
        para(f"Publish {kind[2]} as {out}: `{heading}` on line one, then every line of {kind[0]} as {style}, unchanged order."),
        para(f"Turn {kind[0]} ({kind[2]}, one per line) into {out} with the heading `{heading}` on top and every line as",
             f"an item of {style}. Keep the order."),
        para(f"Format {kind[2]} for the wiki: {out}, heading `{heading}`, then {style} with the lines of {kind[0]}."),
    )
    pat = r"^\s*\d+[.)]\s+" if numbered else r"^\s*[-*+]\s+"
    check = dedent(f"""
        import os, re
        assert os.path.isfile({out!r}), "{out} missing"
        lines = [l.rstrip() for l in open({out!r}, encoding="utf-8") if l.strip()]
        assert lines and lines[0].strip() == {heading!r}, lines[:1]
        items = [re.sub({pat!r}, "", l).strip() for l in lines[1:] if re.match({pat!r}, l)]
        assert items == {items!r}, items
        print('ok')
        """)
    body = [heading, ""] + [f"{i + 1}. {x}" if numbered else f"- {x}" for i, x in enumerate(items)]
    return TaskDraft(instruction=instruction, files={kind[0]: lines(items)}, check=check,
                     steps=[step("read_file", path=kind[0]), step("write_file", path=out, content=lines(body)),
                            submit(f"{out}: heading plus {len(items)} items.")],
                     tags=["markdown", "create-file"])


def l1_status_table(rng: random.Random) -> TaskDraft:
    svcs = rng.sample(["api", "web", "worker", "scheduler", "search", "billing", "auth", "mailer", "cdn", "metrics"], rng.randint(3, 6))
    shape = rng.randrange(3)
    states = {s: rng.random() < 0.7 for s in svcs}
    if shape == 0:
        data = [{"name": s, "up": states[s]} for s in svcs]
    elif shape == 1:
        data = {"services": [{"service": s, "status": "running" if states[s] else "stopped"} for s in svcs]}
    else:
        data = {s: {"healthy": states[s], "checked": "2024-06-03T10:00Z"} for s in svcs}
    src = pick(rng, "status.json", "health.json", "services.json")
    out = pick(rng, "status.md", "health.md")
    instruction = pick(
        rng,
        para(f"Status board: tabulate {src} into {out} under the header `| service | state |`, keeping the file's order and",
             "writing up or down for each service."),
        para(f"Render {src} as a status page: {out} with a two-column table (header `| service | state |`), services in",
             "the order of the file, and the word up or down in the state column."),
    )
    want = [[s, "up" if states[s] else "down"] for s in svcs]
    return TaskDraft(instruction=instruction, files={src: json.dumps(data, indent=2) + "\n"},
                     check=_table_check(out, ["service", "state"], want),
                     steps=[step("read_file", path=src), step("write_file", path=out, content=lines(_md_table(["service", "state"], want))),
                            submit(f"{out}: {sum(states.values())} up, {len(svcs) - sum(states.values())} down.")],
                     tags=["markdown", "table"])


def l1_roster(rng: random.Random) -> TaskDraft:
    people = rng.sample(PEOPLE, rng.randint(3, 6))
    role = pick(rng, ("role", ["backend", "frontend", "data", "design", "qa"]), ("city", ["Lisbon", "Leeds", "Oslo", "Graz"]),
                ("shift", ["early", "late", "night"]))
    rows = [[p, rng.choice(role[1])] for p in people]
    order = pick(rng, "file", "name")
    want = rows if order == "file" else sorted(rows, key=lambda r: r[0])
    src = pick(rng, "team.csv", "oncall.csv", "staff.csv")
    out = pick(rng, "team.md", "people.md", "roster.md")
    how = "in file order" if order == "file" else "sorted by name"
    instruction = pick(
        rng,
        para(f"Make {out} from {src}: a Markdown table with header `| name | {role[0]} |`, one row per person, {how}."),
        para(f"I'd like {src} as a Markdown table in {out} (columns name and {role[0]}, rows {how})."),
    )
    return TaskDraft(instruction=instruction, files={src: csv_text(["name", role[0]], rows)},
                     check=_table_check(out, ["name", role[0]], want),
                     steps=[step("read_file", path=src), step("write_file", path=out, content=lines(_md_table(["name", role[0]], want))),
                            submit(f"{out}: {len(rows)} rows.")],
                     tags=["markdown", "table", "csv"])


def l1_checklist(rng: random.Random) -> TaskDraft:
    tasks = rng.sample(["back up the database", "announce the maintenance window", "drain worker nodes", "apply the migration",
                        "run smoke tests", "re-enable cron", "update the status page", "tag the release", "notify support"], rng.randint(4, 6))
    done = {t: rng.random() < 0.4 for t in tasks}
    src = pick(rng, "runbook.json", "steps.json")
    data = {"title": pick(rng, "Maintenance", "Release day", "Failover drill"), "steps": [{"task": t, "done": done[t]} for t in tasks]}
    out = pick(rng, "checklist.md", "runbook.md")
    instruction = pick(
        rng,
        para(f"Write {out} from {src}: a heading `# {data['title']}` then one GitHub task-list item per step in order,",
             "`- [x] task` for finished steps and `- [ ] task` for the rest."),
        para(f"Turn the steps in {src} into a Markdown checklist in {out}: title line `# {data['title']}`, then each step as a",
             "task-list item, ticked ([x]) if done, unticked ([ ]) otherwise, keeping their order."),
    )
    want = [[("x" if done[t] else " "), t] for t in tasks]
    check = dedent(f"""
        import os, re
        assert os.path.isfile({out!r})
        lines = [l.rstrip() for l in open({out!r}, encoding="utf-8") if l.strip()]
        assert lines[0].strip() == {'# ' + data['title']!r}, lines[:1]
        items = [(m[1].lower(), m[2].strip()) for l in lines[1:] if (m := re.match(r"^\\s*[-*] \\[([ xX])\\] (.+)$", l))]
        assert items == {[tuple(w) for w in want]!r}, items
        print('ok')
        """)
    body = [f"# {data['title']}", ""] + [f"- [{x}] {t}" for x, t in want]
    return TaskDraft(instruction=instruction, files={src: json.dumps(data, indent=2) + "\n"}, check=check,
                     steps=[step("read_file", path=src), step("write_file", path=out, content=lines(body)),
                            submit(f"{out}: {sum(done.values())} of {len(tasks)} steps done.")],
                     tags=["markdown", "checklist"])


def l1_release_notes(rng: random.Random) -> TaskDraft:
    ver = f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    feats = rng.sample(["CSV export", "dark mode", "bulk delete", "SSO login", "webhooks", "audit log", "keyboard shortcuts"], rng.randint(1, 3))
    fixes = rng.sample(["crash on empty cart", "wrong timezone in emails", "slow search", "broken avatar upload", "typo on pricing page"], rng.randint(1, 3))
    lines_in = [f"feat: {f}" for f in feats] + [f"fix: {x}" for x in fixes] + ["chore: bump deps", "ci: cache wheels"]
    rng.shuffle(lines_in)
    out = pick(rng, "RELEASE_NOTES.md", "notes.md")
    instruction = pick(
        rng,
        para(f"commits.txt has the commit subjects since the last tag. Write {out}: a heading `# Release {ver}`, a section",
             "`## Features` listing the `feat:` subjects and a section `## Fixes` listing the `fix:` subjects, as bullets without",
             "the prefix, in file order. Leave chores and CI commits out."),
        para(f"Draft the notes for {ver} in {out} from commits.txt: title `# Release {ver}`, then `## Features` (every feat:",
             "commit) and `## Fixes` (every fix: commit) as bullet lists, prefixes stripped, original order; other commits are omitted."),
    )
    want_f = [x[6:] for x in lines_in if x.startswith("feat: ")]
    want_x = [x[5:] for x in lines_in if x.startswith("fix: ")]
    check = TABLE_SNIPPET + dedent(f"""
        import os
        text = open({out!r}, encoding="utf-8").read()
        assert text.strip().splitlines()[0].strip() == {'# Release ' + ver!r}
        bul = lambda part: [re.sub(r"^\\s*[-*+]\\s+", "", l).strip() for l in part.splitlines() if re.match(r"^\\s*[-*+]\\s", l)]
        assert bul(section(text, "Features")) == {want_f!r}, bul(section(text, "Features"))
        assert bul(section(text, "Fixes")) == {want_x!r}, bul(section(text, "Fixes"))
        print('ok')
        """)
    body = [f"# Release {ver}", "", "## Features", ""] + [f"- {x}" for x in want_f] + ["", "## Fixes", ""] + [f"- {x}" for x in want_x]
    return TaskDraft(instruction=instruction, files={"commits.txt": lines(lines_in)}, check=check,
                     steps=[step("read_file", path="commits.txt"), step("write_file", path=out, content=lines(body)),
                            submit(f"{out}: {len(want_f)} features, {len(want_x)} fixes.")],
                     tags=["markdown", "release-notes"])


# ---------------------------------------------------------------- level 2

def l2_script_table(rng: random.Random) -> TaskDraft:
    kind = rng.randrange(3)
    if kind == 0:
        samples = [rng.randint(80, 400) for _ in range(rng.randint(9, 14))]
        samples[rng.randrange(len(samples))] = rng.randint(500, 1500)
        data_name, data = "latency.json", {"service": pick(rng, "search", "checkout", "auth"), "latency_ms": samples}
        script = dedent("""
            import json
            import statistics

            with open("latency.json") as f:
                samples = json.load(f)["latency_ms"]

            ordered = sorted(samples)
            print(f"requests {len(samples)}")
            print(f"mean_ms {statistics.mean(samples):.1f}")
            print(f"median_ms {statistics.median(samples):.1f}")
            print(f"p90_ms {ordered[int(0.9 * (len(ordered) - 1))]}")
            print(f"max_ms {max(samples)}")
            """)
        s = sorted(samples)
        want = {"requests": len(samples), "mean_ms": round(statistics.mean(samples), 1), "median_ms": round(float(statistics.median(samples)), 1),
                "p90_ms": s[int(0.9 * (len(s) - 1))], "max_ms": max(samples)}
        sname = "stats.py"
    elif kind == 1:
        words = rng.sample(["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"], 5)
        text_words = [rng.choice(words) for _ in range(rng.randint(20, 40))]
        data_name, data = "corpus.txt", " ".join(text_words)
        script = dedent("""
            text = open("corpus.txt").read().split()
            print(f"tokens {len(text)}")
            print(f"types {len(set(text))}")
            print(f"longest {max(len(w) for w in text)}")
            print(f"type_token_ratio {len(set(text)) / len(text):.3f}")
            """)
        want = {"tokens": len(text_words), "types": len(set(text_words)), "longest": max(len(w) for w in text_words),
                "type_token_ratio": round(len(set(text_words)) / len(text_words), 3)}
        sname = "textstats.py"
    else:
        sizes = {f"{h}": rng.randint(10, 900) for h in rng.sample(HOSTS, 5)}
        data_name, data = "disk_usage.json", sizes
        script = dedent("""
            import json
            usage = json.load(open("disk_usage.json"))
            print(f"hosts {len(usage)}")
            print(f"total_gb {sum(usage.values())}")
            print(f"largest_gb {max(usage.values())}")
            print(f"mean_gb {sum(usage.values()) / len(usage):.1f}")
            """)
        want = {"hosts": 5, "total_gb": sum(sizes.values()), "largest_gb": max(sizes.values()), "mean_gb": round(sum(sizes.values()) / 5, 1)}
        sname = "disk.py"
    content = data if isinstance(data, str) else json.dumps(data) + "\n"
    out = pick(rng, "stats.md", "metrics.md", "report.md")
    instruction = pick(
        rng,
        para(f"Paste the output of {sname} into {out} as a two-column `| metric | value |` table (one printed line per row)."),
        para(f"{sname} prints a few numbers about {data_name}. Capture them in {out}: a table `| metric | value |` with one",
             "row per printed line (name in the first column, number in the second). Show me the file at the end."),
        para(f"Document the current numbers: execute {sname}, then write {out} containing a `| metric | value |` table of its",
             "output lines."),
    )
    rows = [[k, v] for k, v in want.items()]
    check = _table_check(out, ["metric", "value"], rows, ordered=False, tol=0.0011 if kind == 1 else 0.051)
    body = _md_table(["metric", "value"], rows)
    return TaskDraft(instruction=instruction, files={sname: script, data_name: content}, check=check,
                     steps=[step("run", command=f"python {sname}"), step("write_file", path=out, content=lines(body)),
                            step("run", command=f"cat {out}"), submit(f"{out}: " + ", ".join(f"{k} {v}" for k, v in want.items()))],
                     tags=["markdown", "table", "run-script"])


def l2_count_table(rng: random.Random) -> TaskDraft:
    kind = pick(rng, ("tickets.csv", "priority", ["P1", "P2", "P3", "P4"], "support tickets"),
                ("orders.csv", "channel", ["web", "app", "phone", "store"], "orders"),
                ("bugs.csv", "component", ["ui", "api", "db", "auth", "build"], "bug reports"),
                ("signups.csv", "country", ["PT", "DE", "FR", "NL", "PL"], "signups"))
    fname, col, cats, noun = kind
    n = rng.randint(12, 25)
    vals = [rng.choice(cats) for _ in range(n)]
    rows = [[i + 1000, v, rng.choice(PEOPLE).split()[0]] for i, v in enumerate(vals)]
    c = Counter(vals)
    want = [[k, v] for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
    out = pick(rng, f"{col}_counts.md", "breakdown.md")
    instruction = pick(
        rng,
        para(f"How are the {noun} in {fname} distributed by {col}? Write {out} with a table `| {col} | count |`, most",
             f"frequent first (ties alphabetically), only values that occur. Print the file to check it."),
        para(f"Count the rows of {fname} per {col} and report it in {out} as a Markdown table with header `| {col} | count |`",
             "sorted by count descending, then by name. cat the result."),
    )
    return TaskDraft(instruction=instruction, files={fname: csv_text(["id", col, "owner"], rows)},
                     check=_table_check(out, [col, "count"], want, tol=0),
                     steps=[step("read_file", path=fname), step("write_file", path=out, content=lines(_md_table([col, "count"], want))),
                            step("run", command=f"cat {out}"), submit(f"{out}: {', '.join(f'{k} {v}' for k, v in want)}.")],
                     tags=["markdown", "table", "counts"])


def l2_top_list(rng: random.Random) -> TaskDraft:
    what = pick(rng, ("contributors.json", "commits", "contributors"), ("customers.json", "revenue", "customers"),
                ("pages.json", "views", "pages"), ("players.json", "points", "players"))
    fname, metric, noun = what
    names = [p for p in rng.sample(PEOPLE, 7)] if noun in ("contributors", "players") else (
        rng.sample(COMPANIES, 7) if noun == "customers" else [f"/docs/{x}" for x in rng.sample(
            ["install", "faq", "api", "cli", "config", "changelog", "security", "plugins"], 7)])
    vals = rng.sample(range(5, 999), 7)
    data = [{"name": n, metric: v} for n, v in zip(names, vals)]
    k = pick(rng, 3, 3, 5)
    top = sorted(data, key=lambda d: -d[metric])[:k]
    out = pick(rng, "top.md", f"top_{noun}.md", "leaders.md")
    instruction = pick(
        rng,
        para(f"Write {out}: a heading `# Top {k} {noun}` and then a numbered list of the {k} {noun} from {fname} with the most",
             f"{metric}, highest first, each line as `1. <name> - <{metric}>`. Check the result with cat."),
        para(f"Which {noun} lead on {metric}? From {fname} make {out} with the title `# Top {k} {noun}` and a numbered",
             f"list `N. name - {metric}` of the best {k}, in descending order. Print the file afterwards."),
    )
    want = [[d["name"], d[metric]] for d in top]
    check = dedent(f"""
        import os, re
        assert os.path.isfile({out!r})
        lines = [l.strip() for l in open({out!r}, encoding="utf-8") if l.strip()]
        assert lines[0] == {f'# Top {k} {noun}'!r}, lines[:1]
        items = [re.match(r"^\\d+[.)]\\s+(.+?)\\s+[-:\\u2013]\\s+\\**([\\d,]+)\\**$", l) for l in lines[1:] if re.match(r"^\\d+[.)]\\s", l)]
        assert all(items) and [(m[1].strip("*` "), int(m[2].replace(",", ""))) for m in items] == {[tuple(w) for w in want]!r}, lines
        print('ok')
        """)
    body = [f"# Top {k} {noun}", ""] + [f"{i + 1}. {n} - {v}" for i, (n, v) in enumerate(want)]
    return TaskDraft(instruction=instruction, files={fname: json.dumps(data, indent=2) + "\n"}, check=check,
                     steps=[step("read_file", path=fname), step("write_file", path=out, content=lines(body)),
                            step("run", command=f"cat {out}"), submit(f"{out}: top {k} is {', '.join(n for n, _ in want)}.")],
                     tags=["markdown", "ranking"])


def l2_json_table(rng: random.Random) -> TaskDraft:
    kind = rng.randrange(3)
    if kind == 0:
        data = {m: {"params_m": rng.choice([60, 125, 350, 770, 1500, 7000]), "acc": round(rng.uniform(0.6, 0.9), 3)} for m in rng.sample(MODELS, 4)}
        header, fname, key = ["model", "params_m", "acc"], "models.json", "acc"
        rows = [[m, d["params_m"], d["acc"]] for m, d in data.items()]
    elif kind == 1:
        data = {h: {"cpu_pct": rng.randint(3, 99), "mem_gb": round(rng.uniform(1, 60), 1)} for h in rng.sample(HOSTS, 5)}
        header, fname, key = ["host", "cpu_pct", "mem_gb"], "hosts.json", "cpu_pct"
        rows = [[h, d["cpu_pct"], d["mem_gb"]] for h, d in data.items()]
    else:
        data = {b: {"score": round(rng.uniform(20, 90), 1), "n": rng.randint(100, 5000)} for b in rng.sample(BENCHES, 5)}
        header, fname, key = ["benchmark", "score", "n"], "bench.json", "score"
        rows = [[b, d["score"], d["n"]] for b, d in data.items()]
    idx = header.index(key)
    rows.sort(key=lambda r: -r[idx])
    out = pick(rng, fname.replace(".json", ".md"), "table.md")
    instruction = pick(
        rng,
        para(f"Render {fname} as a Markdown table in {out} with the header `| {' | '.join(header)} |`, rows sorted by {key}",
             "from highest to lowest. Print the file when done."),
        para(f"Put the contents of {fname} into {out}: one table, columns {', '.join(header)}, largest {key} first. Then cat it."),
    )
    return TaskDraft(instruction=instruction, files={fname: json.dumps(data, indent=2) + "\n"},
                     check=_table_check(out, header, rows, tol=1e-6),
                     steps=[step("read_file", path=fname), step("write_file", path=out, content=lines(_md_table(header, rows))),
                            step("run", command=f"cat {out}"), submit(f"{out}: {len(rows)} rows sorted by {key}.")],
                     tags=["markdown", "table", "json"])


def l2_file_sizes(rng: random.Random) -> TaskDraft:
    mods = rng.sample(["parser", "cli", "models", "utils", "storage", "export", "auth", "cache"], rng.randint(3, 5))
    files, want = {}, []
    for m in mods:
        n = rng.randint(3, 25)
        files[f"src/{m}.py"] = lines([f"# {m}"] + [f"def f{i}():\n    return {i}" for i in range(n)])
        want.append([f"src/{m}.py", files[f"src/{m}.py"].count("\n")])
    files["README.md"] = "# demo\n"
    want.sort(key=lambda r: (-r[1], r[0]))
    out = pick(rng, "loc.md", "sizes.md")
    instruction = pick(
        rng,
        para(f"How big are the modules under src/? Write {out} with a table `| file | lines |` listing every .py file in src/",
             f"(path as src/name.py) with its line count (as `wc -l` counts them), largest first."),
        para(f"Make {out}: a Markdown table `| file | lines |` of the Python files in src/ and their number of lines, sorted",
             "descending by lines (ties by path). Count with wc -l."),
    )
    return TaskDraft(instruction=instruction, files=files, check=_table_check(out, ["file", "lines"], want, tol=0),
                     steps=[step("run", command="wc -l src/*.py"), step("write_file", path=out, content=lines(_md_table(["file", "lines"], want))),
                            submit(f"{out}: {len(want)} files, largest {want[0][0]}.")],
                     tags=["markdown", "table", "shell"])


# ---------------------------------------------------------------- level 3

def l3_experiment_summary(rng: random.Random) -> TaskDraft:
    models = rng.sample(MODELS, rng.randint(3, 4))
    rows, per = [], {m: [] for m in models}
    for m in models:
        base = rng.uniform(0.6, 0.9)
        for s in range(rng.randint(3, 5)):
            crashed = rng.random() < 0.25
            acc = "" if crashed and rng.random() < 0.5 else round(base + rng.uniform(-0.03, 0.03), 3)
            if crashed and acc != "":
                acc = round(rng.uniform(0.05, 0.2), 3)  # a crashed run may still report a garbage number
            rows.append([m, s, "crashed" if crashed else "ok", acc])
            per[m].append((crashed, acc))
    for m in models:
        if all(c for c, _ in per[m]):
            per[m][0] = (False, round(rng.uniform(0.6, 0.9), 3))
            i = next(i for i, r in enumerate(rows) if r[0] == m)
            rows[i][2], rows[i][3] = "ok", per[m][0][1]
    rng.shuffle(rows)
    table = []
    for m in sorted(models):
        good = [a for c, a in per[m] if not c]
        table.append([m, len(per[m]), sum(c for c, _ in per[m]), round(statistics.mean(good), 3), round(max(good), 3)])
    means = {m: statistics.mean([a for c, a in per[m] if not c]) for m in models}
    best = max(models, key=lambda m: means[m])
    out = pick(rng, "summary.md", "experiments.md")
    fname = pick(rng, "results.csv", "runs.csv")
    instruction = pick(
        rng,
        para(f"Model scoreboard from {fname} in {out}: `| model | runs | crashed | mean_acc | best_acc |`, alphabetical, where",
             "crashed runs are counted but excluded from the accuracy figures (3 decimals), and a last line `Best model: <model>`",
             "for the top mean_acc."),
        para(f"Weekly experiment digest: from {fname} build {out} containing a `| model | runs | crashed | mean_acc | best_acc |`",
             "table, models in alphabetical order. Crashed runs count in runs and crashed but their val_acc (if any) is ignored",
             "for mean_acc/best_acc (3 decimals). Finish with `Best model: <name>` for the model with the best mean."),
        para(f"Some seeds crashed in {fname}, so the raw averages lie. Write {out} with a per-model table",
             "`| model | runs | crashed | mean_acc | best_acc |` (alphabetical; accuracy stats over non-crashed runs only, 3",
             "decimals) and a closing line `Best model: <model>` naming the highest mean_acc."),
    )
    extra = f"""
        m = re.search(r"best model:\\s*\\**`?([\\w.-]+)", text, re.I)
        assert m and m[1].lower() == {best.lower()!r}, "Best model line"
        """
    script = dedent(f"""
        import csv, statistics
        runs = {{}}
        for r in csv.DictReader(open("{fname}", newline="")):
            runs.setdefault(r["model"], []).append(r)
        out = ["# Experiments", "", "| model | runs | crashed | mean_acc | best_acc |", "|---|---|---|---|---|"]
        means = {{}}
        for m in sorted(runs):
            good = [float(r["val_acc"]) for r in runs[m] if r["status"] != "crashed"]
            means[m] = statistics.mean(good)
            crashed = sum(r["status"] == "crashed" for r in runs[m])
            out.append(f"| {{m}} | {{len(runs[m])}} | {{crashed}} | {{means[m]:.3f}} | {{max(good):.3f}} |")
        out += ["", f"Best model: {{max(means, key=means.get)}}"]
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["model", "seed", "status", "val_acc"], rows)},
                     check=_table_check(out, ["model", "runs", "crashed", "mean_acc", "best_acc"], table, tol=0.0011, extra=extra),
                     steps=[step("read_file", path=fname), step("write_file", path="summ.py", content=script),
                            step("run", command=f"python summ.py && cat {out}"), submit(f"{out}: best model {best}.")],
                     tags=["markdown", "report", "csv", "experiments"])


def l3_log_levels(rng: random.Random) -> TaskDraft:
    comps = rng.sample(["db", "http", "auth", "cache", "queue", "mailer", "billing"], 4)
    n = rng.randint(14, 22)
    levels = ["DEBUG", "INFO", "WARNING", "ERROR"]
    body, cnt, errs = [], Counter(), Counter()
    t = rng.randint(0, 20) * 3600
    for _ in range(n):
        t += rng.randint(1, 200)
        lv = rng.choices(levels, [2, 5, 2, 2])[0]
        c = rng.choice(comps)
        body.append(f"2024-06-03 {t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d} {lv} [{c}] "
                    f"{pick(rng, 'request done', 'retrying', 'value out of range', 'cache miss', 'connection lost', 'ERROR budget ok')}")
        cnt[lv] += 1
        if lv == "ERROR":
            errs[c] += 1
            if rng.random() < 0.5:
                body += ["Traceback (most recent call last):", '  File "app.py", line 42, in handle', "ValueError: ERROR in payload"]
    if not errs:
        body.append(f"2024-06-03 23:59:00 ERROR [{comps[0]}] late failure")
        cnt["ERROR"] += 1
        errs[comps[0]] += 1
    table1 = [[lv, cnt[lv]] for lv in levels]
    table2 = [[c, k] for c, k in sorted(errs.items(), key=lambda kv: (-kv[1], kv[0]))]
    out = pick(rng, "log_report.md", "levels.md")
    instruction = pick(
        rng,
        para(f"Level histogram of app.log for {out}: `| level | count |` rows DEBUG, INFO, WARNING, ERROR (zeros included),",
             "then `## Errors by component` with `| component | errors |` from the bracketed tag, descending, ties by name.",
             "Continuation lines of a traceback are not separate entries."),
        para(f"Give me the shape of app.log as {out}. First a `| level | count |` table covering DEBUG, INFO, WARNING and ERROR in",
             "that order; then a heading `## Errors by component` over a `| component | errors |` table sorted by errors",
             "(descending, ties by name). Only real log entries count: traceback lines and the word ERROR inside a message don't."),
        para(f"Ops review: how noisy was the service? Count app.log entries per level into a `| level | count |` table",
             f"(DEBUG, INFO, WARNING, ERROR order) in {out}, and add `## Errors by component` with `| component | errors |`",
             "(bracketed component name, most errors first). Multi-line tracebacks are part of the entry before them."),
    )
    extra = f"""
        rows_match(table_with(section(text, "Errors by component"), ["component", "errors"]), {json.dumps(table2)}, True, 0, "errors")
        """
    script = dedent(f"""
        import re
        from collections import Counter
        lv, err = Counter(), Counter()
        for line in open("app.log"):
            m = re.match(r"^\\S+ \\S+ (DEBUG|INFO|WARNING|ERROR) \\[(\\w+)\\]", line)
            if m:
                lv[m[1]] += 1
                if m[1] == "ERROR":
                    err[m[2]] += 1
        out = ["# app.log", "", "| level | count |", "|---|---|"]
        out += [f"| {{l}} | {{lv[l]}} |" for l in ("DEBUG", "INFO", "WARNING", "ERROR")]
        out += ["", "## Errors by component", "", "| component | errors |", "|---|---|"]
        out += [f"| {{c}} | {{n}} |" for c, n in sorted(err.items(), key=lambda kv: (-kv[1], kv[0]))]
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    check = _table_check(out, ["level", "count"], table1, tol=0, extra=extra)
    return TaskDraft(instruction=instruction, files={"app.log": lines(body)}, check=check,
                     steps=[step("read_file", path="app.log"), step("write_file", path="levels.py", content=script),
                            step("run", command=f"python levels.py && cat {out}"), submit(f"{out} written.")],
                     tags=["markdown", "report", "logs"])


def l3_license_audit(rng: random.Random) -> TaskDraft:
    pkgs = rng.sample(["requests", "numpy", "pandas", "flask", "click", "rich", "pyyaml", "lxml", "psycopg2", "mysqlclient",
                       "paramiko", "cryptography", "pillow", "chardet", "readline", "tqdm"], rng.randint(8, 12))
    lic_pool = ["MIT", "MIT", "BSD-3-Clause", "Apache-2.0", "Apache-2.0", "GPL-2.0", "LGPL-3.0", "MPL-2.0", None]
    deps = []
    for p in pkgs:
        lic = rng.choice(lic_pool)
        d = {"name": p, "version": f"{rng.randint(0, 9)}.{rng.randint(0, 30)}"}
        if lic is not None:
            d["license"] = lic
        elif rng.random() < 0.5:
            d["license"] = ""
        deps.append(d)
    if not any(not d.get("license") for d in deps):
        deps[0].pop("license", None)
    lic_of = {d["name"]: d.get("license") or "unknown" for d in deps}
    cnt = Counter(lic_of.values())
    table = [[k, v] for k, v in sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))]
    review = sorted(p for p, l in lic_of.items() if "GPL" in l or l == "unknown")
    out = pick(rng, "license_report.md", "licenses.md")
    instruction = pick(
        rng,
        para(f"Open-source compliance summary of deps.json in {out}: a `| license | packages |` frequency table (largest first,",
             "then by name; blank or absent license = unknown) followed by `## Needs review`, one bullet per package that is",
             "unknown or GPL-like (any license containing GPL)."),
        para(f"Audit deps.json for licensing: {out} should open with a `| license | packages |` table (count per license,",
             "descending, ties alphabetical; packages without a license are \"unknown\") and contain a `## Needs review` section",
             "with a bullet per package under a GPL-family or unknown license, alphabetically."),
        para(f"Before the acquisition due diligence we must list copyleft risk. From deps.json write {out}: a count table",
             "`| license | packages |` (most packages first, ties by name, empty or missing license = \"unknown\") and a",
             "`## Needs review` bullet list of packages whose license mentions GPL or is unknown."),
    )
    extra = f"""
        items = [re.sub(r"^\\s*[-*+]\\s+", "", l).strip() for l in section(text, "Needs review").splitlines() if re.match(r"^\\s*[-*+]\\s", l)]
        names = sorted(re.split(r"[\\s:(]", i.strip("*`"))[0].strip("*`") for i in items)
        assert names == {review!r}, names
        """
    script = dedent(f"""
        import json
        from collections import Counter
        deps = json.load(open("deps.json"))
        lic = {{d["name"]: d.get("license") or "unknown" for d in deps}}
        c = Counter(lic.values())
        out = ["# Licenses", "", "| license | packages |", "|---|---|"]
        out += [f"| {{k}} | {{v}} |" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
        out += ["", "## Needs review", ""]
        out += [f"- {{p}} ({{l}})" for p, l in sorted(lic.items()) if "GPL" in l or l == "unknown"]
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    return TaskDraft(instruction=instruction, files={"deps.json": json.dumps(deps, indent=2) + "\n"},
                     check=_table_check(out, ["license", "packages"], table, tol=0, extra=extra),
                     steps=[step("read_file", path="deps.json"), step("write_file", path="lic.py", content=script),
                            step("run", command=f"python lic.py && cat {out}"), submit(f"{out}: {len(review)} packages need review.")],
                     tags=["markdown", "report", "licenses"])


def l3_bench_compare(rng: random.Random) -> TaskDraft:
    names = rng.sample(["parse_json", "render_page", "sort_10k", "gzip_1mb", "regex_scan", "db_insert", "hash_sha256",
                        "resize_image", "tokenize", "diff_text"], rng.randint(6, 8))
    both = names[:-2]
    only_b, only_c = names[-2], names[-1]
    base = {n: round(rng.uniform(2, 400), 2) for n in both + [only_b]}
    cand = {n: round(base[n] * rng.uniform(0.8, 1.15), 2) for n in both}
    cand[only_c] = round(rng.uniform(2, 400), 2)
    thr = pick(rng, 5, 10)
    rows = []
    for n in sorted(both):
        rows.append([n, base[n], cand[n], round((cand[n] - base[n]) / base[n] * 100, 1)])
    reg = [n for n in sorted(both) if (cand[n] - base[n]) / base[n] * 100 > thr]
    out = pick(rng, "bench_compare.md", "perf.md")
    instruction = pick(
        rng,
        para(f"Speed diff report {out}: join baseline.json and candidate.json on benchmark name, tabulate",
             "`| benchmark | baseline_ms | candidate_ms | change_pct |` alphabetically (relative change in %, 1 decimal), then",
             f"bullet lists under `## Regressions` (over {thr}% slower; write none if empty) and `## Not compared` (present in one file only)."),
        para(f"Did the candidate build get slower? Using baseline.json and candidate.json (milliseconds), produce {out} with",
             "a `| benchmark | baseline_ms | candidate_ms | change_pct |` table of the shared benchmarks (alphabetical, change in",
             f"percent with 1 decimal), a `## Regressions` section with a bullet per benchmark slower by more than {thr}%, and a",
             "`## Not compared` section naming the benchmarks missing from either file."),
        para(f"Performance gate for the release: put the timings of baseline.json next to candidate.json in {out}. Table",
             "`| benchmark | baseline_ms | candidate_ms | change_pct |` (common benchmarks, by name, change_pct one decimal),",
             f"then `## Regressions` (bullets: more than {thr}% slower, or none) and `## Not compared` (bullets: in one file only)."),
    )
    extra = f"""
        bul = lambda part: sorted(re.sub(r"^\\s*[-*+]\\s+", "", l).strip().strip("*`").split()[0].strip("*`:") for l in part.splitlines() if re.match(r"^\\s*[-*+]\\s", l))
        got_reg = [b for b in bul(section(text, "Regressions")) if b.lower() != "none"]
        assert got_reg == {sorted(reg)!r}, got_reg
        assert bul(section(text, "Not compared")) == {sorted([only_b, only_c])!r}, bul(section(text, "Not compared"))
        """
    script = dedent(f"""
        import json
        b, c = json.load(open("baseline.json")), json.load(open("candidate.json"))
        out = ["# Benchmarks", "", "| benchmark | baseline_ms | candidate_ms | change_pct |", "|---|---|---|---|"]
        reg = []
        for n in sorted(set(b) & set(c)):
            ch = (c[n] - b[n]) / b[n] * 100
            out.append(f"| {{n}} | {{b[n]}} | {{c[n]}} | {{ch:+.1f}} |")
            if ch > {thr}:
                reg.append(n)
        out += ["", "## Regressions", ""] + ([f"- {{n}}" for n in reg] or ["- none"])
        out += ["", "## Not compared", ""] + [f"- {{n}}" for n in sorted(set(b) ^ set(c))]
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    return TaskDraft(instruction=instruction,
                     files={"baseline.json": json.dumps(base, indent=2) + "\n", "candidate.json": json.dumps(cand, indent=2) + "\n"},
                     check=_table_check(out, ["benchmark", "baseline_ms", "candidate_ms", "change_pct"], rows, tol=0.051, extra=extra),
                     steps=[step("run", command="cat baseline.json candidate.json"), step("write_file", path="cmp.py", content=script),
                            step("run", command=f"python cmp.py && cat {out}"), submit(f"{out}: regressions {', '.join(reg) or 'none'}.")],
                     tags=["markdown", "report", "benchmarks"])


def l3_sales(rng: random.Random) -> TaskDraft:
    regions = rng.sample(["north", "south", "east", "west", "central", "islands"], rng.randint(3, 4))
    m1, m2 = pick(rng, ("2024-04", "2024-05"), ("2024-09", "2024-10"), ("2023-11", "2023-12"))
    rows, rev = [], {(r, m): 0.0 for r in regions for m in (m1, m2)}
    for _ in range(rng.randint(14, 22)):
        r, m = rng.choice(regions), rng.choice([m1, m2])
        u, p = rng.randint(1, 20), round(rng.uniform(3, 90), 2)
        rows.append([f"{m}-{rng.randint(1, 28):02d}", r, pick(rng, "widget", "gadget", "gizmo"), u, p])
        rev[r, m] += u * p
    for r in regions:
        for m in (m1, m2):
            if rev[r, m] == 0:
                rows.append([f"{m}-15", r, "widget", 1, 10.0])
                rev[r, m] += 10.0
    rows.sort()
    table = []
    for r in sorted(regions):
        a, b = rev[r, m1], rev[r, m2]
        table.append([r, round(a, 2), round(b, 2), round((b - a) / a * 100, 1)])
    ta, tb = sum(rev[r, m1] for r in regions), sum(rev[r, m2] for r in regions)
    table.append(["TOTAL", round(ta, 2), round(tb, 2), round((tb - ta) / ta * 100, 1)])
    growth = max(regions, key=lambda r: (rev[r, m2] - rev[r, m1]) / rev[r, m1])
    out = pick(rng, "sales_report.md", "revenue.md")
    instruction = pick(
        rng,
        para(f"Regional revenue, {m1} against {m2}: aggregate units x unit_price from sales.csv into {out} as",
             f"`| region | {m1} | {m2} | change_pct |` (regions A-Z, TOTAL last, money 2 decimals, change 1 decimal), and close",
             "with `## Summary` saying which region grew most in percent."),
        para(f"Month-over-month sales: {out} needs a `| region | {m1} | {m2} | change_pct |` table (regions alphabetical,",
             "then TOTAL; revenue = units x unit_price summed, 2 decimals; percentage change 1 decimal) and a `## Summary`",
             "section that says which region grew fastest in relative terms."),
        para(f"Area managers want {m1} vs {m2}. Revenue per row is units times unit_price in sales.csv; write {out}",
             f"with `| region | {m1} | {m2} | change_pct |` (alphabetical regions then a TOTAL row, 2-decimal revenue, 1-decimal",
             "change) and a short `## Summary` naming the region with the highest percentage growth."),
    )
    extra = f"""
        summ = section(text, "Summary").lower()
        assert {growth!r} in summ, summ
        """
    script = dedent(f"""
        import csv
        from collections import defaultdict
        rev = defaultdict(float)
        for r in csv.DictReader(open("sales.csv", newline="")):
            rev[r["region"], r["date"][:7]] += int(r["units"]) * float(r["unit_price"])
        regions = sorted({{k[0] for k in rev}})
        out = ["# Sales", "", "| region | {m1} | {m2} | change_pct |", "|---|---|---|---|"]
        pct = lambda a, b: (b - a) / a * 100
        for r in regions:
            out.append(f"| {{r}} | {{rev[r, '{m1}']:.2f}} | {{rev[r, '{m2}']:.2f}} | {{pct(rev[r, '{m1}'], rev[r, '{m2}']):.1f}} |")
        ta, tb = sum(rev[r, '{m1}'] for r in regions), sum(rev[r, '{m2}'] for r in regions)
        out.append(f"| TOTAL | {{ta:.2f}} | {{tb:.2f}} | {{pct(ta, tb):.1f}} |")
        best = max(regions, key=lambda r: pct(rev[r, '{m1}'], rev[r, '{m2}']))
        out += ["", "## Summary", "", f"{{best}} grew the most ({{pct(rev[best, '{m1}'], rev[best, '{m2}']):+.1f}}%)."]
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    return TaskDraft(instruction=instruction, files={"sales.csv": csv_text(["date", "region", "product", "units", "unit_price"], rows)},
                     check=_table_check(out, ["region", m1, m2, "change_pct"], table, tol=0.051, extra=extra),
                     steps=[step("read_file", path="sales.csv"), step("write_file", path="sales.py", content=script),
                            step("run", command=f"python sales.py && cat {out}"), submit(f"{out}: {growth} grew most.")],
                     tags=["markdown", "report", "sales"])


def l3_junit(rng: random.Random) -> TaskDraft:
    suites = rng.sample(["api", "models", "cli", "export", "auth", "storage"], rng.randint(2, 3))
    xml = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    table, failed = [], []
    for s in suites:
        cases = []
        for i in range(rng.randint(3, 6)):
            cases.append((f"test_{pick(rng, 'create', 'list', 'delete', 'parse', 'render', 'retry')}_{i}", round(rng.uniform(0.01, 3), 3),
                          rng.choices(["pass", "fail", "skip"], [6, 2, 1])[0]))
        xml.append(f'  <testsuite name="{s}" tests="{len(cases)}">')
        for name, t, st in cases:
            if st == "pass":
                xml.append(f'    <testcase classname="{s}" name="{name}" time="{t}"/>')
            elif st == "skip":
                xml += [f'    <testcase classname="{s}" name="{name}" time="{t}">', '      <skipped message="needs network"/>', "    </testcase>"]
            else:
                msg = pick(rng, "expected 200, got 500", "KeyError: 'id'", "timeout after 5s", "assert 3 == 4")
                xml += [f'    <testcase classname="{s}" name="{name}" time="{t}">', f'      <failure message="{msg}">trace</failure>', "    </testcase>"]
                failed.append(f"{s}::{name}")
        xml.append("  </testsuite>")
        table.append([s, len(cases), sum(c[2] == "fail" for c in cases), sum(c[2] == "skip" for c in cases), round(sum(c[1] for c in cases), 2)])
    xml.append("</testsuites>")
    out = pick(rng, "test_report.md", "junit.md")
    instruction = pick(
        rng,
        para(f"Test-run digest: read junit.xml and write {out} with `| suite | tests | failures | skipped | time_s |` per suite",
             "in document order (time_s adds up the case times, 2 decimals) and `## Failed tests`, a bullet `suite::name: message`",
             "for each failure, or none."),
        para(f"CI dropped junit.xml; turn it into a readable {out}. Per testsuite (file order) a row of",
             "`| suite | tests | failures | skipped | time_s |` (time_s summed over its test cases, 2 decimals), then",
             "`## Failed tests` with one bullet per failing case written `suite::name`, followed by its message."),
        para(f"Which suites are red? Parse junit.xml and write {out} with a `| suite | tests | failures | skipped | time_s |`",
             "row per suite (document order, time_s = total of its cases, 2 decimals) and a `## Failed tests` list of",
             "`suite::name` bullets with the failure messages."),
    )
    extra = f"""
        fails = sorted(re.findall(r"[\\w]+::[\\w]+", section(text, "Failed tests")))
        assert fails == {sorted(failed)!r}, fails
        """
    script = dedent(f"""
        import xml.etree.ElementTree as ET
        root = ET.parse("junit.xml").getroot()
        out = ["# Tests", "", "| suite | tests | failures | skipped | time_s |", "|---|---|---|---|---|"]
        fails = []
        for s in root.iter("testsuite"):
            cases = s.findall("testcase")
            f = [c for c in cases if c.find("failure") is not None]
            k = [c for c in cases if c.find("skipped") is not None]
            out.append(f"| {{s.get('name')}} | {{len(cases)}} | {{len(f)}} | {{len(k)}} | {{sum(float(c.get('time')) for c in cases):.2f}} |")
            fails += [f"- {{s.get('name')}}::{{c.get('name')}}: {{c.find('failure').get('message')}}" for c in f]
        out += ["", "## Failed tests", ""] + (fails or ["- none"])
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    return TaskDraft(instruction=instruction, files={"junit.xml": lines(xml)},
                     check=_table_check(out, ["suite", "tests", "failures", "skipped", "time_s"], table, tol=0.0051, extra=extra),
                     steps=[step("read_file", path="junit.xml"), step("write_file", path="junit.py", content=script),
                            step("run", command=f"python junit.py && cat {out}"), submit(f"{out}: {len(failed)} failed tests.")],
                     tags=["markdown", "report", "junit"])


def l3_low_stock(rng: random.Random) -> TaskDraft:
    skus = [f"{c}{rng.randint(100, 999)}" for c in rng.sample("ABCDEFG", rng.randint(4, 5))]
    whs = rng.sample(["leeds", "bristol", "porto", "gdansk", "graz"], 2)
    points = {s: rng.choice([20, 25, 50, 100]) for s in skus[:-1]}
    default = pick(rng, 10, 15)
    rows, low = [], []
    for s in skus:
        for w in whs:
            rp = points.get(s, default)
            oh = rng.randint(0, rp - 1) if rng.random() < 0.45 else rng.randint(rp, rp * 4)
            rows.append([s, w, oh])
            if oh < rp:
                low.append([s, w, oh, rp, rp - oh])
    if not low:
        rows[0][2] = 0
        rp = points.get(rows[0][0], default)
        low.append([rows[0][0], rows[0][1], 0, rp, rp])
    low.sort(key=lambda x: (-x[4], x[0], x[1]))
    per = Counter(x[1] for x in low)
    per_rows = [[w, per[w]] for w in sorted(per, key=lambda w: (-per[w], w))]
    out = pick(rng, "restock.md", "reorder.md")
    instruction = pick(
        rng,
        para(f"Stock alert page {out}: every inventory.csv line whose on_hand is under the reorder point from",
             f"reorder_points.json (fallback {default}) goes into `| sku | warehouse | on_hand | reorder_point | shortfall |`, biggest",
             "shortfall first then sku and warehouse; add `## Per warehouse` with a `| warehouse | low_items |` tally."),
        para(f"What do we need to reorder? Join inventory.csv with reorder_points.json (default reorder point {default} for SKUs",
             f"not listed) and write {out}: the low lines (on_hand < reorder point) in a",
             "`| sku | warehouse | on_hand | reorder_point | shortfall |` table sorted by shortfall descending, ties by sku and",
             "warehouse, plus `## Per warehouse` with a `| warehouse | low_items |` count table."),
        para(f"Purchasing needs a restock list. Low stock means on_hand below the SKU's reorder point from reorder_points.json",
             f"({default} when the SKU isn't there). In {out} list the low lines as `| sku | warehouse | on_hand | reorder_point | shortfall |`",
             "(biggest shortfall first, ties by sku then warehouse) and add `## Per warehouse` with `| warehouse | low_items |`."),
    )
    extra = f"""
        rows_match(table_with(section(text, "Per warehouse"), ["warehouse", "low_items"]), {json.dumps(per_rows)}, False, 0, "per warehouse")
        """
    script = dedent(f"""
        import csv, json
        from collections import Counter
        points = json.load(open("reorder_points.json"))
        low = []
        for r in csv.DictReader(open("inventory.csv", newline="")):
            p, oh = points.get(r["sku"], {default}), int(r["on_hand"])
            if oh < p:
                low.append((r["sku"], r["warehouse"], oh, p, p - oh))
        low.sort(key=lambda x: (-x[4], x[0], x[1]))
        out = ["# Restock", "", "| sku | warehouse | on_hand | reorder_point | shortfall |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(map(str, x)) + " |" for x in low]
        out += ["", "## Per warehouse", "", "| warehouse | low_items |", "|---|---|"]
        out += [f"| {{w}} | {{n}} |" for w, n in Counter(x[1] for x in low).most_common()]
        open("{out}", "w").write("\\n".join(out) + "\\n")
        """)
    return TaskDraft(instruction=instruction,
                     files={"inventory.csv": csv_text(["sku", "warehouse", "on_hand"], rows), "reorder_points.json": json.dumps(points) + "\n"},
                     check=_table_check(out, ["sku", "warehouse", "on_hand", "reorder_point", "shortfall"], low, tol=0, extra=extra),
                     steps=[step("read_file", path="inventory.csv"), step("write_file", path="restock.py", content=script),
                            step("run", command=f"python restock.py && cat {out}"), submit(f"{out}: {len(low)} low lines.")],
                     tags=["markdown", "report", "inventory"])


SCENARIOS = {
    1: [l1_bullets, l1_status_table, l1_roster, l1_checklist, l1_release_notes],
    2: [l2_script_table, l2_count_table, l2_top_list, l2_json_table, l2_file_sizes],
    3: [l3_experiment_summary, l3_log_levels, l3_license_audit, l3_bench_compare, l3_sales, l3_junit, l3_low_stock],
}


# Alternative vocabularies for scenarios whose default wording sits close to a hand-written task.
RENAMES = {
    "l3_low_stock": [
        {"inventory.csv": "stock_levels.csv", "reorder_points.json": "min_levels.json", "reorder_point": "min_level",
         "reorder point": "minimum level", "on_hand": "in_stock", "shortfall": "gap", "warehouse": "depot", "low_items": "short_lines"},
        {"inventory.csv": "counts.csv", "reorder_points.json": "par_levels.json", "reorder_point": "par_level",
         "reorder point": "par level", "on_hand": "counted", "shortfall": "deficit", "warehouse": "store", "low_items": "below_par"}],
    "l3_sales": [
        {"sales.csv": "bookings.csv", "unit_price": "price_each", "units": "qty", "regions": "territories", "region": "territory",
         "revenue": "turnover", "Revenue": "Turnover", "Summary": "Takeaway"},
        {"sales.csv": "orders_2024.csv", "unit_price": "list_price", "region": "market", "Summary": "Conclusion"}],
    "l3_license_audit": [
        {"deps.json": "third_party.json", "packages": "libraries", "package": "library", "Needs review": "Flagged for legal"},
        {"deps.json": "sbom.json", "packages": "components", "package": "component", "Needs review": "Copyleft and unknown"}],
    "l3_bench_compare": [
        {"baseline.json": "before.json", "candidate.json": "after.json", "baseline_ms": "before_ms", "candidate_ms": "after_ms",
         "Regressions": "Slowdowns", "Not compared": "Unpaired"},
        {"baseline.json": "main_branch.json", "candidate.json": "pr_branch.json", "baseline_ms": "main_ms", "candidate_ms": "pr_ms",
         "benchmark": "case", "Regressions": "Got slower", "Not compared": "Missing on one side"}],
    "l3_junit": [
        {"junit.xml": "ci_results.xml", "time_s": "seconds", "Failed tests": "Broken cases"},
        {"junit.xml": "nightly.xml", "time_s": "duration", "Failed tests": "Failing cases"}],
    "l3_experiment_summary": [
        {}, {"mean_acc": "avg_acc", "best_acc": "peak_acc", "crashed": "aborted", "results.csv": "trials.csv", "runs.csv": "trials.csv"}],
    "l3_log_levels": [
        {"app.log": "service.log", "Errors by component": "Failures per module", "component": "module", "errors": "failures"},
        {"app.log": "daemon.log", "Errors by component": "Error sources", "component": "subsystem"}],
    "l2_script_table": [
        {"metrics.md": "numbers.md", "metric": "quantity"}, {"stats.md": "figures.md", "metric": "measure", "stats.py": "summarise.py"}],
}

def generate(rng: random.Random, level: int) -> TaskDraft:
    return draw(rng, SCENARIOS[level], RENAMES)
