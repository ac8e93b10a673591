"""debug-traceback: a script crashes; name the exception, or read the traceback and fix the code."""

from __future__ import annotations

import json
import random

from lab.generators import TaskDraft
from lab.generators.families._data import PEOPLE, dedent, draw, lines, para, pick, step, submit

FAMILY = "debug-traceback"
LEVELS = (1, 2, 3)

# Domains: (file stem, dict name, key noun, keys with values, a key that is missing)
DOMAINS = [
    ("market_stall", "PRICES", "fruit", {"apple": 0.5, "banana": 0.25, "cherry": 3.0, "pear": 0.75}, "kiwi"),
    ("stock_check", "STOCK", "sku", {"A100": 12, "B220": 0, "C310": 7, "D450": 31}, "E999"),
    ("grades", "GRADES", "student", {"ana": 17, "bruno": 12, "chen": 19, "dora": 15}, "emil"),
    ("weather", "TEMPS", "city", {"lisbon": 24.5, "oslo": 11.0, "graz": 18.5, "porto": 21.0}, "leeds"),
    ("ports", "PORTS", "service", {"http": 80, "https": 443, "ssh": 22, "postgres": 5432}, "redis"),
    ("payroll", "RATES", "employee", {"kim": 31.5, "lee": 28.0, "max": 35.25, "noa": 30.0}, "ola"),
]

EXC_NAMES = ["KeyError", "IndexError", "ZeroDivisionError", "TypeError", "ValueError", "AttributeError", "FileNotFoundError",
             "NameError", "UnboundLocalError", "RecursionError", "JSONDecodeError"]


def _traceback(frames: list[tuple[str, str, str, str]], exc: str, prefix: str = "/workspace/") -> str:
    """frames: (file name, its source, function, the exact code line) -> a Python-style traceback."""
    out = ["Traceback (most recent call last):"]
    for fname, src, func, code in frames:
        lineno = next(i for i, l in enumerate(src.splitlines(), 1) if l.strip() == code.strip())
        out.append(f'  File "{prefix}{fname}", line {lineno}, in {func}')
        out.append(f"    {code.strip()}")
    out.append(exc)
    return "\n".join(out)


def _indent(text: str, n: int = 4) -> str:
    return "\n".join((" " * n + l) if l.strip() else "" for l in text.splitlines())


# ---------------------------------------------------------------- level 1: which exception?

def _l1_program(rng: random.Random, exc: str) -> tuple[str, str, str]:
    """(file name, source, the function that raises)."""
    stem, dname, noun, table, missing = pick(rng, *DOMAINS)
    keys = list(table)
    items = json.dumps(rng.sample(keys, 2) + [missing]) if exc == "KeyError" else json.dumps(rng.sample(keys, 3))
    fn = pick(rng, "total", "summarise", "report", "compute", "lookup_all")
    head = f"{dname} = {json.dumps(table)}\n\n\n"
    if exc == "KeyError":
        body = f"def {fn}(names):\n    result = 0\n    for name in names:\n        result += {dname}[name]\n    return result\n"
        main = f'print("{fn}:", {fn}({items}))'
    elif exc == "IndexError":
        body = f"def {fn}(names):\n    values = [{dname}[n] for n in names]\n    return values[len(values)]\n"
        main = f'print("{fn}:", {fn}({items}))'
    elif exc == "ZeroDivisionError":
        body = (f"def {fn}(names):\n    picked = [n for n in names if n.startswith(\"zz\")]\n"
                f"    return sum({dname}[n] for n in picked) / len(picked)\n")
        main = f'print("mean:", {fn}({items}))'
    elif exc == "TypeError":
        body = f"def {fn}(names):\n    return \"count: \" + len(names) + \" {noun}s\"\n"
        main = f"print({fn}({items}))"
    elif exc == "ValueError":
        body = f"def {fn}(raw):\n    return sum(int(x) for x in raw.split(\",\"))\n"
        main = f'print({fn}("{rng.randint(1, 9)},{rng.randint(1, 9)}.5,{rng.randint(1, 9)}"))'
    elif exc == "AttributeError":
        body = (f"def {fn}(names):\n    best = None\n    for n in names:\n        if {dname}[n] > 10 ** 6:\n            best = n\n"
                f"    return best.upper()\n")
        main = f"print({fn}({items}))"
    elif exc == "FileNotFoundError":
        body = f"def {fn}(path):\n    with open(path) as f:\n        return f.read().split()\n"
        main = f'print({fn}("{noun}_list.txt"))'
    elif exc == "NameError":
        body = f"def {fn}(names):\n    total = 0\n    for n in names:\n        total += {dname}[n]\n    return totl\n"
        main = f"print({fn}({items}))"
    elif exc == "UnboundLocalError":
        body = (f"def {fn}(names):\n    for n in names:\n        if {dname}[n] < 0:\n            lowest = n\n    return lowest\n")
        main = f"print({fn}({items}))"
    elif exc == "RecursionError":
        body = f"def {fn}(n):\n    if n == 0:\n        return 1\n    return n * {fn}(n - 2)\n"
        main = f"print({fn}({rng.choice([5, 7, 9, 11])}))"
    else:  # JSONDecodeError
        body = f"import json\n\n\ndef {fn}(text):\n    return json.loads(text)\n"
        main = f"print({fn}(\"{{'{noun}': 1}}\"))"
    src = head + body + "\n\n" + main + "\n"
    if exc == "JSONDecodeError":
        src = body + "\n" + head + main + "\n"
    return f"{stem}.py", src, fn


def l1_exception_name(rng: random.Random) -> TaskDraft:
    exc = pick(rng, *EXC_NAMES)
    fname, src, fn = _l1_program(rng, exc)
    ask_func = rng.random() < 0.3
    if ask_func:
        instruction = pick(
            rng,
            para(f"{fname} crashes when run. Name the exception class and the function it was raised in."),
            para(f"`python {fname}` dies with a traceback. Tell me the exception type and the name of the function where it",
                 "was raised."),
        )
    else:
        instruction = pick(
            rng,
            para(f"Before I file a bug about {fname}: what exception type does it die with? Run it to find out."),
            para(f"What kind of error does {fname} hit when you run it? Just the exception class name, please."),
            para(f"Something is wrong with {fname}. Execute it and report which exception ends the program."),
            para(f"I don't have Python on this laptop. Could you run {fname} and tell me the exception in the last line of",
                 "the traceback?"),
        )
    parent = {"JSONDecodeError": "ValueError", "UnboundLocalError": "NameError"}.get(exc)
    others = [e for e in EXC_NAMES if e not in (exc, parent)]
    check = dedent(f"""
        import re
        assert re.search(r"\\b{exc}\\b", ANSWER, re.I), f"expected {exc} in the answer, got {{ANSWER!r}}"
        wrong = [e for e in {others!r} if re.search(r"\\b" + e + r"\\b", ANSWER, re.I)]
        assert not wrong, f"other exception names in the answer: {{wrong}}"
        """)
    if ask_func:
        check += f"assert re.search(r\"\\b{fn}\\b\", ANSWER), f'function {fn} not named: {{ANSWER!r}}'\n"
    check += "print('ok')\n"
    return TaskDraft(instruction=instruction, files={fname: src}, check=check,
                     steps=[step("run", "Run it and read the traceback.", command=f"python {fname}"),
                            submit(f"It raises {exc}" + (f", inside {fn}()." if ask_func else "."))],
                     tags=["python", "traceback", "question", exc])


# ---------------------------------------------------------------- level 2: fix one crash

def _l2_case(rng: random.Random) -> dict:
    """One small crash: file, source, the edit that fixes it, tests for the checker, expected script output."""
    kind = rng.randrange(7)
    stem, dname, noun, table, missing = pick(rng, *DOMAINS)
    keys = list(table)
    if kind == 0:  # str + int
        thing = pick(rng, ("crate", "bottles"), ("order", "lines"), ("ticket", "comments"), ("playlist", "songs"))
        n = rng.randint(2, 40)
        src = dedent(f"""
            def label(number, {thing[1]}):
                return "{thing[0].title()} " + number + ": " + str(len({thing[1]})) + " {thing[1]}"


            if __name__ == "__main__":
                print(label({n}, ["a", "b", "c"]))
            """)
        return dict(file=f"{thing[0]}.py", src=src, exc="TypeError", func="label",
                    old='"' + thing[0].title() + ' " + number +', new='"' + thing[0].title() + ' " + str(number) +',
                    goal=f'prints "{thing[0].title()} {n}: 3 {thing[1]}"', out=f"{thing[0].title()} {n}: 3 {thing[1]}",
                    tests=[(f"label(7, ['x', 'y'])", f"{thing[0].title()} 7: 2 {thing[1]}"), (f"label(0, [])", f"{thing[0].title()} 0: 0 {thing[1]}")])
    if kind == 1:  # off by one
        days = pick(rng, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], ["Q1", "Q2", "Q3", "Q4"],
                    ["red", "amber", "green"], ["bronze", "silver", "gold", "platinum"])
        name = pick(rng, "numbered", "enumerate_labels", "listing")
        src = dedent(f"""
            LABELS = {json.dumps(days)}


            def {name}(labels):
                out = []
                for i in range(1, len(labels) + 1):
                    out.append(f"{{i}} {{labels[i]}}")
                return out


            if __name__ == "__main__":
                print("\\n".join({name}(LABELS)))
            """)
        want = "\n".join(f"{i} {d}" for i, d in enumerate(days, 1))
        return dict(file=f"{name}.py", src=src, exc="IndexError", func=name,
                    old='out.append(f"{i} {labels[i]}")', new='out.append(f"{i} {labels[i - 1]}")',
                    goal=f"prints the labels numbered from 1 (\"1 {days[0]}\" up to \"{len(days)} {days[-1]}\")", out=want,
                    tests=[(f"{name}(['a', 'b'])", ["1 a", "2 b"]), (f"{name}([])", [])])
    if kind == 2:  # KeyError -> default
        req = rng.sample(keys, 2) + [missing]
        src = dedent(f"""
            {dname} = {json.dumps(table)}


            def total(names):
                return sum({dname}[n] for n in names)


            if __name__ == "__main__":
                print(total({json.dumps(req)}))
            """)
        want = sum(table[k] for k in req[:2])
        return dict(file=f"{stem}.py", src=src, exc="KeyError", func="total",
                    old=f"sum({dname}[n] for n in names)", new=f"sum({dname}.get(n, 0) for n in names)",
                    goal=f"treats a {noun} missing from {dname} as 0 and prints {want}", out=str(want),
                    tests=[(f"total({json.dumps(req[:2])})", want), (f"total([{json.dumps(missing)}])", 0), ("total([])", 0)])
    if kind == 3:  # empty mean
        what = pick(rng, ("rating_mean", "ratings"), ("latency_p50", "latencies"), ("score_level", "scores"))
        src = dedent(f"""
            def {what[0]}({what[1]}):
                return sum({what[1]}) / len({what[1]})


            if __name__ == "__main__":
                print({what[0]}([]))
                print({what[0]}([4, 5]))
            """)
        return dict(file=f"{what[0]}.py", src=src, exc="ZeroDivisionError", func=what[0],
                    old=f"    return sum({what[1]}) / len({what[1]})",
                    new=f"    if not {what[1]}:\n        return 0.0\n    return sum({what[1]}) / len({what[1]})",
                    goal="yields 0.0 when there is nothing to aggregate, so the two printed lines are 0.0 and 4.5", out="0.0\n4.5",
                    tests=[(f"{what[0]}([])", 0.0), (f"{what[0]}([1, 2])", 1.5)])
    if kind == 4:  # int("2.5")
        unit = pick(rng, ("kg", "weights"), ("km", "distances"), ("h", "hours"))
        vals = [rng.randint(1, 9), rng.randint(1, 9) + 0.5, rng.randint(1, 9)]
        raw = ",".join(str(v) for v in vals)
        src = dedent(f"""
            def parse_total(raw):
                \"\"\"Sum of comma-separated {unit[1]}, e.g. "3,2.5,4".\"\"\"
                return sum(int(x) for x in raw.split(","))


            if __name__ == "__main__":
                print(f"{{parse_total('{raw}')}} {unit[0]}")
            """)
        return dict(file=f"{unit[1]}.py", src=src, exc="ValueError", func="parse_total",
                    old="sum(int(x) for x in", new="sum(float(x) for x in",
                    goal=f"accepts decimal values and prints {float(sum(vals))} {unit[0]}", out=f"{float(sum(vals))} {unit[0]}",
                    tests=[("parse_total('1,2.5')", 3.5), ("parse_total(' 2, 3 ')", 5.0)])
    if kind == 5:  # re.match None
        src = dedent("""
            import re

            ENTRY = re.compile(r"^(\\d{2}:\\d{2}) (INFO|WARN|ERROR) ")


            def levels(lines):
                return [ENTRY.match(line).group(2) for line in lines]


            if __name__ == "__main__":
                log = ["10:00 INFO start", "  continued line", "10:01 ERROR boom"]
                print(levels(log))
            """)
        return dict(file="loglevels.py", src=src, exc="AttributeError", func="levels",
                    old="    return [ENTRY.match(line).group(2) for line in lines]",
                    new="    return [m.group(2) for line in lines if (m := ENTRY.match(line))]",
                    goal="skips lines that are not log entries and prints ['INFO', 'ERROR']", out="['INFO', 'ERROR']",
                    tests=[("levels(['x', '09:00 WARN a'])", ["WARN"]), ("levels([])", [])])
    # kind 6: None in sum
    what = pick(rng, ("total_minutes", "sessions", "minutes"), ("total_steps", "days", "steps"), ("total_spend", "receipts", "euros"))
    data = [rng.randint(5, 60), None, rng.randint(5, 60)]
    src = dedent(f"""
        def {what[0]}({what[1]}):
            \"\"\"Sum of the recorded {what[2]}; None means nothing was recorded.\"\"\"
            return sum({what[1]})


        if __name__ == "__main__":
            print({what[0]}({data!r}))
        """)
    return dict(file=f"{what[0]}.py", src=src, exc="TypeError", func=what[0],
                old=f"    return sum({what[1]})", new=f"    return sum(x for x in {what[1]} if x is not None)",
                goal=f"ignores None entries and prints {data[0] + data[2]}", out=str(data[0] + data[2]),
                tests=[(f"{what[0]}([None, None])", 0), (f"{what[0]}([1, None, 2])", 3)])


def l2_fix_crash(rng: random.Random) -> TaskDraft:
    c = _l2_case(rng)
    f, mod = c["file"], c["file"][:-3]
    instruction = pick(
        rng,
        para(f"Running `python {f}` throws {c['exc']}; patch {c['func']}() so the program finishes and {c['goal']}."),
        para(f"Running {f} ends in a traceback. Make {c['func']}() work: the script should run cleanly and {c['goal']}."),
        para(f"Please repair {f}: right now it raises {c['exc']} inside {c['func']}(). After your fix it {c['goal']}."),
        para(f"{c['func']}() in {f} is broken (run the file to see the error). Correct it so that the program {c['goal']}."),
    )
    tests = "\n".join(f"r = {call}\nassert r == {want!r}, ({call!r}, r)" for call, want in c["tests"])
    check = dedent(f"""
        import subprocess, sys
        sys.path.insert(0, ".")
        from {mod} import *
        """) + tests + "\n" + dedent(f"""
        out = subprocess.run([sys.executable, {f!r}], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == {c['out']!r}, out.stdout
        print('ok')
        """)
    return TaskDraft(instruction=instruction, files={f: c["src"]}, check=check,
                     steps=[step("run", "Reproduce.", command=f"python {f}"),
                            step("edit_file", "Fix the failing line.", path=f, old=c["old"], new=c["new"]),
                            step("run", "Run again.", command=f"python {f}"),
                            submit(f"Fixed {c['func']}() in {f}; it now {c['goal']}.")],
                     tags=["python", "traceback", c["exc"]])


# ---------------------------------------------------------------- level 3: traceback + multi-file fix

def _deliver(rng: random.Random, tb: str, cmd: str, logname: str) -> tuple[str, dict[str, str], str]:
    """Put the traceback in the instruction or in a log file: (how to mention it, extra files, where)."""
    if rng.random() < 0.5:
        block = pick(rng, "\n\n    $ " + cmd + "\n" + _indent(tb) + "\n\n", "\n\n```\n$ " + cmd + "\n" + tb + "\n```\n\n")
        return block, {}, "inline"
    log = f"2024-07-{rng.randint(10, 28)} 02:15:00 cron: {cmd}\n{tb}\n2024-07-10 02:15:01 cron: exit status 1\n"
    return f" The output is in {logname}. ", {logname: log}, "log"


def l3_optional_field(rng: random.Random) -> TaskDraft:
    dom = pick(rng, ("suppliers", "supplier", ["name", "vat_id", "fax"], ";"), ("shipments", "shipment", ["tracking", "carrier", "note"], "|"),
               ("products", "product", ["sku", "title", "colour"], ";"), ("members", "member", ["handle", "team", "nickname"], ","))
    mod, noun, fields, sep = dom
    a, b, opt = fields
    fn = f"parse_{mod}"
    recs = []
    for i in range(rng.randint(3, 5)):
        recs.append([f"{a}{i}" if a != "name" else rng.choice(PEOPLE), f"{b}-{rng.randint(10, 99)}", f"{opt}{rng.randint(100, 999)}"])
    drop = rng.sample(range(len(recs)), rng.randint(1, 2))
    data_lines = []
    for i, r in enumerate(recs):
        data_lines.append(f"{r[0]}{sep} {r[1]}" if i in drop else f"{r[0]}{sep} {r[1]}{sep} {r[2]}")
        if i == 0:
            data_lines.append("")
    src = dedent(f"""
        import sys


        def {fn}(text):
            \"\"\"One {noun} per line: {a}{sep}{b}{sep}{opt}.\"\"\"
            out = []
            for line in text.splitlines():
                if not line.strip():
                    continue
                {a}, {b}, {opt} = line.split("{sep}")
                out.append({{"{a}": {a}.strip(), "{b}": {b}.strip(), "{opt}": {opt}.strip()}})
            return out


        if __name__ == "__main__":
            with open(sys.argv[1]) as f:
                for r in {fn}(f.read()):
                    print(f"{{r['{a}']}} {{r['{b}']}} {{r['{opt}'] or '-'}}")
        """)
    data = f"{mod}.txt"
    code_line = f'{a}, {b}, {opt} = line.split("{sep}")'
    tb = _traceback([(f"{mod}.py", src, "<module>", f"for r in {fn}(f.read()):"), (f"{mod}.py", src, fn, code_line)],
                    "ValueError: not enough values to unpack (expected 3, got 2)", "/opt/app/")
    where, extra, _ = _deliver(rng, tb, f"python {mod}.py {data}", "logs/import.log")
    instruction = pick(
        rng,
        para(f"Last night's {noun} load aborted.{where}Not every line of {data} carries a {opt}; those {noun}s are valid and",
             f"must come out with {opt} set to ''."),
        para(f"`python {mod}.py {data}` crashed.{where}Lines with only {a} and {b} are valid ({opt} is optional); parse",
             f"them with {opt} = \"\" and keep every other line as it is."),
        para(f"{fn}() chokes on some lines of {data}.{where}Make the third field ({opt}) optional so that such {noun}s load",
             f"with an empty {opt}, and check the script prints every {noun}."),
    )
    t_in = f"X{sep} x1{sep} 7\n\nY {sep}y1\n  \nZ{sep}z1{sep}  \n"
    t_want = [{a: "X", b: "x1", opt: "7"}, {a: "Y", b: "y1", opt: ""}, {a: "Z", b: "z1", opt: ""}]
    expect = [f"{r[0]} {r[1]} {'-' if i in drop else r[2]}" for i, r in enumerate(recs)]
    check = dedent(f"""
        import subprocess, sys
        sys.path.insert(0, ".")
        from {mod} import {fn}
        assert {fn}({t_in!r}) == {t_want!r}, {fn}({t_in!r})
        assert {fn}("") == []
        out = subprocess.run([sys.executable, "{mod}.py", "{data}"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == {expect!r}, out.stdout
        print('ok')
        """)
    steps = ([step("read_file", path="logs/import.log")] if extra else []) + [
        step("run", "Reproduce.", command=f"python {mod}.py {data}"),
        step("edit_file", "Pad the missing optional field.", path=f"{mod}.py", old=code_line,
             new=f'{a}, {b}, {opt} = (line.split("{sep}") + [""])[:3]'),
        step("run", "Verify.", command=f"python {mod}.py {data}"),
        submit(f"{fn} now treats a missing {opt} as an empty string.")]
    return TaskDraft(instruction=instruction, files={f"{mod}.py": src, data: lines(data_lines), **extra}, check=check, steps=steps,
                     tags=["python", "debugging", "ValueError", "parsing"])


def l3_empty_cache(rng: random.Random) -> TaskDraft:
    dom = pick(rng, ("distances", "route_cache.json", "city", "len(key) * 1.5"), ("rates", "fx_cache.json", "currency", "len(key) * 0.25"),
               ("avatars", "avatar_cache.json", "user", "len(key) * 2.0"), ("dns", "dns_cache.json", "host", "len(key) * 0.5"))
    main, cache_file, noun, formula = dom
    cache_src = dedent(f"""
        import json
        import os

        CACHE_FILE = "{cache_file}"


        def load_cache(path=CACHE_FILE):
            with open(path) as f:
                return json.load(f)


        def save_cache(cache, path=CACHE_FILE):
            with open(path, "w") as f:
                json.dump(cache, f, sort_keys=True)


        def lookup(key, cache):
            if key not in cache:
                cache[key] = {formula}  # stand-in for a slow remote call
            return cache[key]
        """)
    main_src = dedent(f"""
        import sys

        from cache import load_cache, lookup, save_cache

        cache = load_cache()
        for key in sys.argv[1:]:
            print(key, lookup(key, cache))
        save_cache(cache)
        """)
    args = rng.sample(["Lisbon", "Porto", "Oslo", "Graz", "Leeds", "Utrecht"], 2)
    tb = _traceback([(f"{main}.py", main_src, "<module>", "cache = load_cache()"), ("cache.py", cache_src, "load_cache", "return json.load(f)")],
                    "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)")
    where, extra, _ = _deliver(rng, tb, f"python {main}.py {' '.join(args)}", "logs/run.log")
    instruction = pick(
        rng,
        para(f"{main}.py won't start on a clean clone, where {cache_file} exists but is zero bytes.{where}Have load_cache treat",
             "a blank or absent file as {} and keep loading real caches."),
        para(f"{main}.py fails on new machines.{where}{cache_file} starts out empty there, and sometimes it doesn't exist at",
             "all; both cases must behave like an empty cache, while a real cache file keeps loading as before."),
        para(f"The {noun} lookup tool can't start.{where}Make cache.py's load_cache robust: missing or blank cache file -> {{}}."),
    )
    f = eval(f"lambda key: {formula}")  # the stand-in formula, to compute the expected output
    want_lines = [f"{k} {f(k)}" for k in args]
    check = dedent(f"""
        import json, os, subprocess, sys, tempfile
        sys.path.insert(0, ".")
        from cache import load_cache
        tmp = tempfile.mkdtemp()
        empty = os.path.join(tmp, "empty.json")
        open(empty, "w").close()
        assert load_cache(empty) == {{}}
        assert load_cache(os.path.join(tmp, "missing.json")) == {{}}
        full = os.path.join(tmp, "full.json")
        json.dump({{"a": 1.0}}, open(full, "w"))
        assert load_cache(full) == {{"a": 1.0}}
        open("{cache_file}", "w").close()
        out = subprocess.run([sys.executable, "{main}.py", *{args!r}], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == {want_lines!r}, out.stdout
        os.remove("{cache_file}")
        out = subprocess.run([sys.executable, "{main}.py", "Faro"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert json.load(open("{cache_file}")) == {{"Faro": {f("Faro")!r}}}
        print('ok')
        """)
    steps = ([step("read_file", path="logs/run.log")] if extra else []) + [
        step("run", "Reproduce.", command=f"python {main}.py {' '.join(args)}"),
        step("edit_file", "Missing or empty file -> {}.", path="cache.py",
             old="    with open(path) as f:\n        return json.load(f)\n",
             new="    if not os.path.exists(path):\n        return {}\n    with open(path) as f:\n        text = f.read()\n"
                 "    return json.loads(text) if text.strip() else {}\n"),
        step("run", "Verify with an empty file and with none.", command=f"python {main}.py {' '.join(args)} && rm {cache_file} && python {main}.py Faro && cat {cache_file}"),
        submit("load_cache returns {} for a missing or empty cache file.")]
    return TaskDraft(instruction=instruction, files={"cache.py": cache_src, f"{main}.py": main_src, cache_file: "", **extra},
                     check=check, steps=steps, tags=["python", "debugging", "JSONDecodeError", "files"])


def l3_none_values(rng: random.Random) -> TaskDraft:
    dom = pick(rng, ("swims", "best_swim", "swimmer", "swim time", "min", "no time"), ("sensors", "peak_reading", "sensor", "reading", "max", "no data"),
               ("bids", "top_bid", "bidder", "bid", "max", "no bids"), ("splits", "fastest_split", "runner", "split", "min", "dnf"))
    mod, fn, who, what, agg, none_txt = dom
    names = rng.sample(["hamid", "lena", "ravi", "sofia", "tomas", "yara", "ines"], 3)
    data = {}
    for nm in names:
        data[nm] = [round(rng.uniform(50, 99), 2) if rng.random() < 0.75 else None for _ in range(rng.randint(2, 4))]
    data[names[-1]] = [None] * rng.randint(1, 2)
    if all(v is not None for v in data[names[0]]):
        data[names[0]][rng.randrange(len(data[names[0]]))] = None
        data[names[0]].append(round(rng.uniform(50, 99), 2))
    src = dedent(f"""
        import json
        import sys


        def {fn}(values):
            \"\"\"The {'lowest' if agg == 'min' else 'highest'} {what}.\"\"\"
            return {agg}(values)


        def report(data):
            lines = []
            for name, values in sorted(data.items()):
                lines.append(f"{{name}}: {{{fn}(values):.2f}}")
            return "\\n".join(lines)


        if __name__ == "__main__":
            with open(sys.argv[1]) as f:
                print(report(json.load(f)))
        """)
    op = "<" if agg == "min" else ">"
    tb = _traceback([(f"{mod}.py", src, "<module>", "print(report(json.load(f)))"),
                     (f"{mod}.py", src, "report", f'lines.append(f"{{name}}: {{{fn}(values):.2f}}")'),
                     (f"{mod}.py", src, fn, f"return {agg}(values)")],
                    f"TypeError: '{op}' not supported between instances of 'NoneType' and 'float'")
    where, extra, _ = _deliver(rng, tb, f"python {mod}.py session.json", "logs/report.log")
    instruction = pick(
        rng,
        para(f"Today's session.json breaks the {mod} summary.{where}null entries are {what}s that were never recorded: leave",
             f"them out, and a {who} left with nothing prints as `{names[-1]}: {none_txt}`."),
        para(f"`python {mod}.py session.json` blows up.{where}Some {what}s are null (not recorded). Skip them when computing",
             f"{fn}, and print `<{who}>: {none_txt}` for a {who} who has none left."),
        para(f"Fix {mod}.py so the report survives missing data.{where}{fn}() must ignore None {what}s (returning None if",
             f"nothing remains) and report() must print `{none_txt}` for such a {who}, e.g. `{names[-1]}: {none_txt}`."),
    )
    aggf = min if agg == "min" else max
    expect = []
    for nm in sorted(data):
        vals = [v for v in data[nm] if v is not None]
        expect.append(f"{nm}: {aggf(vals):.2f}" if vals else f"{nm}: {none_txt}")
    t = {"b": [None, 70.0], "a": [71.5, 70.25], "c": [None], "d": []}
    t_want = []
    for nm in sorted(t):
        vals = [v for v in t[nm] if v is not None]
        t_want.append(f"{nm}: {aggf(vals):.2f}" if vals else f"{nm}: {none_txt}")
    check = dedent(f"""
        import subprocess, sys
        sys.path.insert(0, ".")
        from {mod} import {fn}, report
        assert {fn}([90.5, None, 89.25]) == {aggf(90.5, 89.25)!r}
        assert {fn}([None]) is None
        assert report({t!r}).splitlines() == {t_want!r}, report({t!r})
        out = subprocess.run([sys.executable, "{mod}.py", "session.json"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == {expect!r}, out.stdout
        print('ok')
        """)
    steps = ([step("read_file", path="logs/report.log")] if extra else []) + [
        step("run", "Reproduce.", command=f"python {mod}.py session.json"),
        step("edit_file", "Ignore None values.", path=f"{mod}.py", old=f"    return {agg}(values)\n",
             new=f"    done = [v for v in values if v is not None]\n    return {agg}(done) if done else None\n"),
        step("edit_file", f"Print '{none_txt}' for None.", path=f"{mod}.py",
             old=f'        lines.append(f"{{name}}: {{{fn}(values):.2f}}")\n',
             new=f'        best = {fn}(values)\n        lines.append(f"{{name}}: {none_txt}" if best is None else f"{{name}}: {{best:.2f}}")\n'),
        step("run", "Verify.", command=f"python {mod}.py session.json"),
        submit(f"{fn} ignores null values; report prints '{none_txt}' when nothing is left.")]
    return TaskDraft(instruction=instruction, files={f"{mod}.py": src, "session.json": json.dumps(data) + "\n", **extra},
                     check=check, steps=steps, tags=["python", "debugging", "TypeError", "json"])


def l3_split_spaces(rng: random.Random) -> TaskDraft:
    dom = pick(rng, ("lanyards", "initials", "volunteer", "lanyard"), ("monograms", "initials", "customer", "monogram"),
               ("nameplates", "initials", "speaker", "plate"))
    mod, fn, who, thing = dom
    people = rng.sample(PEOPLE, 3)
    people[1] = people[1].replace(" ", "  ").lower()
    if rng.random() < 0.5:
        people[2] = " " + people[2] + " "
    src = dedent(f"""
        import sys


        def {fn}(full_name):
            return "".join(part[0].upper() for part in full_name.split(" "))


        def {thing}(full_name):
            return f"[{{{fn}(full_name)}}] {{full_name.strip()}}"


        if __name__ == "__main__":
            with open(sys.argv[1]) as f:
                for line in f:
                    print({thing}(line.rstrip("\\n")))
        """)
    data = f"{who}s.txt"
    ini = lambda n: "".join(p[0].upper() for p in n.split())
    printed = [f"[{ini(people[0])}] {people[0].strip()}"]
    tb = _traceback([(f"{mod}.py", src, "<module>", f'print({thing}(line.rstrip("\\n")))'),
                     (f"{mod}.py", src, thing, f'return f"[{{{fn}(full_name)}}] {{full_name.strip()}}"'),
                     (f"{mod}.py", src, fn, 'return "".join(part[0].upper() for part in full_name.split(" "))'),
                     (f"{mod}.py", src, "<genexpr>", 'return "".join(part[0].upper() for part in full_name.split(" "))')],
                    "IndexError: string index out of range")
    tb = printed[0] + "\n" + tb
    where, extra, _ = _deliver(rng, tb, f"python {mod}.py {data}", "logs/print.log")
    instruction = pick(
        rng,
        para(f"Only one {thing} came out before {mod}.py fell over.{where}The {who} list is hand-typed and full of doubled or",
             f"stray blanks; {fn}() has to cope with that."),
        para(f"{mod}.py crashed halfway through {data}.{where}Double spaces or leading/trailing blanks in a name must not break",
             f"{fn}(); the {thing} should still show the initials of each word."),
        para(f"Our {thing} printer is broken for some {who}s.{where}Make {fn}() ignore repeated and surrounding whitespace (tabs too)."),
    )
    expect = [f"[{ini(p)}] {p.strip()}" for p in people]
    check = dedent(f"""
        import subprocess, sys
        sys.path.insert(0, ".")
        from {mod} import {thing}, {fn}
        assert {fn}("Ada Lovelace") == "AL"
        assert {fn}("grace  hopper") == "GH"
        assert {fn}("  Alan Mathison Turing ") == "AMT"
        assert {fn}("Ada\\tLovelace") == "AL"
        assert {fn}("cher") == "C"
        assert {thing}(" Linus  Torvalds ") == "[LT] Linus  Torvalds"
        out = subprocess.run([sys.executable, "{mod}.py", "{data}"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == {expect!r}, out.stdout
        print('ok')
        """)
    steps = ([step("read_file", path="logs/print.log")] if extra else []) + [
        step("run", "Reproduce.", command=f"python {mod}.py {data}"),
        step("edit_file", "split() without an argument drops empty parts.", path=f"{mod}.py", old='full_name.split(" ")', new="full_name.split()"),
        step("run", "Verify.", command=f"python {mod}.py {data}"),
        submit(f"{fn}() now uses split() so extra whitespace no longer yields empty parts.")]
    return TaskDraft(instruction=instruction, files={f"{mod}.py": src, data: lines(people), **extra}, check=check, steps=steps,
                     tags=["python", "debugging", "IndexError", "strings"])


def l3_csv_types(rng: random.Random) -> TaskDraft:
    dom = pick(rng, ("refunds", "refund_total", "qty", "unit_price"), ("timesheet", "total_pay", "hours", "rate"),
               ("cart", "cart_total", "count", "price"), ("energy", "energy_cost", "kwh", "tariff"))
    mod, fn, a, b = dom
    rows = [[f"r{i}", rng.randint(1, 9), round(rng.uniform(0.5, 40), 2)] for i in range(rng.randint(3, 5))]
    src = dedent(f"""
        import csv
        import sys


        def {fn}(path):
            total = 0
            with open(path, newline="") as f:
                for row in csv.DictReader(f):
                    total += row["{a}"] * row["{b}"]
            return total


        if __name__ == "__main__":
            print(f"total: {{{fn}(sys.argv[1]):.2f}}")
        """)
    data = f"{mod}.csv"
    tb = _traceback([(f"{mod}.py", src, "<module>", f'print(f"total: {{{fn}(sys.argv[1]):.2f}}")'),
                     (f"{mod}.py", src, fn, f'total += row["{a}"] * row["{b}"]')],
                    "TypeError: can't multiply sequence by non-int of type 'str'")
    where, extra, _ = _deliver(rng, tb, f"python {mod}.py {data}", "logs/nightly.log")
    # the export pads numbers with spaces; some rows have an empty b meaning 0
    text = lines([f"id,{a},{b}"] + [f"{r[0]}, {r[1]}, {r[2]}" for r in rows] + [f"r{len(rows)}, {rng.randint(1, 5)}, "])
    total = sum(r[1] * r[2] for r in rows)
    instruction = pick(
        rng,
        para(f"Nightly {mod} totals are failing.{where}The supplier's file {data} pads every cell with spaces and leaves",
             f"{b} blank on free lines (blank = 0). We can't change that file, so {fn}() must handle it."),
        para(f"The {mod} total can't be computed.{where}Don't touch {data}: convert the cells properly in {fn}() (numbers may",
             f"have spaces around them, a blank {b} counts as 0) and print the total."),
        para(f"{fn}() multiplies strings.{where}Fix it so it works on the unmodified {data}, where values are space-padded and",
             f"a missing {b} is zero."),
    )
    check = dedent(f"""
        import os, subprocess, sys, tempfile
        sys.path.insert(0, ".")
        from {mod} import {fn}
        p = os.path.join(tempfile.mkdtemp(), "t.csv")
        open(p, "w").write("id,{a},{b}\\nx, 2, 1.5\\ny,3,\\nz,1,0.25\\n")
        assert abs({fn}(p) - 3.25) < 1e-9, {fn}(p)
        out = subprocess.run([sys.executable, "{mod}.py", "{data}"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "total: {total:.2f}", out.stdout
        print('ok')
        """)
    steps = ([step("read_file", path="logs/nightly.log")] if extra else []) + [
        step("read_file", path=data),
        step("edit_file", "Convert the padded cells; blank means 0.", path=f"{mod}.py",
             old=f'            total += row["{a}"] * row["{b}"]\n',
             new=f'            total += int(row["{a}"].strip() or 0) * float(row["{b}"].strip() or 0)\n'),
        step("run", "Verify.", command=f"python {mod}.py {data}"),
        submit(f"{fn}() converts {a} and {b} to numbers (blank {b} = 0); total {total:.2f}.")]
    return TaskDraft(instruction=instruction, files={f"{mod}.py": src, data: text, **extra}, check=check, steps=steps,
                     tags=["python", "debugging", "TypeError", "csv"])


def l3_config_defaults(rng: random.Random) -> TaskDraft:
    opt1, opt2 = pick(rng, ("timeout", "retries"), ("pool_size", "log_level"), ("region", "batch_size"))
    defaults = {"timeout": 30, "retries": 3, "pool_size": 5, "log_level": "info", "region": "eu-west-1", "batch_size": 100}
    env = pick(rng, "qa", "dev", "canary")
    entry = pick(rng, "worker.py", "server.py", "sync_job.py")
    cfg_src = dedent(f"""
        import json


        def load_config(path):
            with open(path) as f:
                data = json.load(f)
            return {{"host": data["host"], "{opt1}": data["{opt1}"], "{opt2}": data["{opt2}"]}}
        """)
    app_src = dedent(f"""
        import sys

        from config import load_config


        def main(path):
            cfg = load_config(path)
            print(f"connecting to {{cfg['host']}} ({opt1}={{cfg['{opt1}']}}, {opt2}={{cfg['{opt2}']}})")


        if __name__ == "__main__":
            main(sys.argv[1])
        """)
    v2 = defaults[opt2] if isinstance(defaults[opt2], str) else defaults[opt2] * 2
    env_cfg = {"host": f"{env}.db.internal", opt2: v2}
    prod = {"host": "prod.db.internal", opt1: defaults[opt1] if isinstance(defaults[opt1], str) else defaults[opt1] * 3, opt2: v2}
    tb = _traceback([(entry, app_src, "<module>", "main(sys.argv[1])"), (entry, app_src, "main", "cfg = load_config(path)"),
                     ("config.py", cfg_src, "load_config", f'return {{"host": data["host"], "{opt1}": data["{opt1}"], "{opt2}": data["{opt2}"]}}')],
                    f"KeyError: '{opt1}'")
    where, extra, _ = _deliver(rng, tb, f"python {entry} {env}.json", "logs/deploy.log")
    instruction = pick(
        rng,
        para(f"The {env} rollout is stuck while production is happy.{where}{env}.json omits {opt1}, which is allowed:",
             f"load_config must default {opt1} to {defaults[opt1]!r} and {opt2} to {defaults[opt2]!r} when absent."),
        para(f"{entry} dies with {env}.json.{where}The config loader should fall back to {opt1}={defaults[opt1]!r} and",
             f"{opt2}={defaults[opt2]!r} when a file leaves them out; host stays required."),
        para(f"Make config.load_config tolerate missing optional keys.{where}Defaults: {opt1} {defaults[opt1]!r}, {opt2}",
             f"{defaults[opt2]!r}. production.json must keep working as before."),
    )
    d1, d2 = defaults[opt1], defaults[opt2]
    check = dedent(f"""
        import json, os, subprocess, sys, tempfile
        sys.path.insert(0, ".")
        from config import load_config
        tmp = tempfile.mkdtemp()
        def cfg(d):
            p = os.path.join(tmp, "c.json")
            json.dump(d, open(p, "w"))
            return load_config(p)
        assert cfg({{"host": "h"}}) == {{"host": "h", "{opt1}": {d1!r}, "{opt2}": {d2!r}}}, cfg({{"host": "h"}})
        assert cfg({{"host": "h", "{opt1}": 9, "{opt2}": 8}}) == {{"host": "h", "{opt1}": 9, "{opt2}": 8}}
        try:
            cfg({{"{opt1}": 1}})
        except KeyError:
            pass
        else:
            raise AssertionError("host must stay required")
        for env, want in (("{env}", {env_cfg | {opt1: d1}!r}), ("production", {prod!r})):
            out = subprocess.run([sys.executable, "{entry}", env + ".json"], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            line = f"connecting to {{want['host']}} ({opt1}={{want['{opt1}']}}, {opt2}={{want['{opt2}']}})"
            assert out.stdout.strip() == line, (out.stdout, line)
        print('ok')
        """)
    steps = ([step("read_file", path="logs/deploy.log")] if extra else []) + [
        step("run", "Reproduce.", command=f"python {entry} {env}.json"),
        step("edit_file", "Defaults for the optional keys.", path="config.py",
             old=f'"{opt1}": data["{opt1}"], "{opt2}": data["{opt2}"]',
             new=f'"{opt1}": data.get("{opt1}", {d1!r}), "{opt2}": data.get("{opt2}", {d2!r})'),
        step("run", "Verify both environments.", command=f"python {entry} {env}.json && python {entry} production.json"),
        submit(f"load_config now defaults {opt1} to {d1!r} and {opt2} to {d2!r}.")]
    return TaskDraft(instruction=instruction,
                     files={"config.py": cfg_src, entry: app_src, f"{env}.json": json.dumps(env_cfg, indent=2) + "\n",
                            "production.json": json.dumps(prod, indent=2) + "\n", **extra},
                     check=check, steps=steps, tags=["python", "debugging", "KeyError", "config"])


SCENARIOS = {
    1: [l1_exception_name],
    2: [l2_fix_crash],
    3: [l3_optional_field, l3_empty_cache, l3_none_values, l3_split_spaces, l3_csv_types, l3_config_defaults],
}


RENAMES: dict = {}

def generate(rng: random.Random, level: int) -> TaskDraft:
    return draw(rng, SCENARIOS[level], RENAMES)
