"""log-analysis: read an application, job or training log and answer, or write a JSON summary of it."""

from __future__ import annotations

import json
import math
import random
import statistics

from lab.generators import TaskDraft
from lab.generators.families._data import (draw, ENDPOINTS, HOSTS, PEOPLE, csv_text, dedent, json_check,
                                           lines, numbers_snippet, para, pick, step, submit, ts, day)

FAMILY = "log-analysis"
LEVELS = (1, 2, 3)

# Service themes: log file name, component names, and messages at each level.
THEMES = [
    dict(log="server.log", svc="shop api", comps=["http", "db", "cache"],
         info=["GET /health 200", "request served in {n}ms", "connected to db primary", "cache warm, {n} keys",
               "retrying order {n} after error", "error budget at 9{d}% (no action)"],
         warn=["slow query {n}ms on orders", "cache miss ratio 0.{d}{d}", "pool nearly full ({n}/100)"],
         error=["payment provider timeout after 30s (order {n})", "could not render invoice {n}: missing template",
                "db connection reset by peer"]),
    dict(log="mailrelay.log", svc="mail relay", comps=["smtp", "queue", "tls"],
         info=["delivered msg {n} to mx.example.net", "queue length {n}", "accepted connection from 10.0.{d}.{d}",
               "bounce handler found no errors in batch {n}"],
         warn=["deferred msg {n}: greylisted", "tls handshake slow ({n}ms)"],
         error=["relay denied for msg {n}", "mailbox full for user{n}@example.org", "dns lookup failed for mx{d}.example.com"]),
    dict(log="scheduler.log", svc="cron scheduler", comps=["cron", "runner", "lock"],
         info=["job nightly-{n} scheduled", "job report-{n} finished ok", "lock acquired by runner-{d}",
               "previous error on job sync-{n} cleared"],
         warn=["job sync-{n} overran its slot by {d}s", "lock held for {n}s"],
         error=["job export-{n} exited with status 1", "could not acquire lock after {n} tries", "runner-{d} lost heartbeat"]),
    dict(log="build-agent.log", svc="CI build agent", comps=["git", "docker", "cache"],
         info=["checked out commit a{n}f", "layer cache hit {n}/40", "build #{n} started", "ignored error-prone lint rule E{n}"],
         warn=["disk usage at 8{d}%", "docker pull took {n}s"],
         error=["build #{n} failed: compiler exited 2", "artifact upload to s3 failed", "registry returned 503"]),
    dict(log="ingest.log", svc="sensor ingest daemon", comps=["mqtt", "parser", "store"],
         info=["batch {n} stored ({d}00 rows)", "subscribed to sensors/#", "reconnected to broker after error",
               "parser handled {n} messages"],
         warn=["late reading from sensor s{n} ({d}s)", "write latency {n}ms"],
         error=["malformed payload from sensor s{n}", "store rejected batch {n}: disk full", "broker connection lost"]),
]


def _msg(rng: random.Random, template: str) -> str:
    return template.replace("{n}", str(rng.randint(100, 9999)), 1).replace("{n}", str(rng.randint(10, 999))).replace(
        "{d}", str(rng.randint(1, 9)))


def _fmt(style: int, when: str, level: str, comp: str, msg: str) -> str:
    if style == 0:
        return f"{when} {level:<7} {msg}"
    if style == 1:
        return f"[{when.replace(' ', 'T')}Z] [{level.lower()}] {comp}: {msg}"
    return f"{when} level={level.lower()} component={comp} msg=\"{msg}\""


LEVEL_WORDS = {"ERROR": "error", "WARNING": "warning"}


def _level_log(rng: random.Random, theme: dict, n: int) -> tuple[list[tuple[str, str, str, str]], int]:
    """(time, level, comp, msg) entries; at least 3 errors and 2 warnings."""
    levels = ["INFO"] * (n - 7) + ["ERROR"] * 3 + ["WARNING"] * 2 + [pick(rng, "INFO", "ERROR", "WARNING") for _ in range(2)]
    rng.shuffle(levels)
    times = ts(rng, day(rng), rng.randint(0, 20) * 3600, n)
    out = []
    for t, lv in zip(times, levels):
        pool = {"INFO": theme["info"], "WARNING": theme["warn"], "ERROR": theme["error"]}[lv]
        out.append((t, lv, pick(rng, *theme["comps"]), _msg(rng, pick(rng, *pool))))
    return out, 0


# ---------------------------------------------------------------- level 1

def l1_count_level(rng: random.Random) -> TaskDraft:
    theme = pick(rng, *THEMES)
    entries, _ = _level_log(rng, theme, rng.randint(12, 18))
    style = rng.randrange(3)
    level = pick(rng, "ERROR", "WARNING")
    text = lines([_fmt(style, *e) for e in entries])
    want = sum(1 for e in entries if e[1] == level)
    naive = sum(1 for row in text.splitlines() if LEVEL_WORDS[level][:4] in row.lower())
    word = LEVEL_WORDS[level]
    instruction = pick(
        rng,
        para(f"Tally the {level} records the {theme['svc']} wrote to {theme['log']}; reply with just the count."),
        para(f"Our {theme['svc']} wrote {theme['log']} overnight.", f"Count the lines logged at {word} level and tell me the count."),
        para(f"I need a quick number for the on-call handover: the count of {word}-level messages in {theme['log']}",
             f"(the {theme['svc']}'s log). Just report it."),
    )
    if style == 0:
        cmd = f"grep -c ' {level} ' {theme['log']}"
    elif style == 1:
        cmd = f"grep -c '\\[{level.lower()}\\]' {theme['log']}"
    else:
        cmd = f"grep -c 'level={level.lower()} ' {theme['log']}"
    check = numbers_snippet() + f"assert {float(want)!r} in NUMS, f'expected {want} in the answer, got {{ANSWER!r}}'\n"
    if naive != want:
        check += f"assert {float(naive)!r} not in NUMS, f'conflicting count in the answer: {{ANSWER!r}}'\n"
    check += "print('ok')\n"
    return TaskDraft(instruction=instruction, files={theme["log"]: text}, check=check,
                     steps=[step("run", "Count the lines at that level.", command=cmd),
                            submit(f"{theme['log']} has {want} {level} lines.")],
                     tags=["grep", "question", "app-log"])


JOBS = [
    dict(log="backup.log", what="last night's backup", noun="backup", steps=["snapshot of /var/lib/pg", "upload to s3://backups",
                                                                           "verify checksums", "prune snapshots older than 14d"]),
    dict(log="deploy.log", what="the release deploy", noun="deploy", steps=["pull image api:4.2", "run db migrations",
                                                                          "rolling restart of 6 pods", "smoke tests"]),
    dict(log="etl_run.log", what="the nightly ETL run", noun="ETL run", steps=["extract orders", "extract customers",
                                                                              "transform facts", "load warehouse"]),
    dict(log="migration.log", what="the schema migration", noun="migration", steps=["lock tables", "add column region",
                                                                                    "backfill region", "drop old index"]),
    dict(log="sync.log", what="the photo library sync", noun="sync", steps=["scan 12k files", "hash new files",
                                                                            "upload 314 files", "update manifest"]),
]


def l1_job_status(rng: random.Random) -> TaskDraft:
    job = pick(rng, *JOBS)
    ok = rng.random() < 0.5
    d = day(rng)
    times = ts(rng, d, rng.randint(0, 5) * 3600, 12, (20, 400))
    rows, i = [f"{times[0]} starting {job['noun']} (pid {rng.randint(1000, 40000)})"], 1
    failing = rng.randrange(len(job["steps"]))
    for k, s in enumerate(job["steps"]):
        rows.append(f"{times[i]} step {k + 1}/{len(job['steps'])}: {s}")
        i += 1
        if k == 0 and rng.random() < 0.6:
            rows.append(f"{times[i]} WARN transient error, retrying ({s})")
            i += 1
            rows.append(f"{times[i]} retry succeeded")
            i += 1
        if not ok and k == failing:
            rows.append(f"{times[i]} ERROR {s} failed: {pick(rng, 'timeout after 600s', 'permission denied', 'no space left on device')}")
            i += 1
            break
    end = times[i]
    rows.append(f"{end} {job['noun']} finished: status={'SUCCESS' if ok else 'FAILED'}")
    end_hm = end.split()[1]
    instruction = pick(
        rng,
        para(f"Look at {job['log']} ({job['what']}) and report whether it ended well, plus the timestamp of its final line."),
        para(f"Can you check {job['log']} and tell me whether {job['what']} went through?",
             "I also need the time (HH:MM:SS) of its last line."),
        para(f"Before I go home: read {job['log']} and report if {job['what']} ended in success or failure, and when it ended."),
    )
    good, bad = r"succe|\bok\b|complet|passed", r"fail|error|unsuccessful|did not succeed|didn't succeed"
    check = dedent(f"""
        import re
        a = ANSWER.lower()
        assert {end_hm!r} in ANSWER or {end_hm[:5]!r} in ANSWER, f"finish time {end_hm} missing: {{ANSWER!r}}"
        """)
    if ok:
        check += f"assert re.search({good!r}, a) and not re.search(r'\\bfailed\\b|\\bfailure', a), ANSWER\n"
    else:
        check += f"assert re.search({bad!r}, a) and not re.search(r'\\bsucceeded\\b|\\bsuccessful', a), ANSWER\n"
    check += "print('ok')\n"
    summary = f"The {job['noun']} {'succeeded (status=SUCCESS)' if ok else 'failed (status=FAILED)'}; it finished at {end_hm}."
    return TaskDraft(instruction=instruction, files={job["log"]: lines(rows)}, check=check,
                     steps=[step("run", "Look at the end of the log.", command=f"tail -n 3 {job['log']}"), submit(summary)],
                     tags=["question", "job-log"])


METRICS = [
    dict(log="gpu.log", key="mem", unit="MiB", what="GPU memory in use", ask="peak GPU memory", lo=9000, hi=79000),
    dict(log="queue.log", key="depth", unit="msgs", what="queue depth", ask="deepest the queue got", lo=3, hi=12000),
    dict(log="thermal.log", key="temp", unit="C", what="CPU package temperature", ask="hottest reading", lo=41, hi=104),
    dict(log="latency.log", key="p99", unit="ms", what="p99 latency", ask="worst p99 latency", lo=80, hi=4200),
    dict(log="rss.log", key="rss", unit="MB", what="resident memory of the worker", ask="highest RSS", lo=200, hi=6400),
]


def l1_peak(rng: random.Random) -> TaskDraft:
    m = pick(rng, *METRICS)
    n = rng.randint(10, 16)
    vals = [rng.randint(m["lo"], m["hi"] // 2) for _ in range(n)]
    peak_at = rng.randrange(n)
    vals[peak_at] = rng.randint(m["hi"] // 2 + 1, m["hi"])
    # a value that sorts highest as text but is not the maximum
    digits = len(str(max(vals)))
    lex = int("9" * (digits - 1)) if digits > 1 else 9
    if lex < max(vals):
        vals[(peak_at + 1 + rng.randrange(n - 1)) % n] = lex
    step0 = pick(rng, 10, 50, 100)
    rows = [f"step={step0 * (i + 1)} {m['key']}={v}{m['unit'] if m['unit'] != 'msgs' else ''} ok" for i, v in enumerate(vals)]
    want = max(vals)
    instruction = pick(
        rng,
        para(f"Scan {m['log']}, which records the {m['what']} at each step as {m['key']}=..., and give me the {m['ask']}."),
        para(f"What is the maximum {m['key']} value recorded in {m['log']}?", "Answer with the number."),
        para(f"Look through {m['log']} and report the {m['ask']} (the {m['what']}).", "Careful: the values are plain numbers, not text."),
    )
    check = numbers_snippet() + f"assert {float(want)!r} in NUMS, f'expected {want} in the answer: {{ANSWER!r}}'\n"
    if lex != want and lex in vals:
        check += f"assert {float(lex)!r} not in NUMS, ANSWER\n"
    check += "print('ok')\n"
    cmd = f"grep -o '{m['key']}=[0-9]*' {m['log']} | cut -d= -f2 | sort -n | tail -n 1"
    return TaskDraft(instruction=instruction, files={m["log"]: lines(rows)}, check=check,
                     steps=[step("run", "Extract the values, sort numerically.", command=cmd),
                            submit(f"The {m['ask']} in {m['log']} is {want} {m['unit']}.")],
                     tags=["question", "metrics-log"])


EVENTS = [
    dict(log="kernel.log", event="the first out-of-memory kill", marker="Out of memory: Killed process {n}", pat="Out of memory",
         noise=["eth0: link up 1000Mbps", "usb 1-2: new device", "EXT4-fs (sda1): mounted", "audit: backlog {n}"]),
    dict(log="disk_monitor.log", event="the first time disk usage went above 90%", marker="usage 9{d}% on /data (threshold 90%)",
         pat="threshold", noise=["usage 7{d}% on /data", "usage 8{d}% on /data", "usage 6{d}% on /data"]),
    dict(log="client.log", event="the first 'connection refused' error", marker="connect to 10.0.0.{d}:5432 failed: connection refused",
         pat="connection refused", noise=["query ok ({n} rows)", "connect to 10.0.0.{d}:5432 ok", "pool size {d}"]),
    dict(log="replication.log", event="when replication lag first exceeded 30 seconds", marker="replica lag 3{d}.{d}s (above 30s)",
         pat="above 30s", noise=["replica lag {d}.{d}s", "replica lag 1{d}.{d}s", "wal segment {n} shipped"]),
]


def l1_first_event(rng: random.Random) -> TaskDraft:
    ev = pick(rng, *EVENTS)
    n = rng.randint(12, 18)
    times = ts(rng, day(rng), rng.randint(1, 22) * 3600, n, (5, 300))
    first = rng.randint(3, n - 4)
    rows, hits = [], []
    for i, t in enumerate(times):
        hit = i == first or (i > first and rng.random() < 0.3)
        rows.append(f"{t} {_msg(rng, ev['marker'] if hit else pick(rng, *ev['noise']))}")
        if hit:
            hits.append(t.split()[1])
    want = hits[0]
    instruction = pick(
        rng,
        para(f"At what time did {ev['event']} happen, according to {ev['log']}? Give the HH:MM:SS timestamp."),
        para(f"Find {ev['event']} in {ev['log']} and tell me its time.", "Later occurrences don't matter."),
        para(f"I'm writing the incident timeline. From {ev['log']}, when was {ev['event']}?"),
    )
    check = f"assert {want!r} in ANSWER, f'expected {want} in the answer: {{ANSWER!r}}'\n"
    for t in hits[1:]:
        check += f"assert {t!r} not in ANSWER, 'a later occurrence was reported'\n"
    check += "print('ok')\n"
    return TaskDraft(instruction=instruction, files={ev["log"]: lines(rows)}, check=check,
                     steps=[step("run", "First matching line.", command=f"grep -m 1 -n '{ev['pat']}' {ev['log']}"),
                            submit(f"{ev['event'][0].upper() + ev['event'][1:]}: at {want}.")],
                     tags=["question", "timeline"])


def l1_top_actor(rng: random.Random) -> TaskDraft:
    kind = pick(rng, "ssh", "web", "vpn")
    users = [p.split()[0].lower() for p in rng.sample(PEOPLE, 5)]
    n = rng.randint(14, 22)
    counts = {u: 0 for u in users}
    top = users[0]
    seq = [top] * 5 + [rng.choice(users[1:]) for _ in range(n - 5)]
    rng.shuffle(seq)
    for u in seq:
        counts[u] += 1
    if sorted(counts.values())[-2] >= counts[top]:
        seq += [top] * (sorted(counts.values())[-2] - counts[top] + 1)
    times = ts(rng, day(rng), 3600 * rng.randint(0, 20), len(seq) * 2)
    rows = []
    for i, u in enumerate(seq):
        ip = f"203.0.113.{rng.randint(2, 250)}"
        if kind == "ssh":
            rows.append(f"{times[2 * i]} sshd[{rng.randint(100, 9999)}]: Failed password for {u} from {ip} port {rng.randint(1024, 65000)}")
            if rng.random() < 0.3:
                other = rng.choice(users)
                rows.append(f"{times[2 * i + 1]} sshd[{rng.randint(100, 9999)}]: Accepted password for {other} from {ip}")
        elif kind == "web":
            rows.append(f"{times[2 * i]} auth: login failed user={u} ip={ip} reason=bad_password")
            if rng.random() < 0.3:
                rows.append(f"{times[2 * i + 1]} auth: login ok user={rng.choice(users)} ip={ip}")
        else:
            rows.append(f"{times[2 * i]} vpn-gw: AUTH_FAILED account '{u}' from {ip}")
            if rng.random() < 0.3:
                rows.append(f"{times[2 * i + 1]} vpn-gw: AUTH_OK account '{rng.choice(users)}' from {ip}")
    logname = {"ssh": "auth.log", "web": "login_audit.log", "vpn": "vpn.log"}[kind]
    instruction = pick(
        rng,
        para(f"Which account has the most failed logins in {logname}? Name it in your summary."),
        para(f"Security asked who is being brute-forced. Going by the failed attempts in {logname}, which user is targeted most often?"),
        para(f"Count failed authentications per user in {logname} and tell me the user with the highest count."),
    )
    check = dedent(f"""
        import re
        names = re.findall(r"\\b({'|'.join(users)})\\b", ANSWER.lower())
        assert names, f"no user named: {{ANSWER!r}}"
        assert names[0] == {top!r}, f"expected {top} first: {{ANSWER!r}}"
        print('ok')
        """)
    pat = {"ssh": "Failed password for", "web": "login failed", "vpn": "AUTH_FAILED"}[kind]
    return TaskDraft(instruction=instruction, files={logname: lines(rows)}, check=check,
                     steps=[step("run", "Count failures per user.", command=f"grep '{pat}' {logname} | grep -oE '({'|'.join(users)})' | sort | uniq -c | sort -rn"),
                            submit(f"{top} has the most failed logins.")],
                     tags=["question", "auth-log"])


# ---------------------------------------------------------------- level 2

def l2_slowest(rng: random.Random) -> TaskDraft:
    field = pick(rng, ("ms", "ms", "slowest request", "duration"), ("bytes", "B", "largest response", "response size"))
    key, unit, what, noun = field
    eps = rng.sample(ENDPOINTS, 6)
    n = rng.randint(8, 12)
    times = ts(rng, day(rng), 3600 * rng.randint(6, 20), n, (1, 9))
    vals = [rng.randint(10, 900) if key == "ms" else rng.randint(200, 90000) for _ in range(n)]
    top = rng.randrange(n)
    vals[top] = (rng.randint(1000, 2500) if key == "ms" else rng.randint(100000, 400000))
    recs = []
    for i in range(n):
        method = pick(rng, "GET", "GET", "POST", "PUT")
        status = pick(rng, 200, 200, 200, 201, 404, 500, 502)
        recs.append((times[i].replace(" ", "T") + "Z", method, rng.choice(eps), status, vals[i]))
    logname = pick(rng, "access.log", "nginx_access.log", "gateway.log")
    text = lines([f"{t} {m} {p} {s} {v}{unit}" for t, m, p, s, v in recs])
    t, m, p, s, v = recs[top]
    want = {"method": m, "path": p, "status": s, key: v}
    out = pick(rng, "slowest.json", "top_request.json", "worst.json")
    instruction = pick(
        rng,
        para(f"Dig the {what} out of {logname} and store it in {out} with method, path, status and {key} (integers for the",
             "numeric ones); python -m json.tool must accept the file."),
        para(f"Which request in {logname} has the biggest {noun}? Record it in {out} with the keys method, path, status and {key}",
             "(status and", key, "as integers), and validate the file with python -m json.tool."),
    )
    return TaskDraft(instruction=instruction, files={logname: text}, check=json_check(out, want),
                     steps=[step("read_file", path=logname),
                            step("write_file", f"The largest {key} value is {v}.", path=out, content=json.dumps(want) + "\n"),
                            step("run", command=f"python -m json.tool {out}"),
                            submit(f"{what.capitalize()}: {m} {p} ({s}), {v}{unit}; written to {out}.")],
                     tags=["access-log", "json"])


def l2_level_counts(rng: random.Random) -> TaskDraft:
    theme = pick(rng, *THEMES)
    entries, _ = _level_log(rng, theme, rng.randint(12, 20))
    style = rng.randrange(3)
    text = lines([_fmt(style, *e) for e in entries])
    by = pick(rng, "level", "component")
    out = pick(rng, "counts.json", "summary.json", f"{theme['log'].split('.')[0]}_counts.json")
    if by == "level":
        want = {}
        for e in entries:
            want[e[1]] = want.get(e[1], 0) + 1
        instruction = pick(
            rng,
            para(f"Tally {theme['log']} by log level: write {out} mapping each level that occurs (INFO, WARNING, ERROR as",
                 "written in upper case) to its number of lines. Check the file with python -m json.tool."),
            para(f"For the {theme['svc']} dashboard I want {out}: a JSON object from level name (upper case) to how many",
                 f"entries of that level {theme['log']} has. Make sure it parses with `python -m json.tool`."),
        )
    else:
        want = {}
        for e in entries:
            if e[1] == "ERROR":
                want[e[2]] = want.get(e[2], 0) + 1
        instruction = pick(
            rng,
            para(f"Which parts of the {theme['svc']} are failing? Count the ERROR entries in {theme['log']} per component",
                 f"and write {out} as {{\"<component>\": <errors>}} (only components with at least one error)."
                 f" Run python -m json.tool {out} afterwards."),
            para(f"Write {out}: the number of error-level lines per component in {theme['log']}; leave out components",
                 "with none. Verify the JSON parses."),
        )
        if style == 0:  # component only shown in the other styles; switch to one that has it
            text = lines([_fmt(1, *e) for e in entries])
    return TaskDraft(instruction=instruction, files={theme["log"]: text}, check=json_check(out, want),
                     steps=[step("read_file", path=theme["log"]),
                            step("write_file", "Counted.", path=out, content=json.dumps(want, indent=2) + "\n"),
                            step("run", command=f"python -m json.tool {out}"),
                            submit(f"{out}: {json.dumps(want)}")],
                     tags=["app-log", "json", "counts"])


def l2_failed_jobs(rng: random.Random) -> TaskDraft:
    kind = pick(rng, ("batch job", "job", "jobs.log"), ("print job", "print", "cups.log"), ("test shard", "shard", "shards.log"),
                ("render task", "frame", "render.log"))
    noun, prefix, logname = kind
    n = rng.randint(8, 12)
    ids = [f"{prefix}-{rng.randint(100, 999)}" for _ in range(n)]
    ids = list(dict.fromkeys(ids))
    times = ts(rng, day(rng), 3600 * rng.randint(0, 20), 2 * len(ids) + 2, (3, 200))
    failed, rows, k = [], [], 0
    for j in ids:
        rows.append(f"{times[k]} start {j}")
        k += 1
    rng.shuffle(ids)
    for j in ids:
        bad = rng.random() < 0.4
        code = rng.randint(1, 139) if bad else 0
        rows.append(f"{times[k]} end {j} exit={code}")
        k += 1
        if bad:
            failed.append(j)
    if not failed:
        failed.append(ids[-1])
        rows[-1] = rows[-1].replace("exit=0", "exit=2")
    out = pick(rng, "failed.json", "failures.json", f"failed_{prefix}s.json")
    instruction = pick(
        rng,
        para(f"List the {noun}s in {logname} that ended with a non-zero exit code, in the order they ended, as a JSON array",
             f"of ids in {out}. Check the file parses with python -m json.tool."),
        para(f"Which {noun}s failed? {logname} logs a start and an end line per {noun}; an end with exit other than 0 is a failure.",
             f"Save the failing ids (order of their end lines) to {out} as a JSON list, then validate it."),
    )
    return TaskDraft(instruction=instruction, files={logname: lines(rows)}, check=json_check(out, failed),
                     steps=[step("run", command=f"grep ' end ' {logname} | grep -v 'exit=0$'"),
                            step("write_file", path=out, content=json.dumps(failed) + "\n"),
                            step("run", command=f"python -m json.tool {out}"),
                            submit(f"{len(failed)} failed: {', '.join(failed)}.")],
                     tags=["job-log", "json"])


def l2_worker_span(rng: random.Random) -> TaskDraft:
    workers = rng.sample(HOSTS, 3)
    target = workers[0]
    n = rng.randint(12, 18)
    times = ts(rng, day(rng), 3600 * rng.randint(0, 18), n, (5, 600))
    who = [rng.choice(workers) for _ in range(n)]
    for i in rng.sample(range(n), 3):
        who[i] = target
    act = pick(rng, ("processed task", "tasks"), ("heartbeat", "heartbeats"), ("flushed buffer", "flushes"))
    rows = [f"{t} [{w}] {act[0]} #{rng.randint(1000, 9999)}" for t, w, in zip(times, who)]
    mine = [t for t, w in zip(times, who) if w == target]
    want = {"worker": target, "first": mine[0], "last": mine[-1], "lines": len(mine)}
    out = pick(rng, "worker.json", f"{target}.json", "span.json")
    instruction = pick(
        rng,
        para(f"From cluster.log, write {out} describing worker {target}:",
             '{"worker": ..., "first": "<timestamp of its first line>", "last": "<timestamp of its last line>", "lines": <int>}.',
             "Timestamps exactly as in the log (date and time). Check it parses with python -m json.tool."),
        para(f"When was {target} active? Take its {act[1]} in cluster.log and save {out} with keys worker, first, last",
             "(the full timestamps of its first and last line) and lines (how many lines it logged). Validate the file."),
    )
    return TaskDraft(instruction=instruction, files={"cluster.log": lines(rows)}, check=json_check(out, want),
                     steps=[step("run", command=f"grep '\\[{target}\\]' cluster.log"),
                            step("write_file", path=out, content=json.dumps(want) + "\n"),
                            step("run", command=f"python -m json.tool {out}"),
                            submit(f"{target}: {len(mine)} lines from {mine[0]} to {mine[-1]}.")],
                     tags=["cluster-log", "json"])


def l2_peak_step(rng: random.Random) -> TaskDraft:
    m = pick(rng, ("gpu_mem.log", "mem_mib", "GPU memory (MiB)"), ("loss_scale.log", "grad_norm", "gradient norm"),
             ("dataloader.log", "wait_ms", "data-loader wait time (ms)"))
    logname, key, what = m
    n = rng.randint(10, 15)
    stride = pick(rng, 25, 50, 100, 200)
    if key == "grad_norm":
        vals = [round(rng.uniform(0.5, 3.0), 3) for _ in range(n)]
        vals[rng.randrange(n)] = round(rng.uniform(8, 40), 3)
    else:
        vals = [rng.randint(100, 9000) for _ in range(n)]
        vals[rng.randrange(n)] = rng.randint(10000, 80000)
    rows = [f"step {stride * (i + 1)}: {key}={v} lr={rng.choice(['3e-4', '1e-4', '2e-5'])}" for i, v in enumerate(vals)]
    i = max(range(n), key=lambda i: vals[i])
    want = {"step": stride * (i + 1), key: vals[i]}
    out = pick(rng, "peak.json", f"max_{key}.json")
    instruction = pick(
        rng,
        para(f"{logname} logs the {what} at every step. Write {out} as {{\"step\": <int>, \"{key}\": <value>}} for the step",
             "where it peaked, and check the file with python -m json.tool."),
        para(f"Find the step with the highest {key} in {logname}; save the step and the value to {out}",
             f"(keys step and {key}). Validate it with json.tool before you finish."),
    )
    return TaskDraft(instruction=instruction, files={logname: lines(rows)}, check=json_check(out, want, 1e-9),
                     steps=[step("read_file", path=logname),
                            step("write_file", path=out, content=json.dumps(want) + "\n"),
                            step("run", command=f"python -m json.tool {out}"),
                            submit(f"Peak {key} {vals[i]} at step {want['step']}.")],
                     tags=["training-log", "json"])


# ---------------------------------------------------------------- level 3

def _curve(rng: random.Random, n: int, start: float, end: float, noise: float) -> list[float]:
    return [round(start + (end - start) * (1 - math.exp(-3 * i / n)) + rng.uniform(-noise, noise), 4) for i in range(n)]


def l3_run_summary(rng: random.Random) -> TaskDraft:
    metric, better = pick(rng, ("val_loss", "min"), ("val_acc", "max"), ("val_bleu", "max"), ("val_wer", "min"), ("val_f1", "max"))
    runs = rng.sample(["lr3e-4", "lr1e-4", "lr1e-3", "warmup500", "cosine", "linear", "bs64", "bs128", "dropout0.1"], 3)
    epochs = rng.randint(5, 8)
    rows = []
    data = {}
    for r in runs:
        if better == "min":
            start, end = rng.uniform(1.8, 2.6), rng.uniform(0.4, 1.2)
        else:
            start, end = rng.uniform(0.3, 0.5), rng.uniform(0.7, 0.92)
        if metric in ("val_bleu",):
            start, end = start * 40, end * 40
        if metric == "val_wer":
            start, end = start / 4, end / 4
        curve = _curve(rng, epochs, start, end, abs(end - start) * 0.08)
        data[r] = curve
        for e, v in enumerate(curve, 1):
            rows.append([r, e, round(rng.uniform(0.2, 2.0), 4), v])
    rng.shuffle(rows)
    want = {}
    for r, curve in data.items():
        best = (min if better == "min" else max)(curve)
        want[r] = {f"best_{metric}": best, "best_epoch": curve.index(best) + 1, f"final_{metric}": curve[-1]}
    fname = pick(rng, "metrics.csv", "history.csv", "epochs.csv")
    out = pick(rng, "summary.json", "best_epochs.json", "run_summary.json")
    word = "lowest" if better == "min" else "highest"
    instruction = pick(
        rng,
        para(f"Per-run recap of {fname}, please (rows arrive shuffled, one per run and epoch): where did {metric} peak",
             f"({word} value and its epoch) and where did it finish? Save {out} keyed by run with best_{metric}, best_epoch",
             f"and final_{metric}."),
        para(f"Which epoch should we keep for each run? Using {fname} (a row per run and epoch, shuffled), pick the epoch with",
             f"the {word} {metric} and also report where {metric} ended. Save {out}: for every run, best_{metric},",
             f"best_epoch (int) and final_{metric}."),
        para(f"Did any of the {', '.join(runs)} runs overfit? Compare each run's best {metric} ({word} is best) with its value",
             f"after the final epoch in {fname}. Output {out} with best_{metric}, best_epoch and final_{metric} per run name."),
    )
    script = dedent(f"""
        import csv, json
        runs = {{}}
        for r in csv.DictReader(open("{fname}", newline="")):
            runs.setdefault(r["run"], []).append((int(r["epoch"]), float(r["{metric}"])))
        out = {{}}
        for run, pts in runs.items():
            pts.sort()
            best = {better}(pts, key=lambda p: p[1])
            out[run] = {{"best_{metric}": best[1], "best_epoch": best[0], "final_{metric}": pts[-1][1]}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["run", "epoch", "train_loss", metric], rows)},
                     check=json_check(out, want, 1e-6),
                     steps=[step("read_file", path=fname), step("write_file", "Group by run, sort by epoch.", path="summ.py", content=script),
                            step("run", command="python summ.py"), submit(f"{out} written for {', '.join(runs)}.")],
                     tags=["python", "csv", "experiment-logs"])


def l3_divergence(rng: random.Random) -> TaskDraft:
    runs = [f"lr{x}" for x in rng.sample(["1e-4", "3e-4", "1e-3", "3e-3", "1e-2", "3e-2"], rng.randint(3, 5))]
    stride = pick(rng, 10, 50, 100)
    nsteps = rng.randint(6, 9)
    recs, want = [], {"diverged": {}, "healthy": {}}
    bad_runs = set(rng.sample(runs, rng.randint(1, len(runs) - 1)))
    for r in runs:
        loss = rng.uniform(2.5, 4.0)
        first_bad = None
        blow = rng.randint(2, nsteps - 1) if r in bad_runs else None
        for i in range(nsteps):
            s = stride * (i + 1)
            if blow is not None and i >= blow:
                v = pick(rng, "NaN", "Infinity") if i == blow or rng.random() < 0.6 else round(rng.uniform(20, 90), 3)
                if first_bad is None:
                    first_bad = s
            else:
                loss *= rng.uniform(0.8, 0.97)
                v = round(loss, 4)
            recs.append((r, s, v))
        if first_bad is None:
            want["healthy"][r] = recs[-1][2]
        else:
            want["diverged"][r] = first_bad
    fmt = pick(rng, "csv", "jsonl")
    recs.sort(key=lambda x: (x[1], x[0]))
    if fmt == "csv":
        fname = "train_log.csv"
        text = csv_text(["run", "step", "loss"], [[r, s, ("nan" if v == "NaN" else "inf" if v == "Infinity" else v)] for r, s, v in recs])
        load = f'rows = [(r["run"], int(r["step"]), float(r["loss"])) for r in csv.DictReader(open("{fname}", newline=""))]'
    else:
        fname = "train_log.jsonl"
        text = lines([f'{{"run": "{r}", "step": {s}, "loss": {v}}}' for r, s, v in recs])
        load = f'rows = [(d["run"], d["step"], float(d["loss"])) for d in map(json.loads, open("{fname}")) if d]'
    out = pick(rng, "nan_report.json", "divergence.json", "stability.json")
    instruction = pick(
        rng,
        para(f"Post-mortem of the lr sweep in {fname}: a run is unstable once any logged loss is NaN or inf. Give each",
             f"unstable run's earliest bad step under \"diverged\", and each stable run's last logged loss under \"healthy\", in {out}."),
        para(f"{fname} interleaves the loss of every run. Split the runs into those whose loss ever went non-finite",
             "(record the earliest such step) and the rest (record their final loss). Output", out,
             'with two objects, "diverged" and "healthy", keyed by run name. Note a blown-up loss may come back as a large finite number.'),
        para(f"Triage the sweep in {fname}: I need to know at which step each unstable run first produced a NaN or inf loss,",
             f"and for the stable ones the last loss they reached. {out} should hold a \"diverged\" map (run -> step) and a",
             '"healthy" map (run -> final loss).'),
    )
    script = dedent(f"""
        import csv, json, math
        {load}
        out = {{"diverged": {{}}, "healthy": {{}}}}
        for run in dict.fromkeys(r for r, _, _ in rows):
            pts = sorted((s, l) for r, s, l in rows if r == run)
            bad = [s for s, l in pts if not math.isfinite(l)]
            if bad:
                out["diverged"][run] = bad[0]
            else:
                out["healthy"][run] = pts[-1][1]
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: text}, check=json_check(out, want, 1e-6),
                     steps=[step("read_file", path=fname), step("write_file", path="diverge.py", content=script),
                            step("run", command="python diverge.py"),
                            submit(f"Diverged: {json.dumps(want['diverged'])}; healthy: {json.dumps(want['healthy'])}.")],
                     tags=["python", "nan", "experiment-logs"])


def l3_throughput(rng: random.Random) -> TaskDraft:
    runs = rng.sample(["fp32", "bf16", "fp16", "fp8", "compiled", "eager", "flash-attn", "sdpa"], rng.randint(2, 3))
    warm = rng.randint(1, 3)
    n = rng.randint(warm + 4, warm + 7)
    unit = pick(rng, ("tokens", "tokens_per_s"), ("images", "images_per_s"), ("samples", "samples_per_s"))
    rows, want, tp_want = [], {}, {}
    for r in runs:
        base = rng.uniform(0.4, 1.6)
        per = pick(rng, 4096, 8192, 65536) if unit[0] == "tokens" else pick(rng, 64, 128, 256)
        while True:
            pts = [(s, round(base * (rng.uniform(4, 12) if s <= warm else rng.uniform(0.95, 1.4)), 2),
                    per if rng.random() < 0.8 else per // 2) for s in range(1, n + 1)]
            kept = pts[warm:]
            top = max(t for _, t, _ in kept)
            if sum(1 for _, t, _ in kept if t == top) == 1:
                break
        rows += [[r, s, t, c] for s, t, c in pts]
        tp_want[r] = round(sum(c for _, _, c in kept) / sum(t for _, t, _ in kept), 1)
        want[r] = {"slowest_step": max(kept, key=lambda p: p[1])[0]}
    fname = pick(rng, "timing.csv", "steps.csv", "profile.csv")
    out = pick(rng, "throughput.json", "speed.json")
    instruction = pick(
        rng,
        para(f"Steady-state speed of {', '.join(runs)}: in {fname}, throw away each run's first {warm} step(s), then report",
             f"{unit[1]} (sum of {unit[0]} divided by summed step_time_s, 1 decimal) and slowest_step (the kept step that took",
             f"longest) per run, written to {out}."),
        para(f"Benchmark check: how fast is each configuration in {fname} once it is warmed up? Ignore steps 1 to {warm} of",
             f"every run, then divide the {unit[0]} processed by the seconds spent (not the mean of per-step rates).",
             f"Save {out} with, per run, {unit[1]} rounded to one decimal and slowest_step, the remaining step with the largest time."),
        para(f"Is {runs[1]} actually faster than {runs[0]}? Profile data is in {fname} (step_time_s and {unit[0]} per step).",
             f"Skip the first {warm} warmup step(s), compute aggregate {unit[1]} (sum of {unit[0]} over sum of time, 1 decimal)",
             f"and the slowest post-warmup step of each run, and save both per run in {out}."),
    )
    check = dedent(f"""
        import json
        got = json.load(open({out!r}))
        assert set(got) == set({sorted(runs)!r}), sorted(got)
        WANT = {json.dumps(want)}
        TP = {json.dumps(tp_want)}
        for r in WANT:
            assert int(got[r]["slowest_step"]) == WANT[r]["slowest_step"], (r, got[r], WANT[r])
            assert abs(float(got[r]["{unit[1]}"]) - TP[r]) <= 0.051, (r, got[r], TP[r])
        print('ok')
        """)
    script = dedent(f"""
        import csv, json
        runs = {{}}
        for r in csv.DictReader(open("{fname}", newline="")):
            runs.setdefault(r["run"], []).append((int(r["step"]), float(r["step_time_s"]), int(r["{unit[0]}"])))
        out = {{}}
        for run, pts in runs.items():
            kept = sorted(pts)[{warm}:]
            out[run] = {{"{unit[1]}": round(sum(p[2] for p in kept) / sum(p[1] for p in kept), 1),
                        "slowest_step": max(kept, key=lambda p: p[1])[0]}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["run", "step", "step_time_s", unit[0]], rows)},
                     check=check,
                     steps=[step("read_file", path=fname), step("write_file", path="tp.py", content=script),
                            step("run", command="python tp.py"), submit(f"{out} written.")],
                     tags=["python", "csv", "throughput"])


def l3_spikes(rng: random.Random) -> TaskDraft:
    col = pick(rng, "grad_norm", "step_time_s", "loss_scale_overflow_ms", "queue_wait_ms")
    k = pick(rng, 3, 4, 5)
    n = rng.randint(14, 20)
    stride = pick(rng, 10, 50, 100)
    base = rng.uniform(1, 3) if col in ("grad_norm", "step_time_s") else rng.uniform(20, 60)
    vals = [round(base * rng.uniform(0.8, 1.3), 2) for _ in range(n)]
    for i in rng.sample(range(n), rng.randint(2, 4)):
        vals[i] = round(base * rng.uniform(k + 1.5, k + 8), 2)
    i = rng.randrange(n)
    med0 = statistics.median(vals)
    vals[i] = round(med0 * k * rng.uniform(0.8, 0.95), 2)  # a near-miss
    med = statistics.median(vals)
    rows = [[stride * (j + 1), round(rng.uniform(2, 5) * (0.97 ** j), 3), v] for j, v in enumerate(vals)]
    spikes = [stride * (j + 1) for j, v in enumerate(vals) if v > k * med]
    fname = pick(rng, "train_log.csv", "trace.csv", "steps.csv")
    out = pick(rng, "spikes.json", "outliers.json")
    want = {f"median_{col}": round(med, 3), "spike_steps": spikes}
    instruction = pick(
        rng,
        para(f"Outlier hunt in {fname}: take the median of {col} across all rows; any step above {k} x median is an outlier.",
             f"Record median_{col} (3 decimals) and the outlier steps, ascending, as spike_steps in {out}."),
        para(f"Flag the anomalous steps in {fname}: a step is a spike when its {col} exceeds {k}x the median {col} of all steps.",
             f"Save {out} with median_{col} (3 decimals) and spike_steps (ascending)."),
        para(f"Some steps in {fname} look like hiccups. Using the median of the {col} column as the reference, which steps",
             f"are above {k} times it? Put the median (3 decimals) under median_{col} and the sorted step numbers under",
             f"spike_steps in {out}."),
    )
    check = dedent(f"""
        import json
        got = json.load(open({out!r}))
        assert abs(float(got["median_{col}"]) - {med!r}) <= 6e-4, got
        assert [int(s) for s in got["spike_steps"]] == {spikes!r}, got["spike_steps"]
        print('ok')
        """)
    script = dedent(f"""
        import csv, json, statistics
        rows = [(int(r["step"]), float(r["{col}"])) for r in csv.DictReader(open("{fname}", newline=""))]
        med = statistics.median(v for _, v in rows)
        out = {{"median_{col}": round(med, 3), "spike_steps": sorted(s for s, v in rows if v > {k} * med)}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["step", "loss", col], rows)}, check=check,
                     steps=[step("read_file", path=fname), step("write_file", path="spikes.py", content=script),
                            step("run", command="python spikes.py"), submit(f"median {med:.3f}; spikes at {spikes}.")],
                     tags=["python", "csv", "anomaly-detection"])


def _pct(vals: list[int], p: int) -> int:
    return sorted(vals)[-(-p * len(vals) // 100) - 1]


def l3_endpoint_stats(rng: random.Random) -> TaskDraft:
    eps = rng.sample(ENDPOINTS, rng.randint(3, 4))
    n = rng.randint(20, 30)
    times = ts(rng, day(rng), 3600 * rng.randint(6, 20), n, (1, 20))
    recs = []
    for t in times:
        p = rng.choice(eps)
        recs.append((t.replace(" ", "T"), pick(rng, "GET", "POST"), p, pick(rng, 200, 200, 200, 201, 304, 404, 500, 503),
                     rng.randint(5, 1500)))
    fmt = pick(rng, "plain", "kv")
    if fmt == "plain":
        text = lines([f"{t} {m} {p} {s} {ms}ms" for t, m, p, s, ms in recs])
    else:
        text = lines([f"ts={t} method={m} path={p} status={s} dur_ms={ms}" for t, m, p, s, ms in recs])
    stat = pick(rng, "p90", "p95", "max")
    want = {}
    for p in sorted(set(r[2] for r in recs)):
        rs = [r for r in recs if r[2] == p]
        ms = [r[4] for r in rs]
        v = max(ms) if stat == "max" else _pct(ms, int(stat[1:]))
        want[p] = {"requests": len(rs), "server_errors": sum(1 for r in rs if r[3] >= 500), f"{stat}_ms": v}
    out = pick(rng, "endpoints.json", "latency_by_path.json")
    pdef = "" if stat == "max" else (f" {stat} is the nearest-rank percentile: sort the durations and take the value at position "
                                     f"ceil({stat[1:]} * n / 100) (1-based).")
    instruction = pick(
        rng,
        para(f"Summarise access.log per endpoint path in {out}: {{\"<path>\": {{\"requests\": int, \"server_errors\": int",
             f"(status 5xx), \"{stat}_ms\": int}}}}.{pdef}"),
        para(f"Our gateway writes access.log. Which paths are slow or failing? For every path give its request count,",
             f"how many answered with a 5xx status, and the {stat} duration in ms; write it to {out} keyed by path",
             f"(keys requests, server_errors, {stat}_ms).{pdef}"),
        para(f"Build the per-route health table for the SLO review from access.log: number of requests, number of 5xx",
             f"responses and the {stat} request duration for each path. JSON output in {out}, keyed by path.{pdef}"),
    )
    if fmt == "plain":
        parse = 'ts, m, p, s, ms = line.split(); recs.append((p, int(s), int(ms[:-2])))'
    else:
        parse = 'd = dict(kv.split("=", 1) for kv in line.split()); recs.append((d["path"], int(d["status"]), int(d["dur_ms"])))'
    stat_expr = "max(ms)" if stat == "max" else f"sorted(ms)[-(-{stat[1:]} * len(ms) // 100) - 1]"
    script = dedent(f"""
        import json, math
        recs = []
        for line in open("access.log"):
            if line.strip():
                {parse}
        out = {{}}
        for p in sorted({{r[0] for r in recs}}):
            ms = [r[2] for r in recs if r[0] == p]
            out[p] = {{"requests": len(ms), "server_errors": sum(1 for r in recs if r[0] == p and r[1] >= 500),
                      "{stat}_ms": {stat_expr}}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={"access.log": text}, check=json_check(out, want),
                     steps=[step("read_file", path="access.log"), step("write_file", path="paths.py", content=script),
                            step("run", command="python paths.py"), submit(f"{out} written for {len(want)} paths.")],
                     tags=["python", "access-log", "latency"])


def l3_job_durations(rng: random.Random) -> TaskDraft:
    kind = pick(rng, ("backup", "backup job"), ("etl", "pipeline"), ("export", "export"), ("train", "training job"))
    names = [f"{kind[0]}-{x}" for x in rng.sample(["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango"], rng.randint(4, 6))]
    d = day(rng)
    t0 = 3600 * rng.randint(0, 12)
    events = []
    want = {}
    for nm in names:
        s = t0 + rng.randint(0, 3600)
        dur = rng.randint(30, 5400)
        events.append((s, f"START {nm}"))
        fate = rng.random()
        if fate < 0.2:
            want[nm] = {"status": "running", "duration_s": None}
        else:
            st = "ok" if fate < 0.75 else "failed"
            events.append((s + dur, f"END {nm} status={st}"))
            want[nm] = {"status": st, "duration_s": dur}
    if all(v["status"] != "running" for v in want.values()):
        nm = names[-1]
        events = [e for e in events if not e[1].startswith(f"END {nm} ")]
        want[nm] = {"status": "running", "duration_s": None}
    for _ in range(rng.randint(2, 5)):
        events.append((t0 + rng.randint(0, 7200), pick(rng, "INFO heartbeat", "INFO disk 61% used", "WARN slow io on /dev/sdb")))
    events.sort()

    def hms(x: int) -> str:
        return f"{d} {x // 3600 % 24:02d}:{x // 60 % 60:02d}:{x % 60:02d}"
    text = lines([f"{hms(t)} {msg}" for t, msg in events])
    out = pick(rng, "jobs.json", "durations.json", "job_report.json")
    instruction = pick(
        rng,
        para(f"scheduler.log records START and END lines of every {kind[1]}. For each {kind[1]} compute how long it ran in",
             'seconds and its status (the status=... of its END line, or "running" if it never ended, with duration_s null).',
             f'Write {out} as {{"<name>": {{"status": .., "duration_s": ..}}}}.'),
        para(f"How long did each {kind[1]} take last night? Pair up the START/END lines in scheduler.log (other lines are noise)",
             f"and save {out}, keyed by name, with duration_s (integer seconds) and status (ok, failed, or \"running\" when",
             "there is no END; then duration_s is null)."),
        para(f"Some {kind[1]}s seem stuck. From the START/END events in scheduler.log work out, per {kind[1]} name, its",
             f"status (from status= on the END line, \"running\" if no END yet) and its runtime in whole seconds (null while",
             f"running). Write the result to {out}."),
    )
    script = dedent(f"""
        import json
        from datetime import datetime
        start, out = {{}}, {{}}
        for line in open("scheduler.log"):
            parts = line.split()
            if len(parts) < 4 or parts[2] not in ("START", "END"):
                continue
            t = datetime.strptime(parts[0] + " " + parts[1], "%Y-%m-%d %H:%M:%S")
            if parts[2] == "START":
                start[parts[3]] = t
                out[parts[3]] = {{"status": "running", "duration_s": None}}
            else:
                out[parts[3]] = {{"status": parts[4].split("=")[1], "duration_s": int((t - start[parts[3]]).total_seconds())}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    # all times stay within the day: t0 <= 12h, + 1h + 1.5h
    return TaskDraft(instruction=instruction, files={"scheduler.log": text}, check=json_check(out, want),
                     steps=[step("read_file", path="scheduler.log"), step("write_file", path="durations.py", content=script),
                            step("run", command="python durations.py"), submit(f"{out} written for {len(want)} jobs.")],
                     tags=["python", "job-log", "durations"])


def l3_epochs_to_target(rng: random.Random) -> TaskDraft:
    models = rng.sample(["cnn-small", "cnn-large", "vit-tiny", "vit-small", "mlp-mixer", "resnet18", "effnet-b0"], rng.randint(3, 4))
    metric = pick(rng, "val_acc", "top1", "dice")
    target = pick(rng, 0.7, 0.75, 0.8, 0.85)
    curves, want = {}, {}
    hit_somewhere = False
    for m in models:
        n = rng.randint(6, 10)
        end = rng.uniform(target - 0.06, target + 0.1)
        c = [round(min(0.99, v), 3) for v in _curve(rng, n, rng.uniform(0.3, 0.5), end, 0.015)]
        curves[m] = c
        first = next((i + 1 for i, v in enumerate(c) if v >= target), None)
        hit_somewhere |= first is not None
        want[m] = {"epochs_to_target": first, "best": max(c)}
    if all(w["epochs_to_target"] is not None for w in want.values()):
        m = models[-1]
        curves[m] = [round(min(v, target - 0.004), 3) for v in curves[m]]
        want[m] = {"epochs_to_target": None, "best": max(curves[m])}
    if not hit_somewhere:
        m = models[0]
        curves[m][-1] = round(target + 0.012, 3)
        want[m] = {"epochs_to_target": len(curves[m]), "best": max(curves[m])}
    fname = pick(rng, "curves.json", "val_curves.json")
    out = pick(rng, "epochs_to_target.json", "convergence.json")
    pct = f"{target:.0%}"
    instruction = pick(
        rng,
        para(f"Time-to-quality check on {fname} (model -> per-epoch {metric}, index 0 is epoch 1): the earliest epoch whose",
             f"value is at least {target}, or null, goes in epochs_to_target; the top value in best. One entry per model in {out}."),
        para(f"Convergence speed: for every model in {fname}, find the first epoch (1-based) at which {metric} reached {pct}",
             f"or more (null when it never did) and its best {metric} overall. Save {out} keyed by model with epochs_to_target and best."),
        para(f"Which architectures in {fname} ever hit the {pct} {metric} bar, and how quickly? Lists are per-epoch values",
             f"starting at epoch 1. For each model report epochs_to_target (first epoch at or above {target}, null if none) and",
             f"best (highest value) in {out}."),
    )
    script = dedent(f"""
        import json
        curves = json.load(open("{fname}"))
        out = {{m: {{"epochs_to_target": next((i + 1 for i, v in enumerate(c) if v >= {target}), None), "best": max(c)}}
               for m, c in curves.items()}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: json.dumps(curves, indent=2) + "\n"}, check=json_check(out, want, 1e-9),
                     steps=[step("read_file", path=fname), step("write_file", path="ett.py", content=script),
                            step("run", command="python ett.py"), submit(f"{out} written.")],
                     tags=["python", "json", "convergence"])


def l3_last_k_mean(rng: random.Random) -> TaskDraft:
    runs = rng.sample(["base", "large", "distil", "lora", "full-ft", "prefix", "adapter"], rng.randint(2, 4))
    metric = pick(rng, "val_f1", "val_acc", "rouge_l", "exact_match")
    k = pick(rng, 2, 3, 4)
    stride = pick(rng, 200, 500, 1000)
    rows, want = [], {}
    for r in runs:
        n = rng.randint(k + 2, k + 6)
        vals = _curve(rng, n, rng.uniform(0.3, 0.5), rng.uniform(0.6, 0.85), 0.02)
        for i, v in enumerate(vals):
            rows.append([stride * (i + 1), r, v])
        want[r] = round(sum(vals[-k:]) / k, 4)
    rows.sort(key=lambda x: (x[0], x[1]))
    fname = pick(rng, "eval_log.csv", "evals.csv")
    out = pick(rng, "final_scores.json", f"last{k}_mean.json")
    instruction = pick(
        rng,
        para(f"Single numbers per run are noisy, so report the average of the final {k} evaluation points of every run in",
             f"{fname} ({metric}, ordered by step). {out} maps run name -> that mean, 4 decimals."),
        para(f"Runs in {fname} were evaluated every {stride} steps, and they stopped at different steps. Average the last {k}",
             f"{metric} values of each run (by step) and write {out} mapping run -> mean (4 decimals)."),
        para(f"Smooth the final {metric} of each run in {fname}: take its {k} latest evaluations and average them.",
             f"I need {out} with one number per run, 4 decimals."),
    )
    script = dedent(f"""
        import csv, json
        runs = {{}}
        for r in csv.DictReader(open("{fname}", newline="")):
            runs.setdefault(r["run"], []).append((int(r["step"]), float(r["{metric}"])))
        out = {{r: round(sum(v for _, v in sorted(p)[-{k}:]) / {k}, 4) for r, p in runs.items()}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={fname: csv_text(["step", "run", metric], rows)}, check=json_check(out, want, 6e-5),
                     steps=[step("read_file", path=fname), step("write_file", path="lastk.py", content=script),
                            step("run", command="python lastk.py"), submit(f"{out}: {json.dumps(want)}")],
                     tags=["python", "csv", "smoothing"])


SCENARIOS = {
    1: [l1_count_level, l1_job_status, l1_peak, l1_first_event, l1_top_actor],
    2: [l2_slowest, l2_level_counts, l2_failed_jobs, l2_worker_span, l2_peak_step],
    3: [l3_run_summary, l3_divergence, l3_throughput, l3_spikes, l3_endpoint_stats, l3_job_durations, l3_epochs_to_target, l3_last_k_mean],
}


# Alternative vocabularies for scenarios whose default wording sits close to a hand-written task.
RENAMES = {
    "l2_slowest": [{"access.log": "requests.log", "slowest.json": "max_latency.json"},
                   {"access.log": "edge.log", "slowest request": "longest-running call"}],
    "l2_peak_step": [{"GPU memory (MiB)": "device memory (MiB)", "gpu_mem.log": "device.log", "mem_mib": "vram_mib"},
                     {"GPU memory (MiB)": "allocator reserved memory (MiB)", "gpu_mem.log": "trainer_mem.log", "mem_mib": "reserved_mib"}],
    "l3_divergence": [{}, {"train_log.csv": "sweep_losses.csv", "train_log.jsonl": "sweep_losses.jsonl", "diverged": "unstable",
                           "healthy": "stable"}],
    "l1_peak": [{}, {"gpu.log": "accelerator.log"}],
}

def generate(rng: random.Random, level: int) -> TaskDraft:
    return draw(rng, SCENARIOS[level], RENAMES)
