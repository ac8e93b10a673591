"""general: everyday questions and small scripts (in-distribution; the hand-written ladder has levels 1-2).

Level 1: a question answered with one command or none, or a tiny script written and run. Level 2: read a file,
write or edit one script, run it. Level 3: a multi-step scripting job (a script over data that writes an output
file and answers a question about it; the checker reruns the script on other data)."""

from __future__ import annotations

import datetime
import json
import random
import re
from collections import Counter

from lab.generators import TaskDraft
from lab.generators.families._ops import (
    ANSWER_NUMBERS, CITIES, FIRST_NAMES, RUN_IN_TMP, check, dd, one, some, step, submit, wrap,
)

FAMILY = "general"
LEVELS = (1, 2, 3)


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


# ----------------------------------------------------------------------------------------------- level 1


def _l1_count_in_file(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["playlist", "guests", "todo", "reading", "garden", "pantry"])
    if kind == "playlist":
        artists = some(rng, ["Nina Simone", "Bowie", "Fela Kuti", "Björk", "Radiohead", "Sade", "Khruangbin", "ABBA"], 4)
        songs = ["Blue Hour", "Night Drive", "Paper Moon", "Salt Water", "Glass Bridge", "Slow Train", "Open Sky",
                 "Lantern", "Velvet Road", "Quiet Storm", "Low Tide", "Echo Park", "Red Kite", "Iron Gate"]
        n = rng.randint(9, 14)
        lines = [f"{one(rng, artists)} - {s}" for s in some(rng, songs, n)]
        target = artists[0]
        lines[rng.randrange(n)] = f"{target} - {one(rng, ['Morning', 'Sugar', 'Harbour'])}"
        want = sum(1 for l in lines if l.startswith(target + " -"))
        path = one(rng, ["playlist.txt", "road_trip_mix.txt", "party_songs.txt"])
        q = one(rng, [f"How many songs by {target} are on the list in {path}?",
                      f"{path} is my mix for Saturday, one 'artist - title' per line. How many tracks are by {target}?",
                      f"Count the {target} tracks in {path} for me."])
        cmd = f"grep -c '^{target} - ' {path}"
    elif kind == "guests":
        names = some(rng, FIRST_NAMES, rng.randint(10, 15))
        lines = [n + (" (vegetarian)" if rng.random() < 0.4 else "") for n in names]
        lines[0] = names[0] + " (vegetarian)"
        want = sum(1 for l in lines if "(vegetarian)" in l)
        path = one(rng, ["guests.txt", "wedding_guests.txt", "dinner_rsvp.txt"])
        q = one(rng, [f"The caterer needs a number: how many guests in {path} are vegetarian?",
                      f"{path} lists who's coming to dinner; vegetarians are marked. How many vegetarian meals do I order?",
                      f"Tell me how many people on {path} asked for a vegetarian meal."])
        cmd = f"grep -c 'vegetarian' {path}"
    elif kind == "todo":
        tasks = ["email the landlord", "renew passport", "file expense report", "review Q3 slides", "buy a new kettle",
                 "update the roadmap", "book flights", "call grandma", "fix the bike light", "prepare standup notes",
                 "sign the lease", "clean the fridge", "write the release notes", "pay the electricity bill"]
        lines = [f"- {t} {one(rng, ['@work', '@home'])}" for t in some(rng, tasks, rng.randint(8, 13))]
        tag = one(rng, ["@work", "@home"])
        lines[1] = lines[1].rsplit(" ", 1)[0] + " " + tag
        want = sum(1 for l in lines if l.endswith(tag))
        path = one(rng, ["todo.txt", "tasks.md", "this_week.txt"])
        q = one(rng, [f"How many of the tasks in {path} are tagged {tag}?",
                      f"In my task list {path}, each item ends with @work or @home. How many are {tag} items?",
                      f"Quick one: count the {tag} entries in {path}."])
        cmd = f"grep -c -- '{tag}$' {path}"
    elif kind == "reading":
        books = ["Dune", "Middlemarch", "Beloved", "Solaris", "Emma", "Ulysses", "Kindred", "Rebecca", "Persuasion",
                 "Stoner", "Pachinko", "Circe", "Hamnet", "Piranesi", "Dracula"]
        picked = some(rng, books, rng.randint(8, 13))
        lines = [f"{b}; {'finished' if rng.random() < 0.55 else 'abandoned'}" for b in picked]
        lines[0] = picked[0] + "; finished"
        want = sum(1 for l in lines if l.endswith("finished"))
        path = one(rng, ["reading_log.txt", "books_2024.txt"])
        q = one(rng, [f"How many books did I actually finish according to {path}?",
                      f"{path} records every book I started this year and whether I finished it. What's the finished count?"])
        cmd = f"grep -c 'finished$' {path}"
    elif kind == "garden":
        plants = ["basil", "mint", "tomato", "chili", "lavender", "rosemary", "thyme", "sage", "kale", "chard",
                  "leek", "bean", "pea", "courgette"]
        lines = some(rng, plants, rng.randint(7, 13))
        want = len(lines)
        path = one(rng, ["garden.txt", "seedlings.txt", "balcony_plants.txt"])
        q = one(rng, [f"How many different plants have I written down in {path}? One per line.",
                      f"Count the lines of {path}, please: that's how many seed trays I need."])
        cmd = f"wc -l {path}"
    else:
        items = ["rice", "lentils", "oats", "flour", "sugar", "pasta", "couscous", "chickpeas", "honey", "coffee",
                 "tea", "salt", "paprika", "cumin", "quinoa"]
        picked = some(rng, items, rng.randint(8, 13))
        lines = [f"{i}: {rng.randint(0, 3)}" for i in picked]
        lines[-1] = picked[-1] + ": 0"
        want = sum(1 for l in lines if l.endswith(": 0"))
        path = one(rng, ["pantry.txt", "cupboard_stock.txt"])
        q = one(rng, [f"{path} lists how many packs of each thing I have left. How many items have run out (0 left)?",
                      f"How many things in {path} are at zero? I'm writing a shopping list."])
        cmd = f"grep -c ': 0$' {path}"
    files = {path: "\n".join(lines) + "\n"}
    wrong = len(lines) if len(lines) != want else None
    chk = check(ANSWER_NUMBERS, f'assert "{want}" in NUMBERS, f"expected {want} in the answer, got {{ANSWER!r}}"',
                *( [f'assert "{wrong}" not in NUMBERS, "that is the number of all lines"'] if wrong else []))
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["shell", "question", "chat"], steps=[
        step("run", "Count with a shell command.", command=cmd),
        submit(f"The answer is {want}.", f"The command says {want}."),
    ])


def _l1_word_problem(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["crates", "commute", "percent", "seconds", "range_sum", "days", "power", "both_div", "paint"])
    use_py = False
    if kind == "crates":
        a, b = rng.randint(12, 48), rng.randint(13, 97)
        want = a * b
        q = one(rng, [f"A crate holds {a} bottles of juice. How many bottles are in {b} full crates?",
                      f"We ship {b} boxes with {a} mugs each. How many mugs is that in total?"])
    elif kind == "commute":
        p, d = rng.randint(3, 19) + one(rng, [0.5, 0.25, 0.75]), rng.randint(15, 23)
        want = round(p * d, 2)
        q = one(rng, [f"My return ticket costs {p} euros and I commute {d} days this month. What does that add up to?",
                      f"If parking is {p} per day, how much do I pay for {d} days?"])
    elif kind == "percent":
        pc, base = one(rng, [5, 12, 15, 18, 35, 65, 85]), rng.randint(4, 90) * 20
        want = pc * base // 100 if pc * base % 100 == 0 else pc * base / 100
        q = one(rng, [f"What is {pc}% of {base}?",
                      f"A jacket costs {base} and there's a {pc} percent discount. How much money does the discount save?"])
    elif kind == "seconds":
        h, m = rng.randint(1, 9), rng.randint(1, 59)
        want = h * 3600 + m * 60
        q = one(rng, [f"How many seconds are there in {h} hours and {m} minutes?",
                      f"Convert {h} h {m} min into seconds for the timer config."])
    elif kind == "range_sum":
        a, b = rng.randint(1, 40), rng.randint(200, 900)
        want = sum(range(a, b + 1))
        use_py = f"print(sum(range({a}, {b} + 1)))"
        q = one(rng, [f"Add up every whole number from {a} to {b} inclusive. Use Python to be sure.",
                      f"What do the integers {a}, {a + 1}, ..., {b} sum to? Check it with a quick Python one-liner."])
    elif kind == "days":
        d1 = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randint(0, 300))
        d2 = d1 + datetime.timedelta(days=rng.randint(20, 400))
        want = (d2 - d1).days
        use_py = f"import datetime as d; print((d.date({d2.year}, {d2.month}, {d2.day}) - d.date({d1.year}, {d1.month}, {d1.day})).days)"
        q = one(rng, [f"How many days lie between {d1.isoformat()} and {d2.isoformat()}? Let Python's datetime do it.",
                      f"The project started on {d1:%d %B %Y} and ships on {d2:%d %B %Y}. How many days is that? Compute it."])
    elif kind == "power":
        a, b = rng.randint(2, 9), rng.randint(9, 21)
        want = a ** b
        use_py = f"print({a} ** {b})"
        q = one(rng, [f"What is {a} raised to the power {b}? Compute it exactly.",
                      f"I need the exact value of {a}^{b}; run it in Python."])
    elif kind == "both_div":
        x, y = one(rng, [(3, 5), (4, 6), (6, 9), (4, 10), (6, 8)])
        n = rng.randint(300, 3000)
        want = sum(1 for k in range(1, n + 1) if k % x == 0 and k % y == 0)
        use_py = f"print(sum(1 for k in range(1, {n} + 1) if k % {x} == 0 and k % {y} == 0))"
        q = one(rng, [f"How many numbers from 1 to {n} are divisible by both {x} and {y}? Work it out with Python.",
                      f"Count the integers up to {n} that are multiples of {x} and of {y} at the same time (use a script or python -c)."])
    else:
        w, h, cov = rng.randint(3, 9), rng.randint(2, 4), one(rng, [5, 6, 8, 10])
        area = 2 * (w + w) * h
        want = -(-area // cov)
        q = one(rng, [f"A square room is {w} m wide with walls {h} m high. One tin of paint covers {cov} m². "
                      f"How many tins do I need for the four walls (whole tins, ignore doors and windows)?"])
    wanted = _fmt(want) if isinstance(want, float) else str(want)
    chk = check(ANSWER_NUMBERS, f'''
        want = {float(want)!r}
        assert any(abs(float(n) - want) < 0.01 for n in NUMBERS), f"expected {wanted} in the answer, got {{ANSWER!r}}"
        ''')
    steps = []
    if use_py:
        steps.append(step("run", "Compute it with one Python command.", command=f"python -c '{use_py}'"))
    steps.append(submit(f"The answer is {wanted}.", f"It comes to {wanted}."))
    return TaskDraft(instruction=wrap(q), files={}, check=chk, steps=steps,
                     tags=["arithmetic", "question", "chat"] + (["python"] if use_py else []))


def _l1_print_script(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["evens", "table", "fib", "letters", "banner", "odds_down", "powers"])
    if kind == "evens":
        n = rng.randint(6, 14) * 2
        out = [str(k) for k in range(2, n + 1, 2)]
        name, code = one(rng, ["evens.py", "even_numbers.py"]), f"for n in range(2, {n} + 1, 2):\n    print(n)\n"
        q = one(rng, [f"Write {name} that prints every even number from 2 to {n}, one per line; run it and show me.",
                      f"I need a script {name} printing the even numbers up to and including {n}. Run it and tell me its output."])
    elif kind == "table":
        k, m = rng.randint(3, 13), rng.randint(5, 10)
        out = [f"{k} x {i} = {k * i}" for i in range(1, m + 1)]
        name = one(rng, [f"table{k}.py", "times_table.py"])
        code = f"for i in range(1, {m} + 1):\n    print(f\"{k} x {{i}} = {{{k} * i}}\")\n"
        q = one(rng, [f"Make {name} that prints the {k} times table from {k} x 1 to {k} x {m}, formatted like `{k} x 2 = {k * 2}`. "
                      f"Run it and report what it printed.",
                      f"My kid is learning the {k}-times table. Create {name} printing lines such as `{k} x 3 = {k * 3}` "
                      f"for 1 to {m}, run it, and paste me the result."])
    elif kind == "fib":
        n = rng.randint(8, 15)
        seq = [0, 1]
        while len(seq) < n:
            seq.append(seq[-1] + seq[-2])
        out = [str(x) for x in seq[:n]]
        name = one(rng, ["fib.py", "fibonacci.py"])
        code = f"a, b = 0, 1\nfor _ in range({n}):\n    print(a)\n    a, b = b, a + b\n"
        q = one(rng, [f"Write {name} to print the first {n} Fibonacci numbers starting 0, 1, one per line. Run it; what is the last one?",
                      f"Create a Python file {name} that outputs {n} Fibonacci numbers (0 1 1 2 ...), each on its own line, then run it and tell me the output."])
    elif kind == "letters":
        word = one(rng, ["harbour", "lantern", "meadow", "quartz", "saffron", "typhoon", "walnut"])
        out = list(word.upper())
        name = one(rng, ["spell.py", "letters.py"])
        code = f"for ch in \"{word}\":\n    print(ch.upper())\n"
        q = one(rng, [f"Write {name} that spells the word \"{word}\" in capital letters, one letter per line. Run it and tell me what came out.",
                      f"Make a tiny script {name}: it should print each letter of {word} uppercased on a separate line. Execute it and report."])
    elif kind == "banner":
        text, w = one(rng, ["SALE", "WELCOME", "CLOSED", "OPEN LATE"]), rng.randint(2, 5)
        out = ["*" * (len(text) + 2 * w + 2), "*" * w + " " + text + " " + "*" * w, "*" * (len(text) + 2 * w + 2)]
        name = one(rng, ["banner.py", "sign.py"])
        code = (f"text = \"{text}\"\npad = \"*\" * {w}\nline = \"*\" * (len(text) + 2 * {w} + 2)\n"
                f"print(line)\nprint(pad + \" \" + text + \" \" + pad)\nprint(line)\n")
        q = wrap(f"Create {name} that prints this three-line shop sign exactly, then run it and show me the output:\n\n"
                 + "\n".join("    " + l for l in out))
        return _print_task(q, name, code, out, rng, key=text.replace(" ", ""))
    elif kind == "odds_down":
        n = rng.randint(7, 15) * 2 + 1
        out = [str(k) for k in range(n, 0, -2)]
        name = one(rng, ["odd_down.py", "odds.py"])
        code = f"for n in range({n}, 0, -2):\n    print(n)\n"
        q = one(rng, [f"Write {name} that prints the odd numbers from {n} down to 1, one per line, then run it and tell me the output.",
                      f"Please create {name}: a descending list of odd numbers starting at {n} and ending at 1. Run it."])
    else:
        b, n = rng.randint(2, 5), rng.randint(6, 11)
        out = [str(b ** i) for i in range(n)]
        name = one(rng, ["powers.py", f"powers_of_{b}.py"])
        code = f"for i in range({n}):\n    print({b} ** i)\n"
        q = one(rng, [f"Write {name} that prints the first {n} powers of {b} (starting with {b}^0 = 1), one per line. Run it and report the biggest.",
                      f"I'd like a script {name} listing {b}**0 up to {b}**{n - 1}, each on its own line. Run it and tell me what it shows."])
    return _print_task(wrap(q), name, code, out, rng, key=word if kind == "letters" else None)


def _print_task(q: str, name: str, code: str, out: list[str], rng: random.Random, key: str | None = None) -> TaskDraft:
    key = key or out[-1].strip().split()[-1]
    chk = check(f'''
        import re, subprocess, sys
        proc = subprocess.run([sys.executable, {name!r}], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert [l.rstrip() for l in proc.stdout.strip().splitlines()] == {out!r}, proc.stdout
        assert {key.lower()!r} in re.sub(r"\\s+", "", ANSWER.lower()), f"the answer should give the output: {{ANSWER!r}}"
        ''')
    return TaskDraft(instruction=q, files={}, check=chk, tags=["python", "new-file", "chat"], steps=[
        step("write_file", "Write the script.", path=name, content=code),
        step("run", "Run it.", command=f"python {name}"),
        submit(f"{name} printed:\n" + "\n".join(out), "Report the output."),
    ])


def _l1_lookup(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["extensions", "stock", "timetable", "birthdays", "wifi"])
    if kind == "extensions":
        people = some(rng, FIRST_NAMES, 8)
        exts = some(rng, range(200, 800), 8)
        path = one(rng, ["phone_list.txt", "extensions.txt"])
        lines = [f"{p:<10} ext. {e}" for p, e in zip(people, exts)]
        who = rng.randrange(8)
        want, cmd = str(exts[who]), f"grep -i '^{people[who]} ' {path}"
        q = one(rng, [f"What is {people[who]}'s phone extension? It's in {path}.",
                      f"I need to call {people[who]} on the internal line. Look up the extension in {path}."])
    elif kind == "stock":
        items = some(rng, ["hex bolts M6", "wing nuts", "washers 8mm", "wood screws 4x40", "cable ties", "rivets",
                           "hinges", "drawer slides", "shelf pins", "wall plugs"], 7)
        qty = [rng.randint(0, 500) for _ in items]
        path = one(rng, ["stock.csv", "inventory.csv"])
        lines = ["item,qty"] + [f"{i},{n}" for i, n in zip(items, qty)]
        who = rng.randrange(7)
        want, cmd = str(qty[who]), f"grep '^{items[who]},' {path}"
        q = one(rng, [f"How many {items[who]} do we have in stock according to {path}?",
                      f"Check {path}: what quantity is listed for {items[who]}?"])
    elif kind == "timetable":
        events = some(rng, ["keynote", "lunch", "panel", "workshop A", "poster session", "coffee break", "closing talk",
                            "lightning talks"], 6)
        times = sorted(some(rng, [f"{h:02d}:{m:02d}" for h in range(9, 18) for m in (0, 15, 30, 45)], 6))
        path = one(rng, ["schedule.txt", "agenda.txt", "programme.txt"])
        lines = [f"{t}  {e}" for t, e in zip(times, events)]
        who = rng.randrange(6)
        want, cmd = times[who], f"grep '{events[who]}' {path}"
        q = one(rng, [f"What time does the {events[who]} start? See {path}.",
                      f"When is the {events[who]} on the conference day? The times are in {path}."])
    elif kind == "birthdays":
        people = some(rng, FIRST_NAMES, 7)
        days = [datetime.date(2000, 1, 1) + datetime.timedelta(days=rng.randint(0, 365)) for _ in people]
        path = one(rng, ["birthdays.txt", "family_dates.txt"])
        lines = [f"{p}: {d:%d %B}" for p, d in zip(people, days)]
        who = rng.randrange(7)
        want, cmd = f"{days[who]:%B}", f"grep '^{people[who]}:' {path}"
        q = one(rng, [f"In which month is {people[who]}'s birthday? It's written down in {path}.",
                      f"Look in {path} and tell me the date of {people[who]}'s birthday."])
    else:
        rooms = some(rng, ["lobby", "studio", "kitchen", "attic", "garage", "office", "garden shed"], 5)
        pws = ["".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10)) for _ in rooms]
        path = one(rng, ["wifi.txt", "networks.txt"])
        lines = [f"{r} -> ssid home-{r.replace(' ', '-')} / password {p}" for r, p in zip(rooms, pws)]
        who = rng.randrange(5)
        want, cmd = pws[who], f"grep '^{rooms[who]} ' {path}"
        q = one(rng, [f"What's the wifi password for the {rooms[who]} network? {path} has all of them.",
                      f"A guest is in the {rooms[who]}; which password should they type? Find it in {path}."])
    files = {path: "\n".join(lines) + "\n"}
    chk = check(f'assert {want.lower()!r} in ANSWER.lower(), f"expected {want} in the answer, got {{ANSWER!r}}"')
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["question", "lookup", "chat"], steps=[
        step("run", "Find the line.", command=cmd),
        submit(f"The answer is {want}.", "The line gives it."),
    ])


_MODULES = [
    ("json", r"\bjson\b", ["Which standard-library module turns Python dicts into JSON text and back?",
                           "What do I import to parse a JSON string in plain Python, without third-party packages?"]),
    ("sqlite3", r"\bsqlite3\b", ["I want a small SQL database in a single file with no server. Which module ships with Python for that?",
                                 "Name the built-in Python module for talking to SQLite databases."]),
    ("zipfile", r"\bzipfile\b", ["How can Python read the members of a .zip archive using only the standard library? Which module?",
                                 "Which stdlib module lets me create .zip archives from Python code?"]),
    ("hashlib", r"\bhashlib\b", ["Which module do I use to compute a SHA-256 digest of some bytes in Python?",
                                 "I need MD5 and SHA-1 checksums of files from a Python script. What module is built in for hashing?"]),
    ("argparse", r"\bargparse\b", ["What is the standard library module for parsing command-line options like --verbose in Python?",
                                   "My script needs flags and positional arguments with --help output. Which built-in module handles that?"]),
    ("statistics", r"\bstatistics\b", ["Is there a built-in Python module that gives me mean, median and standard deviation of a list? Which one?",
                                       "Which stdlib module has median() and stdev()?"]),
    ("datetime", r"\bdatetime\b", ["Which Python module should I use to add 30 days to a date?",
                                   "How do I get today's date in Python? Name the standard module."]),
    ("shutil", r"\bshutil\b", ["Which standard-library module copies a whole directory tree (like cp -r) in Python?",
                               "To move or copy files around from Python, what built-in module has copy2 and rmtree?"]),
    ("random", r"\brandom\b", ["Which module picks a random element from a list in Python?",
                               "I want to shuffle a deck of cards in Python. Which built-in module provides shuffle()?"]),
    ("unittest", r"\bunittest\b", ["If pytest isn't available, which testing framework comes with Python itself?",
                                   "What's the name of the built-in unit testing module of Python (TestCase classes)?"]),
    ("gzip", r"\bgzip\b", ["Which standard module reads a .gz compressed file line by line in Python?",
                           "How do I decompress a .gz log from Python with no extra packages? Which module?"]),
    ("itertools", r"\bitertools\b", ["Which module contains combinations(), permutations() and groupby()?",
                                     "I want every pair of items from a list. What stdlib module has a combinations function?"]),
    ("subprocess", r"\bsubprocess\b", ["Which module should Python code use to run an external command and capture its output?",
                                       "How do I call `git status` from a Python script and read what it prints? Name the module."]),
    ("tomllib", r"\btomllib\b", ["Since Python 3.11, which standard module parses TOML files such as pyproject.toml?",
                                 "What built-in module reads .toml config in modern Python?"]),
]


def _l1_module_question(rng: random.Random) -> TaskDraft:
    name, pattern, qs = one(rng, _MODULES)
    q = one(rng, qs)
    tail = one(rng, ["", " Just name it.", " One word is enough.", " A short answer is fine."])
    chk = check(f'''
        import re
        assert re.search(r"{pattern}", ANSWER, re.I), f"expected the {name} module in the answer, got {{ANSWER!r}}"
        ''')
    return TaskDraft(instruction=wrap(q + tail), files={}, check=chk, tags=["python", "question", "chat"], steps=[
        submit(f"Use the {name} module.", "I can answer this directly."),
    ])


# ----------------------------------------------------------------------------------------------- level 2

_DATASETS = {
    # name: (file, label of the key, label of the value, key pool, value range, float?)
    "expenses": ("expenses.txt", "item", "amount", ["rent", "groceries", "internet", "gym", "bus pass", "phone",
                 "insurance", "streaming", "books", "gas"], (5, 900), True),
    "steps": ("steps.txt", "day", "steps", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], (2000, 19000), False),
    "scores": ("scores.txt", "player", "points", FIRST_NAMES, (0, 120), False),
    "pages": ("books.txt", "title", "pages", ["Dune", "Emma", "Solaris", "Beloved", "Kindred", "Circe", "Stoner",
              "Rebecca", "Hamnet"], (90, 900), False),
    "temps": ("temperatures.txt", "city", "temp", CITIES, (-8, 34), True),
    "sales": ("sales.txt", "store", "revenue", ["north", "south", "harbour", "airport", "mall", "station", "old town"],
              (100, 9000), True),
}


def _rows(rng: random.Random, ds: str, n: int) -> list[tuple[str, float]]:
    _, _, _, keys, (lo, hi), is_float = _DATASETS[ds]
    picked = some(rng, keys, min(n, len(keys)))
    vals = []
    for _ in picked:
        v = rng.randint(lo, hi)
        vals.append(v + rng.randint(0, 99) / 100 if is_float and rng.random() < 0.6 else v)
    # distinct values so max/min are unique
    while len(set(vals)) < len(vals):
        vals = [v + i for i, v in enumerate(vals)]
    return list(zip(picked, vals))


def _compute(op: str, rows, thr: float):
    vals = [v for _, v in rows]
    if op == "total":
        return round(sum(vals), 2)
    if op == "max_key":
        return max(rows, key=lambda r: r[1])[0]
    if op == "min_key":
        return min(rows, key=lambda r: r[1])[0]
    if op == "average":
        return round(sum(vals) / len(vals), 2)
    return sum(1 for v in vals if v > thr)


_OP_CODE = {
    "total": "print(round(sum(v for _, v in rows), 2))",
    "max_key": "print(max(rows, key=lambda r: r[1])[0])",
    "min_key": "print(min(rows, key=lambda r: r[1])[0])",
    "average": "print(round(sum(v for _, v in rows) / len(rows), 2))",
    "count_above": "print(sum(1 for _, v in rows if v > THRESHOLD))",
}


def _l2_compute_script(rng: random.Random) -> TaskDraft:
    ds = one(rng, list(_DATASETS))
    path, klabel, vlabel, *_ = _DATASETS[ds]
    op = one(rng, ["total", "max_key", "min_key", "average", "count_above"])
    sep = one(rng, [",", ";", ": "])
    rows = _rows(rng, ds, rng.randint(5, 8))
    lo, hi = _DATASETS[ds][4]
    thr = rng.randint(lo + (hi - lo) // 4, hi - (hi - lo) // 4)
    script = one(rng, {"total": ["total.py", "sum_up.py"], "max_key": ["top.py", "highest.py"],
                       "min_key": ["lowest.py", "bottom.py"], "average": ["average.py", "mean.py"],
                       "count_above": ["count_over.py", "above.py"]}[op])
    what = {
        "total": one(rng, [f"the total of all the {vlabel} values", f"the sum of the {vlabel} column"]),
        "max_key": one(rng, [f"the {klabel} with the highest {vlabel}", f"which {klabel} has the most {vlabel}"]),
        "min_key": one(rng, [f"the {klabel} with the lowest {vlabel}", f"which {klabel} has the smallest {vlabel}"]),
        "average": one(rng, [f"the mean {vlabel}, rounded to 2 decimals", f"the average of the {vlabel} values (2 decimals)"]),
        "count_above": one(rng, [f"how many lines have a {vlabel} greater than {thr}", f"the number of {klabel}s with {vlabel} above {thr}"]),
    }[op]
    intro = {
        "expenses": "expenses.txt is last month's spending",
        "steps": "steps.txt is my pedometer log for the week",
        "scores": "scores.txt has the points from our board-game league",
        "pages": "books.txt is my reading list with page counts",
        "temps": "temperatures.txt has today's noon temperature per city",
        "sales": "sales.txt has yesterday's revenue per store",
    }[ds]
    fmt = f'"{klabel}{sep}{vlabel}"'
    q = one(rng, [
        f"{intro}, one {fmt} per line. Write {script} that prints {what} (print just that), run it, and tell me the result.",
        f"Each line of {path} looks like {fmt}. I want a Python script {script} that reads the file and outputs {what}. "
        f"Run it and report what it prints.",
        f"Please create {script}: it should load {path} (lines of {fmt}) and print only {what}. (Context: {intro}.) "
        f"Then run it and give me the answer.",
    ])

    def text(rs):
        return "".join(f"{k}{sep}{_fmt(v) if isinstance(v, float) else v}\n" for k, v in rs)

    want = _compute(op, rows, thr)
    others = []
    for _ in range(3):
        rs = _rows(rng, ds, rng.randint(2, 7))
        others.append((text(rs), _compute(op, rs, thr)))
    code = (f"rows = []\nwith open({path!r}, encoding=\"utf-8\") as f:\n    for line in f:\n        if line.strip():\n"
            f"            key, value = line.strip().split({sep.strip()!r}, 1)\n            rows.append((key.strip(), float(value)))\n"
            + (f"THRESHOLD = {thr}\n" if op == "count_above" else "") + _OP_CODE[op] + "\n")
    numeric = op in ("total", "average", "count_above")
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        numeric = {numeric!r}
        def ok(out, want):
            if numeric:
                got = re.findall(r"-?\\d+(?:\\.\\d+)?", out)
                return bool(got) and abs(float(got[-1]) - want) < 0.011
            return out.strip().splitlines()[-1].strip() == want if out.strip() else False
        want = {want!r}
        if numeric:
            assert any(abs(float(n) - want) < 0.011 for n in NUMBERS), f"expected {{want}} in the answer: {{ANSWER!r}}"
        else:
            assert re.search(r"\\b" + re.escape(want) + r"\\b", ANSWER, re.I), f"expected {{want}} in the answer: {{ANSWER!r}}"
        for data, expect in [({text(rows)!r}, want)] + {others!r}:
            proc, _ = run_in_tmp([{script!r}], {{{path!r}: data}}, ["python", {script!r}])
            assert proc.returncode == 0, proc.stderr
            assert ok(proc.stdout, expect), (data, proc.stdout, expect)
        ''')
    shown = _fmt(want) if isinstance(want, float) else str(want)
    return TaskDraft(instruction=wrap(q), files={path: text(rows)}, check=chk, tags=["python", "text", "new-file", "chat"], steps=[
        step("read_file", "Look at the file format.", path=path),
        step("write_file", "Parse the lines and compute the value.", path=script, content=code),
        step("run", "Run it.", command=f"python {script}"),
        submit(f"{script} printed {shown}.", f"It prints {shown}."),
    ])


def _l2_edit_constant(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["tip", "repeat", "table", "bar", "laps", "discount"])
    if kind == "tip":
        bill, old, new = rng.randint(20, 180), 10, one(rng, [15, 18, 20, 12])
        name = one(rng, ["tip.py", "restaurant_tip.py"])
        code = f"BILL = {bill}\nTIP_PERCENT = {old}\n\ntip = BILL * TIP_PERCENT / 100\nprint(f\"tip: {{tip:.2f}}\")\nprint(f\"total: {{BILL + tip:.2f}}\")\n"
        old_s, new_s = f"TIP_PERCENT = {old}", f"TIP_PERCENT = {new}"
        tip = bill * new / 100
        out = [f"tip: {tip:.2f}", f"total: {bill + tip:.2f}"]
        q = one(rng, [f"After dinner I split the bill with {name}; its TIP_PERCENT constant still says {old}. We're generous tonight: "
                      f"make it {new}, run the script and tell me what we pay altogether.",
                      f"We tip {new} percent now, not {old}. Update the constant in {name}, run it and report both lines it prints."])
        key = f"{bill + tip:.2f}"
    elif kind == "repeat":
        who, old, new = one(rng, FIRST_NAMES), 1, rng.randint(3, 6)
        name = one(rng, ["greet.py", "hello_again.py"])
        code = f"NAME = \"{who}\"\nTIMES = {old}\n\nfor i in range(TIMES):\n    print(f\"{{i + 1}}: hello, {{NAME}}!\")\n"
        old_s, new_s = f"TIMES = {old}", f"TIMES = {new}"
        out = [f"{i + 1}: hello, {who}!" for i in range(new)]
        q = one(rng, [f"{name} greets {who} once. Make it greet {new} times, then run it and show me the output.",
                      f"Change the repeat count in {name} so the greeting appears {new} times; run it and tell me what it printed."])
        key = f"{new}: hello"
    elif kind == "table":
        old, new, upto = rng.randint(2, 5), rng.randint(6, 12), rng.randint(4, 6)
        name = one(rng, ["multiply.py", "table.py"])
        code = f"BASE = {old}\n\nfor i in range(1, {upto} + 1):\n    print(f\"{{BASE}} * {{i}} = {{BASE * i}}\")\n"
        old_s, new_s = f"BASE = {old}", f"BASE = {new}"
        out = [f"{new} * {i} = {new * i}" for i in range(1, upto + 1)]
        q = one(rng, [f"{name} prints the {old} times table. Switch it to the {new} times table, run it and report the output.",
                      f"Please make {name} use {new} as its base instead of {old}. Run it afterwards and tell me the last line."])
        key = str(new * upto)
    elif kind == "bar":
        old, new = 10, rng.randint(14, 30)
        pct = rng.randint(2, 9) * 10
        name = one(rng, ["progress.py", "bar.py"])
        code = (f"WIDTH = {old}\nDONE = {pct}\n\nfilled = WIDTH * DONE // 100\n"
                f"print(\"[\" + \"#\" * filled + \"-\" * (WIDTH - filled) + f\"] {{DONE}}%\")\n")
        old_s, new_s = f"WIDTH = {old}", f"WIDTH = {new}"
        filled = new * pct // 100
        out = ["[" + "#" * filled + "-" * (new - filled) + f"] {pct}%"]
        q = one(rng, [f"The progress bar drawn by {name} is {old} characters wide. Make it {new} wide, run it, and paste the bar.",
                      f"Widen the bar in {name} to {new} cells, run the script and show me what it draws."])
        key = f"{pct}%"
    elif kind == "laps":
        lap, old, new = one(rng, [400, 250, 333]), 4, rng.randint(6, 12)
        name = one(rng, ["laps.py", "track.py"])
        code = f"LAP_M = {lap}\nLAPS = {old}\n\nfor n in range(1, LAPS + 1):\n    print(f\"lap {{n}}: {{n * LAP_M}} m\")\nprint(\"done\")\n"
        old_s, new_s = f"LAPS = {old}", f"LAPS = {new}"
        out = [f"lap {n}: {n * lap} m" for n in range(1, new + 1)] + ["done"]
        q = one(rng, [f"{name} plans {old} laps of the track. I'm running {new} today: update it, run it, and tell me the total distance it shows.",
                      f"Set the number of laps in {name} to {new}, execute it, and report the final distance line."])
        key = str(new * lap)
    else:
        price, old, new = rng.randint(30, 400), 0, one(rng, [10, 20, 25, 30])
        name = one(rng, ["price.py", "checkout.py"])
        code = f"PRICE = {price}\nDISCOUNT = {old}  # percent\n\nfinal = PRICE * (100 - DISCOUNT) / 100\nprint(f\"you pay {{final:.2f}}\")\n"
        old_s, new_s = f"DISCOUNT = {old}", f"DISCOUNT = {new}"
        out = [f"you pay {price * (100 - new) / 100:.2f}"]
        q = one(rng, [f"Apply a {new}% discount in {name} (it has none yet), run it and tell me the price it prints.",
                      f"The sale starts: {name} should use a discount of {new} percent. Edit it, run it, and report what I pay."])
        key = f"{price * (100 - new) / 100:.2f}"
    chk = check(f'''
        import re, subprocess, sys
        proc = subprocess.run([sys.executable, {name!r}], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert [l.rstrip() for l in proc.stdout.strip().splitlines()] == {out!r}, proc.stdout
        assert {key.lower()!r} in ANSWER.lower(), f"the answer should give the output: {{ANSWER!r}}"
        ''')
    return TaskDraft(instruction=wrap(q), files={name: code}, check=chk, tags=["python", "edit", "chat"], steps=[
        step("read_file", "Look at the script.", path=name),
        step("edit_file", "Change the constant.", path=name, old=old_s, new=new_s),
        step("run", "Run it.", command=f"python {name}"),
        submit(f"{name} now prints:\n" + "\n".join(out), "Report the output."),
    ])


def _l2_config_print(rng: random.Random) -> TaskDraft:
    fmt = one(rng, ["json", "ini", "toml"])
    domain = one(rng, ["bot", "kiosk", "printer", "station", "shop"])
    field, values = {
        "bot": ("welcome", ["Hi, I'm Pixel, ask me anything", "Beep boop, the chat bot is awake", "Welcome aboard, sailor"]),
        "kiosk": ("banner", ["Tickets for today are sold out", "Museum closes at 6 pm", "Free entry on Sundays"]),
        "printer": ("location", ["Third floor, next to the kitchen", "Room 2.14 behind the plants", "Basement archive"]),
        "station": ("station_name", ["Harbour Road Weather Station", "Hilltop Observatory", "Riverside Gauge 7"]),
        "shop": ("motto", ["Fresh bread since 1987", "Fix it, don't bin it", "Coffee first, questions later"]),
    }[domain]
    section = {"bot": "chat", "kiosk": "display", "printer": "device", "station": "meta", "shop": "brand"}[domain]
    value, other = some(rng, values, 2)
    path = {"json": "config.json", "ini": "settings.ini", "toml": "app.toml"}[fmt]
    path = one(rng, [path, f"{domain}.{fmt}"])
    script = one(rng, [f"print_{field}.py", "read_config.py", f"{domain}_{field}.py"])

    def render(v):
        if fmt == "json":
            return json.dumps({"name": domain, section: {field: v, "enabled": True}, "version": 2}, indent=2) + "\n"
        if fmt == "ini":
            return f"[general]\nname = {domain}\nversion = 2\n\n[{section}]\n{field} = {v}\nenabled = yes\n"
        return f'name = "{domain}"\nversion = 2\n\n[{section}]\n{field} = "{v}"\nenabled = true\n'

    code = {
        "json": f"import json\n\nwith open({path!r}, encoding=\"utf-8\") as f:\n    cfg = json.load(f)\nprint(cfg[{section!r}][{field!r}])\n",
        "ini": f"import configparser\n\ncfg = configparser.ConfigParser()\ncfg.read({path!r}, encoding=\"utf-8\")\nprint(cfg[{section!r}][{field!r}])\n",
        "toml": f"import tomllib\n\nwith open({path!r}, \"rb\") as f:\n    cfg = tomllib.load(f)\nprint(cfg[{section!r}][{field!r}])\n",
    }[fmt]
    where = {"json": f'the "{field}" field inside the "{section}" object', "ini": f"the {field} key of the [{section}] section",
             "toml": f"the {field} key in the [{section}] table"}[fmt]
    q = one(rng, [
        f"The {domain} keeps its text in {path}. I want {script} to parse that file and print {where}; execute it and quote what appears.",
        f"{path} configures our {domain}. I need a small script {script} that loads it and outputs {where} (and nothing else). "
        f"Run it and report the text.",
        f"Make {script}: it parses {path} with the standard library and prints {where}. Don't hard-code the text; "
        f"run it and give me its output.",
    ])
    chk = check(RUN_IN_TMP, f'''
        assert {value.lower()!r} in ANSWER.lower(), f"the answer should say what it printed: {{ANSWER!r}}"
        for v, text in [({value!r}, {render(value)!r}), ({other!r}, {render(other)!r})]:
            proc, _ = run_in_tmp([{script!r}], {{{path!r}: text}}, ["python", {script!r}])
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == v, (v, proc.stdout)
        ''')
    return TaskDraft(instruction=wrap(q), files={path: render(value)}, check=chk, tags=["python", fmt, "new-file", "chat"], steps=[
        step("read_file", "Look at the config.", path=path),
        step("write_file", "Load it with the standard parser and print the field.", path=script, content=code),
        step("run", "Run it.", command=f"python {script}"),
        submit(f"{script} printed: {value}", "Report the output."),
    ])


def _l2_transform_file(rng: random.Random) -> TaskDraft:
    op = one(rng, ["sort", "upper", "reverse", "number", "unique"])
    domain = one(rng, ["names", "cities", "words"])
    pool = {"names": FIRST_NAMES, "cities": CITIES, "words": ["amber", "birch", "cobalt", "dune", "ember", "fjord",
                                                              "glacier", "heron", "indigo", "juniper", "kelp", "larch"]}[domain]
    src = one(rng, {"names": ["names.txt", "team.txt"], "cities": ["cities.txt", "destinations.txt"],
                    "words": ["words.txt", "vocab.txt"]}[domain])
    dst = one(rng, ["out.txt", src.replace(".txt", f"_{op}.txt")])
    script = one(rng, {"sort": ["sort_lines.py", "alphabetise.py"], "upper": ["shout.py", "upper.py"],
                       "reverse": ["flip.py", "reverse.py"], "number": ["number_lines.py", "enumerate_lines.py"],
                       "unique": ["dedupe.py", "unique.py"]}[op])

    def apply(lines):
        if op == "sort":
            return sorted(lines)
        if op == "upper":
            return [l.upper() for l in lines]
        if op == "reverse":
            return lines[::-1]
        if op == "number":
            return [f"{i}. {l}" for i, l in enumerate(lines, 1)]
        seen, out = set(), []
        for l in lines:
            if l not in seen:
                seen.add(l)
                out.append(l)
        return out

    def draw():
        ls = some(rng, pool, rng.randint(4, 8))
        if op == "unique":
            ls += some(rng, ls, 2)
            rng.shuffle(ls)
        return ls

    lines = draw()
    while op == "sort" and lines == sorted(lines):
        lines = draw()
    what = {"sort": "the same lines sorted alphabetically", "upper": "every line in upper case",
            "reverse": "the lines in reverse order (last line first)",
            "number": "each line prefixed with its line number, like `1. first`",
            "unique": "the lines with repeats removed, keeping the first occurrence and the original order"}[op]
    q = one(rng, [
        f"Write {script} that reads {src} and writes {dst} containing {what}. Run it and tell me the first line of {dst}.",
        f"{src} has one entry per line. Create a script {script} producing {dst} with {what}; run it, then report what "
        f"the first line of the result is.",
        f"I need {dst}: {what}, made from {src}. Do it with a Python script named {script}, run it, and tell me how "
        f"{dst} starts.",
    ])
    out = apply(lines)
    tests = [(lines, out)] + [(l, apply(l)) for l in (draw(), draw())]
    body = {"sort": "out = sorted(lines)", "upper": "out = [l.upper() for l in lines]", "reverse": "out = lines[::-1]",
            "number": "out = [f\"{i}. {l}\" for i, l in enumerate(lines, 1)]",
            "unique": "out = list(dict.fromkeys(lines))"}[op]
    code = (f"with open({src!r}, encoding=\"utf-8\") as f:\n    lines = [l.rstrip(\"\\n\") for l in f if l.strip()]\n"
            f"{body}\nwith open({dst!r}, \"w\", encoding=\"utf-8\") as f:\n    f.write(\"\".join(l + \"\\n\" for l in out))\n")
    chk = check(RUN_IN_TMP, f'''
        assert {out[0].lower()!r} in ANSWER.lower(), f"the answer should give the first line: {{ANSWER!r}}"
        with open({dst!r}, encoding="utf-8") as f:
            assert [l.rstrip() for l in f.read().splitlines() if l.strip()] == {out!r}, "{dst} is wrong"
        for lines, want in {tests!r}:
            proc, got = run_in_tmp([{script!r}], {{{src!r}: "".join(l + "\\n" for l in lines)}}, ["python", {script!r}], read=[{dst!r}])
            assert proc.returncode == 0, proc.stderr
            assert got[{dst!r}] is not None, "no {dst} written"
            assert [l.rstrip() for l in got[{dst!r}].splitlines() if l.strip()] == want, (lines, got)
        ''')
    return TaskDraft(instruction=wrap(q), files={src: "".join(l + "\n" for l in lines)}, check=chk,
                     tags=["python", "text", "new-file", "chat"], steps=[
        step("read_file", "Look at the input.", path=src),
        step("write_file", "Write the transformation.", path=script, content=code),
        step("run", "Run it and look at the result.", command=f"python {script} && cat {dst}"),
        submit(f"{script} wrote {dst}; its first line is {out[0]}.", "Report the first line."),
    ])


def _l2_add_total(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["invoice", "timesheet", "calories", "mileage"])
    path, unit, pool = {
        "invoice": ("items.csv", "EUR", ["design", "hosting", "support", "licence", "training", "audit", "travel"]),
        "timesheet": ("hours.csv", "h", ["mon", "tue", "wed", "thu", "fri", "sat"]),
        "calories": ("meals.csv", "kcal", ["breakfast", "snack", "lunch", "tea", "dinner", "dessert"]),
        "mileage": ("trips.csv", "km", ["client A", "warehouse", "airport", "depot", "site visit", "bank"]),
    }[domain]
    script = one(rng, ["report.py", "show.py", "listing.py"])
    word = one(rng, ["TOTAL", "Total", "SUM"])

    def data():
        return [(k, rng.randint(1, 400)) for k in some(rng, pool, rng.randint(3, len(pool)))]

    rows = data()
    text = lambda rs: "name,value\n" + "".join(f"{k},{v}\n" for k, v in rs)
    code = (f"import csv\n\nwith open({path!r}, newline=\"\", encoding=\"utf-8\") as f:\n    rows = list(csv.DictReader(f))\n\n"
            f"for row in rows:\n    print(f\"{{row['name']}}: {{row['value']}} {unit}\")\n")
    total = sum(v for _, v in rows)
    q = one(rng, [
        f"{script} lists each line of {path}. Add a final line `{word}: <sum> {unit}` with the sum of all values, run it "
        f"and tell me the total.",
        f"Extend {script} so that after the per-line output it also prints `{word}: N {unit}`, N being the sum of the value "
        f"column of {path}. Then run it and report N.",
        f"I'd like {script} to end with a summary line `{word}: <total> {unit}`. Make that change, run the script and give me the total it shows.",
    ])
    others = [data(), data()]
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        assert "{total}" in NUMBERS, f"expected {total} in the answer: {{ANSWER!r}}"
        for rows in [{rows!r}] + {others!r}:
            text = "name,value\\n" + "".join(f"{{k}},{{v}}\\n" for k, v in rows)
            proc, _ = run_in_tmp([{script!r}], {{{path!r}: text}}, ["python", {script!r}])
            assert proc.returncode == 0, proc.stderr
            lines = proc.stdout.strip().splitlines()
            assert lines[:-1] == [f"{{k}}: {{v}} {unit}" for k, v in rows], lines
            last = lines[-1].strip()
            assert last.startswith({word!r} + ":") and last.endswith({unit!r}), last
            nums = re.findall(r"\\d+(?:\\.\\d+)?", last)
            assert nums and float(nums[0]) == sum(v for _, v in rows), last
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text(rows), script: code}, check=chk, tags=["python", "edit", "chat"], steps=[
        step("read_file", "Look at the script.", path=script),
        step("edit_file", "Print the sum after the loop.", path=script,
             old=f"    print(f\"{{row['name']}}: {{row['value']}} {unit}\")\n",
             new=f"    print(f\"{{row['name']}}: {{row['value']}} {unit}\")\nprint(f\"{word}: {{sum(int(r['value']) for r in rows)}} {unit}\")\n"),
        step("run", "Run it.", command=f"python {script}"),
        submit(f"{script} now ends with `{word}: {total} {unit}`; the total is {total}.", "Report the total."),
    ])


# ----------------------------------------------------------------------------------------------- level 3


def _l3_group_totals(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["budget", "orders", "donations", "timelog", "harvest"])
    path, cat, val, cats = {
        "budget": ("transactions.csv", "category", "amount", ["food", "rent", "transport", "fun", "health", "gifts"]),
        "orders": ("orders.csv", "region", "total", ["north", "south", "east", "west", "central"]),
        "donations": ("donations.csv", "campaign", "euros", ["schools", "library", "park", "shelter", "choir"]),
        "timelog": ("timelog.csv", "project", "minutes", ["atlas", "beacon", "cobalt", "delta", "ember"]),
        "harvest": ("harvest.csv", "crop", "kg", ["apples", "pears", "plums", "cherries", "quinces"]),
    }[domain]
    out = one(rng, ["summary.csv", f"{cat}_totals.csv", "totals.csv"])
    script = one(rng, ["summarise.py", "group.py", f"{cat}_totals.py"])
    order = one(rng, ["desc", "name"])

    def data():
        cs = some(rng, cats, rng.randint(3, len(cats)))
        rows = [(one(rng, cs), rng.randint(1, 300)) for _ in range(rng.randint(8, 14))]
        return rows

    def summary(rows):
        tot = Counter()
        for c, v in rows:
            tot[c] += v
        items = sorted(tot.items(), key=(lambda kv: (-kv[1], kv[0])) if order == "desc" else (lambda kv: kv[0]))
        return [[c, str(v)] for c, v in items]

    rows = data()
    while len({v for _, v in summary(rows)}) < len(summary(rows)):
        rows = data()
    text = lambda rs: f"date,{cat},{val}\n" + "".join(f"2024-0{1 + i % 9}-1{i % 10},{c},{v}\n" for i, (c, v) in enumerate(rs))
    want = summary(rows)
    top = max(want, key=lambda r: int(r[1]))
    ordering = ("sorted by total, largest first (ties by name)" if order == "desc" else f"sorted by {cat} name")
    q = one(rng, [
        f"""{path} has one row per entry (columns date,{cat},{val}). Write {script} that adds up the {val} per {cat} and
        writes {out} with the header `{cat},total` and one row per {cat}, {ordering}. Run it, and tell me which {cat} has
        the largest total and what that total is.""",
        f"""I need per-{cat} totals from {path}. Please write a script {script} that reads it, sums the {val} column for
        every {cat}, and saves the result as {out} (header `{cat},total`, rows {ordering}). After running it, report the
        {cat} with the biggest total.""",
        f"""Summarise {path}: create {script}, which produces {out} listing each {cat} with the total of its {val}
        (header line `{cat},total`; {ordering}). The script has to work on other exports with the same columns too. Run it and
        name the top {cat} with its total.""",
    ])
    tests = [(text(r), summary(r)) for r in (data(), data())]
    key = "lambda kv: (-kv[1], kv[0])" if order == "desc" else "lambda kv: kv[0]"
    code = dd(f"""
        import csv
        from collections import defaultdict

        totals = defaultdict(int)
        with open({path!r}, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                totals[row[{cat!r}]] += int(row[{val!r}])

        with open({out!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([{cat!r}, "total"])
            for name, total in sorted(totals.items(), key={key}):
                writer.writerow([name, total])
        """)
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        import csv, io
        def rows_of(text):
            return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if r]
        assert re.search(r"\\b{top[0]}\\b", ANSWER, re.I) and "{top[1]}" in NUMBERS, f"expected {top[0]} with {top[1]}: {{ANSWER!r}}"
        assert os.path.isfile({out!r}), "{out} missing"
        got = rows_of(open({out!r}, encoding="utf-8").read())
        assert got == [[{cat!r}, "total"]] + {want!r}, got
        for data, expect in {tests!r}:
            proc, files = run_in_tmp([{script!r}], {{{path!r}: data}}, ["python", {script!r}], read=[{out!r}])
            assert proc.returncode == 0, proc.stderr
            assert files[{out!r}] is not None, "the script wrote no {out}"
            assert rows_of(files[{out!r}]) == [[{cat!r}, "total"]] + expect, (data, files)
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text(rows)}, check=chk, tags=["python", "csv", "multi-step", "chat"], steps=[
        step("read_file", "Look at the columns.", path=path),
        step("write_file", "Sum per group with a dict, write the summary sorted as asked.", path=script, content=code),
        step("run", "Run it and check the output.", command=f"python {script} && cat {out}"),
        submit(f"{script} wrote {out}; the largest is {top[0]} with {top[1]}.", "Report the top group."),
    ])


_TEXTS = [
    "the quick brown fox jumps over the lazy dog the dog sleeps",
    "a rose is a rose is a rose said the poet to the rose garden",
    "rain rain go away come again another day little rain",
    "to be or not to be that is the question to ask",
    "we sail at dawn we sail at dusk we sail when the wind is kind",
    "tea and toast and tea again and jam with the toast",
]


def _l3_word_freq(rng: random.Random) -> TaskDraft:
    script = one(rng, ["wordfreq.py", "top_words.py", "freq.py"])
    path = one(rng, ["speech.txt", "notes.txt", "chapter1.txt", "lyrics.txt"])
    mode = one(rng, ["arg", "fixed"])
    n = rng.randint(2, 4)
    vocab = ["harbour", "lantern", "river", "stone", "window", "garden", "market", "bridge", "winter", "letter", "candle"]
    words = []
    counts = sorted(some(rng, range(2, 12), 5), reverse=True)
    for w, c in zip(some(rng, vocab, 5), counts):
        words += [w] * c
    words += some(rng, ["the", "a", "of", "and"], 2) * 1
    rng.shuffle(words)
    lines, text_words = [], []
    for i in range(0, len(words), 7):
        chunk = words[i:i + 7]
        chunk = [w.capitalize() if rng.random() < 0.2 else w for w in chunk]
        lines.append(" ".join(chunk) + one(rng, [".", ",", "!", ";", ""]))
    text = "\n".join(lines) + "\n"

    def top(t, k):
        c = Counter(re.findall(r"[a-z']+", t.lower()))
        return [(w, m) for w, m in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]

    want = top(text, n)
    usage = f"python {script} FILE N" if mode == "arg" else f"python {script} FILE"
    rule = ("words are compared in lower case and punctuation is not part of a word; ties go alphabetically")
    q = one(rng, [
        f"""Write {script}, run as `{usage}`, that prints the {'N' if mode == 'arg' else n} most frequent words of FILE,
        one per line as `word count`, most frequent first ({rule}). Run it on {path}{f' with N={n}' if mode == 'arg' else ''}
        and tell me the most common word and how often it occurs.""",
        f"""Which words does {path} use most? Create a command-line script {script} (usage: `{usage}`) printing the top
        {'N' if mode == 'arg' else n} words with their counts, formatted `word count`, highest count first. Rules: {rule}.
        Run it{f' with N={n}' if mode == 'arg' else ''} and report the winner.""",
    ])
    argv = [path] + ([str(n)] if mode == "arg" else [])
    others = []
    for t in rng.sample(_TEXTS, 3):
        k = rng.randint(1, 3) if mode == "arg" else n
        others.append((t + "\n", k, top(t, k)))
    nexpr = "int(sys.argv[2])" if mode == "arg" else str(n)
    code = dd(f"""
        import re
        import sys
        from collections import Counter

        with open(sys.argv[1], encoding="utf-8") as f:
            counts = Counter(re.findall(r"[a-z']+", f.read().lower()))
        for word, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:{nexpr}]:
            print(word, count)
        """)
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        assert re.search(r"\\b{want[0][0]}\\b", ANSWER, re.I) and "{want[0][1]}" in NUMBERS, f"expected {want[0][0]} ({want[0][1]}): {{ANSWER!r}}"
        def parse(out):
            return [(l.split()[0], int(l.split()[1])) for l in out.strip().splitlines() if l.strip()]
        cases = [({text!r}, {n}, {[list(x) for x in want]!r})] + [(t, k, [list(x) for x in w]) for t, k, w in {others!r}]
        for t, k, expect in cases:
            args = ["python", {script!r}, "in.txt"] + ([str(k)] if {mode == 'arg'!r} else [])
            proc, _ = run_in_tmp([{script!r}], {{"in.txt": t}}, args)
            assert proc.returncode == 0, proc.stderr
            assert [list(x) for x in parse(proc.stdout)] == expect, (t, k, proc.stdout)
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text}, check=chk, tags=["python", "text", "cli", "multi-step", "chat"], steps=[
        step("read_file", "Look at the text.", path=path),
        step("write_file", "Count lowercased words with a regex and Counter.", path=script, content=code),
        step("run", "Run it on the file.", command="python " + " ".join([script] + argv)),
        step("run", "Try it on a tiny input to be sure about ties.", command=f"printf 'b a b a c\\n' > tiny.txt && python {script} tiny.txt" + (" 2" if mode == "arg" else "")),
        submit(f"{script} works; the most common word in {path} is '{want[0][0]}' ({want[0][1]} times).", "Report the top word."),
    ])


def _l3_folder_summary(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["journal", "meetings", "recipes", "tickets"])
    folder, marker, what = {
        "journal": ("journal", "TODO", "open TODO items"),
        "meetings": ("meetings", "ACTION", "action items"),
        "recipes": ("recipes", "- ", "ingredient lines"),
        "tickets": ("tickets", "BUG", "bug reports"),
    }[domain]
    out = one(rng, ["summary.json", f"{folder}_counts.json", "counts.json"])
    script = one(rng, ["count_items.py", "scan.py", f"{domain}_summary.py"])
    filler = ["met the team", "reviewed numbers", "lunch outside", "quiet day", "long call with the vendor",
              "walked by the canal", "read two chapters", "planned next week"]

    def make_folder():
        names = some(rng, ["mon", "tue", "wed", "thu", "fri", "week1", "week2", "alpha", "beta", "gamma"], rng.randint(3, 5))
        files, counts = {}, {}
        for name in names:
            k = rng.randint(0, 5)
            lines = [f"{marker}{'' if marker.endswith(' ') else ': '}{one(rng, filler)}" for _ in range(k)]
            lines += some(rng, filler, rng.randint(1, 4))
            rng.shuffle(lines)
            files[f"{folder}/{name}.txt"] = "\n".join(lines) + "\n"
            counts[f"{name}.txt"] = k
        return files, counts

    files, counts = make_folder()
    while sorted(counts.values())[-1] == sorted(counts.values())[-2]:
        files, counts = make_folder()
    best = max(counts, key=counts.get)
    files[f"{folder}/README.md"] = f"{marker} not a note file, skip me\n"
    pat = f'line.startswith({marker!r})'
    q = one(rng, [
        f"""Every .txt file in {folder}/ is one note; lines that start with `{marker}` are {what}. Write {script} that
        counts those lines per file and writes {out}: a JSON object mapping each .txt file name (e.g. "mon.txt") to its
        count, including files with zero. Only .txt files count. Run it and tell me which file has the most.""",
        f"""I want a JSON overview of the {what} in {folder}/. Create {script}: for each .txt file in that folder, count the lines
        beginning with `{marker}`, and store the result in {out} as {{"file name": count}} (every .txt file appears, even with 0;
        other files are ignored). Run it and report the file with the highest count.""",
    ])
    tests = [make_folder() for _ in range(2)]
    code = dd(f"""
        import json
        import pathlib

        counts = {{}}
        for path in sorted(pathlib.Path({folder!r}).glob("*.txt")):
            counts[path.name] = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if {pat})
        with open({out!r}, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=2)
        """)
    chk = check(RUN_IN_TMP, f'''
        import json
        assert re.search(r"\\b{best.split('.')[0]}\\b", ANSWER, re.I), f"expected {best} in the answer: {{ANSWER!r}}"
        assert os.path.isfile({out!r}), "{out} missing"
        assert json.load(open({out!r}, encoding="utf-8")) == {counts!r}
        for files, expect in {tests!r}:
            proc, got = run_in_tmp([{script!r}], files, ["python", {script!r}], read=[{out!r}])
            assert proc.returncode == 0, proc.stderr
            assert got[{out!r}] is not None, "no {out} written"
            assert json.loads(got[{out!r}]) == expect, (files, got)
        ''')
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["python", "json", "multi-file", "multi-step", "chat"], steps=[
        step("list_files", "See what is in the folder.", path=folder),
        step("read_file", "Look at one note.", path=sorted(files)[0]),
        step("write_file", "Count marked lines per .txt file and dump JSON.", path=script, content=code),
        step("run", "Run it.", command=f"python {script} && cat {out}"),
        submit(f"{script} wrote {out}; {best} has the most ({counts[best]}).", "Report the winner."),
    ])


def _l3_join_files(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["race", "exam", "sales", "quiz"])
    a_name, b_name, metric, best_is = {
        "race": ("runners.csv", "times.csv", "seconds", "min"),
        "exam": ("students.csv", "marks.csv", "mark", "max"),
        "sales": ("agents.csv", "deals.csv", "amount", "max"),
        "quiz": ("teams.csv", "answers.csv", "points", "max"),
    }[domain]
    out = one(rng, ["results.csv", "joined.csv", "leaderboard.csv"])
    script = one(rng, ["merge.py", "join.py", "leaderboard.py"])
    multi = domain in ("sales", "quiz")  # several rows per id: sum them

    def make():
        ids = some(rng, range(100, 200), rng.randint(4, 6))
        names = some(rng, FIRST_NAMES, len(ids))
        a = "id,name\n" + "".join(f"{i},{n}\n" for i, n in zip(ids, names))
        vals = {}
        lines = []
        for i in ids:
            parts = [rng.randint(10, 99) for _ in range(rng.randint(1, 3) if multi else 1)]
            vals[i] = sum(parts)
            lines += [(i, p) for p in parts]
        rng.shuffle(lines)
        b = f"id,{metric}\n" + "".join(f"{i},{p}\n" for i, p in lines)
        rows = sorted(((n, vals[i]) for i, n in zip(ids, names)), key=lambda r: (r[1], r[0]) if best_is == "min" else (-r[1], r[0]))
        return a, b, [[n, str(v)] for n, v in rows]

    a, b, want = make()
    while len({r[1] for r in want}) < len(want):
        a, b, want = make()
    order = "smallest first" if best_is == "min" else "largest first"
    agg = f"the sum of its {metric} rows" if multi else f"its {metric}"
    q = one(rng, [
        f"""{a_name} maps ids to names and {b_name} has the {metric} per id{' (an id can appear several times)' if multi else ''}.
        Write {script} that joins them and writes {out} with the header `name,{metric}`: one row per person with {agg},
        sorted by {metric}, {order} (ties by name). Run it and tell me who comes first.""",
        f"""Combine {a_name} and {b_name} on the id column. The script {script} should produce {out} (columns name,{metric};
        {agg} for each name; ordered {order} by {metric}, ties alphabetically). Run it and report the name at the top and
        their {metric}.""",
    ])
    tests = [make() for _ in range(2)]
    key = "lambda r: (r[1], r[0])" if best_is == "min" else "lambda r: (-r[1], r[0])"
    code = dd(f"""
        import csv
        from collections import defaultdict

        with open({a_name!r}, newline="", encoding="utf-8") as f:
            names = {{row["id"]: row["name"] for row in csv.DictReader(f)}}
        totals = defaultdict(int)
        with open({b_name!r}, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                totals[row["id"]] += int(row[{metric!r}])
        rows = sorted(((names[i], v) for i, v in totals.items()), key={key})
        with open({out!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["name", {metric!r}])
            writer.writerows(rows)
        """)
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        import csv, io
        def rows_of(text):
            return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if r]
        assert re.search(r"\\b{want[0][0]}\\b", ANSWER, re.I), f"expected {want[0][0]} in the answer: {{ANSWER!r}}"
        assert os.path.isfile({out!r}), "{out} missing"
        assert rows_of(open({out!r}, encoding="utf-8").read()) == [["name", {metric!r}]] + {want!r}
        for a, b, expect in {tests!r}:
            proc, got = run_in_tmp([{script!r}], {{{a_name!r}: a, {b_name!r}: b}}, ["python", {script!r}], read=[{out!r}])
            assert proc.returncode == 0, proc.stderr
            assert got[{out!r}] is not None, "no {out} written"
            assert rows_of(got[{out!r}]) == [["name", {metric!r}]] + expect, (a, b, got)
        ''')
    return TaskDraft(instruction=wrap(q), files={a_name: a, b_name: b}, check=chk, tags=["python", "csv", "join", "multi-step", "chat"], steps=[
        step("read_file", "Look at the ids and names.", path=a_name),
        step("read_file", "And at the values.", path=b_name),
        step("write_file", "Join on id, aggregate, sort.", path=script, content=code),
        step("run", "Run it.", command=f"python {script} && cat {out}"),
        submit(f"{script} wrote {out}; first is {want[0][0]} with {want[0][1]}.", "Report the top row."),
    ])


def _l3_config_feature(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["shop", "payroll", "grades", "energy"])
    script, cfg = one(rng, [("prices.py", "config.json"), ("report.py", "options.json"), ("run.py", "settings.json")])
    option, default, value = {
        "shop": ("discount_percent", 0, one(rng, [10, 15, 20, 25])),
        "payroll": ("bonus_percent", 0, one(rng, [5, 8, 12])),
        "grades": ("curve_points", 0, one(rng, [3, 5, 7])),
        "energy": ("tariff_cents", 30, one(rng, [22, 27, 35])),
    }[domain]
    data_name = {"shop": "cart.csv", "payroll": "salaries.csv", "grades": "marks.csv", "energy": "meters.csv"}[domain]
    base_cfg = {"currency": one(rng, ["EUR", "GBP", "CHF"]), "decimals": 2}

    def rows_for():
        return [(n, rng.randint(30, 95) if domain == "grades" else rng.randint(10, 200)) for n in some(rng, FIRST_NAMES if domain != "energy" else CITIES, rng.randint(3, 5))]

    def expect(rows, v):
        if domain == "shop":
            f = lambda x: x * (100 - v) / 100
        elif domain == "payroll":
            f = lambda x: x * (100 + v) / 100
        elif domain == "grades":
            f = lambda x: min(100, x + v)
        else:
            f = lambda x: x * v / 100
        return [f"{n}: {f(x):.2f}" for n, x in rows] + [f"total: {sum(f(x) for _, x in rows):.2f}"]

    formula = {
        "shop": ("value * (100 - cfg.get(\"discount_percent\", 0)) / 100", f"every price is reduced by {option} percent"),
        "payroll": ("value * (100 + cfg.get(\"bonus_percent\", 0)) / 100", f"every salary is raised by {option} percent"),
        "grades": ("min(100, value + cfg.get(\"curve_points\", 0))", f"{option} points are added to each mark (capped at 100)"),
        "energy": ("value * cfg.get(\"tariff_cents\", 30) / 100", f"each meter reading (kWh) is multiplied by {option} cents and shown in currency units"),
    }[domain]
    base_expr = {"shop": "value", "payroll": "value", "grades": "value", "energy": "value * 30 / 100"}[domain]
    rows = rows_for()
    code = dd(f"""
        import csv
        import json

        with open({cfg!r}, encoding="utf-8") as f:
            cfg = json.load(f)

        total = 0
        with open({data_name!r}, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                value = float(row["value"])
                shown = {base_expr}
                total += shown
                print(f"{{row['name']}}: {{shown:.2f}}")
        print(f"total: {{total:.2f}}")
        """)
    cfg_text = json.dumps(base_cfg, indent=2) + "\n"
    new_cfg = json.dumps({**base_cfg, option: value}, indent=2) + "\n"
    want = expect(rows, value)
    q = one(rng, [
        f"""{script} prints each line of {data_name} and a total, with options in {cfg}. Add a new option `{option}`
        to {cfg} with the value {value} and make {script} honour it: {formula[1]}. When the option is missing the script
        must behave as before (default {default}). Run it and tell me the new total.""",
        f"""Two-part change: (1) in {cfg}, add "{option}": {value}; (2) teach {script} to read that option, meaning
        {formula[1]}; without the option it should fall back to {default}. Keep the output format. Then run the script and
        report the total line.""",
    ])
    text = lambda rs: "name,value\n" + "".join(f"{n},{x}\n" for n, x in rs)
    others = []
    for _ in range(2):
        rs, v = rows_for(), rng.randint(1, 40)
        others.append((text(rs), json.dumps({**base_cfg, option: v}), expect(rs, v)))
    rs = rows_for()
    others.append((text(rs), json.dumps(base_cfg), expect(rs, default)))
    total = want[-1].split()[-1]
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        import json
        assert "{total}" in NUMBERS or {float(total)!r} in [float(n) for n in NUMBERS], f"expected total {total}: {{ANSWER!r}}"
        cfg = json.load(open({cfg!r}, encoding="utf-8"))
        assert cfg.get({option!r}) == {value!r}, cfg
        assert {{k: v for k, v in cfg.items() if k != {option!r}}} == {base_cfg!r}, cfg
        proc = subprocess.run([sys.executable, {script!r}], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines() == {want!r}, proc.stdout
        for data, c, expect in {others!r}:
            proc, _ = run_in_tmp([{script!r}], {{{data_name!r}: data, {cfg!r}: c}}, ["python", {script!r}])
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip().splitlines() == expect, (data, c, proc.stdout)
        ''')
    return TaskDraft(instruction=wrap(q), files={script: code, cfg: cfg_text, data_name: text(rows)}, check=chk,
                     tags=["python", "json", "multi-file", "multi-step", "chat"], steps=[
        step("read_file", "Look at the script.", path=script),
        step("read_file", "And the config.", path=cfg),
        step("write_file", "Add the option to the config.", path=cfg, content=new_cfg),
        step("edit_file", "Use the option, with the old behaviour as default.", path=script,
             old=f"shown = {base_expr}", new=f"shown = {formula[0]}"),
        step("run", "Run it.", command=f"python {script}"),
        submit(f"Added {option} = {value} to {cfg} and made {script} use it; it now prints {want[-1]}.", "Report the total."),
    ])


def _l3_daily_stats(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["weather", "heart", "power", "river"])
    path, col, unit, lo, hi = {
        "weather": ("readings.csv", "temp_c", "°C", -5, 30),
        "heart": ("pulse_log.csv", "bpm", "bpm", 52, 150),
        "power": ("meter.csv", "watts", "W", 80, 3200),
        "river": ("gauge.csv", "level_cm", "cm", 40, 390),
    }[domain]
    out = one(rng, ["daily.csv", "per_day.csv", f"daily_{col}.csv"])
    script = one(rng, ["daily_stats.py", "per_day.py", "aggregate.py"])
    stat = one(rng, ["max", "min"])

    def make():
        start = datetime.date(2024, rng.randint(1, 11), rng.randint(1, 20))
        rows = []
        for d in range(rng.randint(3, 5)):
            day = start + datetime.timedelta(days=d)
            for h in sorted(some(rng, range(0, 24), rng.randint(2, 4))):
                rows.append((f"{day.isoformat()}T{h:02d}:00", rng.randint(lo, hi)))
        return rows

    def daily(rows):
        by = {}
        for ts, v in rows:
            by.setdefault(ts[:10], []).append(v)
        return [[d, str(min(vs)), str(max(vs)), f"{sum(vs) / len(vs):.1f}"] for d, vs in sorted(by.items())]

    rows = make()
    while len({r[2 if stat == "max" else 1] for r in daily(rows)}) < len(daily(rows)):
        rows = make()
    want = daily(rows)
    pick = (max if stat == "max" else min)(want, key=lambda r: int(r[2 if stat == "max" else 1]))
    text = lambda rs: f"timestamp,{col}\n" + "".join(f"{ts},{v}\n" for ts, v in rs)
    label = {"weather": "temperature sensor", "heart": "fitness watch", "power": "smart meter", "river": "river gauge"}[domain]
    word = "highest" if stat == "max" else "lowest"
    q = one(rng, [
        f"""My {label} logs to {path} (timestamp,{col}, ISO timestamps, several per day). Write {script} that writes
        {out} with the header `date,min,max,mean` and one row per calendar day in date order: the day's minimum,
        maximum and mean of {col} (mean with one decimal). Run it, then tell me which day had the {word} {stat}imum
        reading and what it was.""",
        f"""Roll the readings in {path} up by day. {script} should produce {out}: header `date,min,max,mean`, a row for each
        date (YYYY-MM-DD, ascending) with the smallest and largest {col} of that day and the average rounded to 1 decimal.
        It must work for any log in this format. Run it and report the date with the {word} {stat}imum plus the value in {unit}.""",
        f"""Daily summary job: from the {label} export {path}, compute per date the min, max and mean (1 dp) of the {col} column
        and save them as {out} (columns date,min,max,mean; sorted by date). Put the code in {script}, run it, and answer:
        on which day was the {stat}imum {word}?""",
    ])
    tests = [(text(r), daily(r)) for r in (make(), make())]
    code = dd(f"""
        import csv
        from collections import defaultdict

        by_day = defaultdict(list)
        with open({path!r}, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                by_day[row["timestamp"][:10]].append(int(row[{col!r}]))

        with open({out!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["date", "min", "max", "mean"])
            for day in sorted(by_day):
                values = by_day[day]
                writer.writerow([day, min(values), max(values), f"{{sum(values) / len(values):.1f}}"])
        """)
    value = pick[2 if stat == "max" else 1]
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        import csv, io
        def rows_of(text):
            return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if r]
        def same(got, want):
            if len(got) != len(want) + 1 or got[0] != ["date", "min", "max", "mean"]:
                return False
            for g, w in zip(got[1:], want):
                if g[:3] != w[:3] or abs(float(g[3]) - float(w[3])) > 0.051:
                    return False
            return True
        assert "{pick[0]}" in ANSWER and "{value}" in NUMBERS, f"expected {pick[0]} ({value}): {{ANSWER!r}}"
        assert os.path.isfile({out!r}), "{out} missing"
        got = rows_of(open({out!r}, encoding="utf-8").read())
        assert same(got, {want!r}), got
        for data, expect in {tests!r}:
            proc, files = run_in_tmp([{script!r}], {{{path!r}: data}}, ["python", {script!r}], read=[{out!r}])
            assert proc.returncode == 0, proc.stderr
            assert files[{out!r}] is not None, "no {out} written"
            assert same(rows_of(files[{out!r}]), expect), (data, files)
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text(rows)}, check=chk, tags=["python", "csv", "aggregate", "multi-step", "chat"], steps=[
        step("read_file", "Look at the log.", path=path),
        step("write_file", "Group by the date part of the timestamp.", path=script, content=code),
        step("run", "Run it.", command=f"python {script} && cat {out}"),
        submit(f"{script} wrote {out}; the {word} daily {stat} was on {pick[0]}: {value} {unit}.", "Report the day."),
    ])


def _l3_reorder(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["pharmacy", "bikes", "cafe", "lab"])
    path, pool = {
        "pharmacy": ("stock.json", ["ibuprofen", "plasters", "saline", "gauze", "aspirin", "antacid", "sunscreen", "lozenges"]),
        "bikes": ("parts.json", ["inner-tube", "brake-pad", "chain", "cassette", "cable", "grip", "saddle", "pedal"]),
        "cafe": ("pantry.json", ["oat-milk", "beans", "cups", "lids", "sugar", "syrup", "napkins", "stirrers"]),
        "lab": ("supplies.json", ["pipette-tips", "gloves", "ethanol", "slides", "tubes", "agar", "filters", "labels"]),
    }[domain]
    out = one(rng, ["reorder.txt", "to_order.txt", "shopping.txt"])
    script = one(rng, ["reorder.py", "check_stock.py", "low_stock.py"])

    def make():
        items = []
        for name in some(rng, pool, rng.randint(4, 7)):
            level = rng.randint(5, 40)
            qty = rng.randint(0, 60)
            items.append({"sku": name, "qty": qty, "reorder_at": level, "supplier": one(rng, ["acme", "globex", "initech"])})
        return {"updated": "2024-06-0" + str(rng.randint(1, 9)), "items": items}

    def low(inv):
        return sorted((i["sku"], i["reorder_at"] * 2 - i["qty"]) for i in inv["items"] if i["qty"] <= i["reorder_at"])

    inv = make()
    while not low(inv) or len(low(inv)) == len(inv["items"]):
        inv = make()
    want = low(inv)
    q = one(rng, [
        f"""{path} is our {domain} inventory. An item must be reordered when its qty is at or below its reorder_at level,
        and we then order enough to reach twice the reorder_at level (order = 2 * reorder_at - qty). Write {script} that
        writes {out} with one line `sku order` per item to reorder, sorted by sku, and prints how many items need
        reordering. Run it and tell me that number.""",
        f"""Stock check for the {domain}: create {script}, which reads {path} and lists every item whose qty <= reorder_at in
        {out}, as lines of `sku amount` (amount = 2 * reorder_at - qty, so the shelf ends up at double the threshold),
        alphabetical by sku. It should also print the number of such items. Run it and report how many there are.""",
    ])
    tests = []
    for _ in range(2):
        t = make()
        tests.append((json.dumps(t, indent=2), [f"{s} {n}" for s, n in low(t)]))
    code = dd(f"""
        import json

        with open({path!r}, encoding="utf-8") as f:
            inventory = json.load(f)

        low = sorted((item["sku"], 2 * item["reorder_at"] - item["qty"]) for item in inventory["items"]
                     if item["qty"] <= item["reorder_at"])
        with open({out!r}, "w", encoding="utf-8") as f:
            for sku, amount in low:
                f.write(f"{{sku}} {{amount}}\\n")
        print(len(low))
        """)
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        def lines(text):
            return [" ".join(l.split()) for l in text.splitlines() if l.strip()]
        assert "{len(want)}" in NUMBERS, f"expected {len(want)} in the answer: {{ANSWER!r}}"
        assert os.path.isfile({out!r}), "{out} missing"
        assert lines(open({out!r}, encoding="utf-8").read()) == {[f"{s} {n}" for s, n in want]!r}
        for data, expect in {tests!r}:
            proc, files = run_in_tmp([{script!r}], {{{path!r}: data}}, ["python", {script!r}], read=[{out!r}])
            assert proc.returncode == 0, proc.stderr
            assert files[{out!r}] is not None, "no {out} written"
            assert lines(files[{out!r}]) == expect, (data, files)
            assert str(len(expect)) in re.findall(r"\\d+", proc.stdout), proc.stdout
        ''')
    return TaskDraft(instruction=wrap(q), files={path: json.dumps(inv, indent=2) + "\n"}, check=chk,
                     tags=["python", "json", "multi-step", "chat"], steps=[
        step("read_file", "Look at the inventory.", path=path),
        step("write_file", "Filter, compute the order amount, sort by sku.", path=script, content=code),
        step("run", "Run it.", command=f"python {script} && cat {out}"),
        submit(f"{script} wrote {out}; {len(want)} items need reordering.", "Report the count."),
    ])


def _l3_split_by_column(rng: random.Random) -> TaskDraft:
    domain = one(rng, ["contacts", "tickets", "orders", "books"])
    path, col, vals, other = {
        "contacts": ("contacts.csv", "city", [c.lower() for c in CITIES[:8]], ["name", "email"]),
        "tickets": ("tickets.csv", "priority", ["low", "medium", "high", "urgent"], ["id", "title"]),
        "orders": ("orders.csv", "status", ["paid", "shipped", "refunded", "pending"], ["order_id", "amount"]),
        "books": ("catalogue.csv", "genre", ["fantasy", "history", "poetry", "crime", "travel"], ["isbn", "title"]),
    }[domain]
    folder = one(rng, ["by_" + col, "split", "out"])

    def make():
        vs = some(rng, vals, rng.randint(2, min(4, len(vals))))
        rows = []
        for i in range(rng.randint(6, 11)):
            rows.append([f"{other[0][:1]}{100 + i}", one(rng, ["alpha", "beta", "gamma", "delta", "omega"]) + str(i), one(rng, vs)])
        return rows

    def split(rows):
        groups = {}
        for r in rows:
            groups.setdefault(r[2], []).append(r)
        return {f"{folder}/{k}.csv": [other + [col]] + v for k, v in sorted(groups.items())}

    rows = make()
    parts = split(rows)
    while len({len(v) for v in parts.values()}) < len(parts):
        rows = make()
        parts = split(rows)
    biggest = max(parts, key=lambda k: len(parts[k]))
    text = lambda rs: ",".join(other + [col]) + "\n" + "".join(",".join(r) + "\n" for r in rs)
    script = one(rng, ["split_csv.py", f"split_by_{col}.py", "partition.py"])
    q = one(rng, [
        f"""Split {path} by its {col} column: write {script} that creates {folder}/<{col}>.csv for every {col} value that
        occurs (e.g. {folder}/{vals[0]}.csv), each with the original header and that value's rows in their original order.
        Run it, and tell me which {col} has the most rows and how many.""",
        f"""I'd like one CSV per {col}. Please create {script} reading {path} and writing the rows of each {col} into their own
        file {folder}/VALUE.csv (header first, rows in input order, nothing else in {folder}/). Run it and report the {col}
        with the largest file (row count, header not included).""",
    ])
    tests = [(text(r), split(r)) for r in (make(), make())]
    code = dd(f"""
        import csv
        import os

        with open({path!r}, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)

        column = header.index({col!r})
        os.makedirs({folder!r}, exist_ok=True)
        groups = {{}}
        for row in rows:
            groups.setdefault(row[column], []).append(row)
        for value, members in groups.items():
            with open(os.path.join({folder!r}, value + ".csv"), "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(members)
        """)
    n = len(parts[biggest]) - 1
    chk = check(RUN_IN_TMP, ANSWER_NUMBERS, f'''
        import csv, io, glob
        def rows_of(text):
            return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if r]
        assert re.search(r"\\b{biggest.split('/')[-1][:-4]}\\b", ANSWER, re.I) and "{n}" in NUMBERS, f"expected {biggest} ({n} rows): {{ANSWER!r}}"
        want = {parts!r}
        assert sorted(glob.glob("{folder}/*")) == sorted(want), glob.glob("{folder}/*")
        for name, rows in want.items():
            assert rows_of(open(name, encoding="utf-8").read()) == rows, name
        for data, expect in {tests!r}:
            proc, files = run_in_tmp([{script!r}], {{{path!r}: data}}, ["python", {script!r}], read=list(expect))
            assert proc.returncode == 0, proc.stderr
            for name, rows in expect.items():
                assert files[name] is not None and rows_of(files[name]) == rows, (name, files)
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text(rows)}, check=chk, tags=["python", "csv", "multi-file", "multi-step", "chat"], steps=[
        step("read_file", "Look at the CSV.", path=path),
        step("write_file", "Group rows by the column and write one file per value.", path=script, content=code),
        step("run", "Run it and count the rows per file.", command=f"python {script} && wc -l {folder}/*.csv"),
        submit(f"{script} split {path} into {folder}/; {biggest} is the largest with {n} rows.", "Report the biggest group."),
    ])


_SCENARIOS = {
    1: [_l1_count_in_file, _l1_word_problem, _l1_print_script, _l1_lookup, _l1_module_question],
    2: [_l2_compute_script, _l2_edit_constant, _l2_config_print, _l2_transform_file, _l2_add_total],
    3: [_l3_group_totals, _l3_word_freq, _l3_folder_summary, _l3_join_files, _l3_config_feature, _l3_daily_stats,
        _l3_reorder, _l3_split_by_column],
}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return one(rng, _SCENARIOS[level])(rng)
