"""refactor: change the structure of working code without changing what it does. Level 1 is a rename or a
clean-up in one file, level 2 rewrites one function (read, rewrite, run), level 3 touches several files or
several places (rename across a project, extract a helper, name the magic numbers, move a function)."""

from __future__ import annotations

import random

from lab.generators import TaskDraft
from lab.generators.families._code import PRELUDE, dd, draft, edit, pick, read, run, submit, write

FAMILY = "refactor"
LEVELS = (1, 2, 3)


def _equiv(module: str, original: str, calls: list[tuple[str, str, list]]) -> str:
    """Checker lines: for each (old name, new name, argument tuples) the workspace's module.<new> gives what the
    original source's <old> gave."""
    return dd(f'''
        import ast, math
        import {module} as m
        _ORIG = {{}}
        exec({original!r}, _ORIG)
        for old, new, arglist in {calls!r}:
            for args in arglist:
                want = _ORIG[old](*args)
                got = getattr(m, new)(*args)
                assert got == want or (isinstance(want, float) and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)), (new, args, got, want)
        _TREE = ast.parse(open({module + ".py"!r}).read())
        _FUNCS = {{n.name: n for n in ast.walk(_TREE) if isinstance(n, ast.FunctionDef)}}
    ''')


# ---------------------------------------------------------------- level 1

_RENAMES = [
    # file, old, new, params, body, caller name, caller body (uses old), sample args for new, sample args for caller
    ("people.py", "fmt", "format_name", "first, last", 'return f"{last.upper()}, {first}"', "badge", 'return "[" + fmt(first, last) + "]"', [("Ada", "Lovelace")]),
    ("geo.py", "d2", "distance", "x1, y1, x2, y2", "return ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5", "is_near", "return d2(x1, y1, x2, y2) < 1.0", [(0, 0, 3, 4), (1, 1, 1.5, 1)]),
    ("orders.py", "calc", "order_total", "prices, shipping", "return sum(prices) + shipping", "receipt", 'return f"Total: {calc(prices, shipping):.2f}"', [([1.5, 2.5], 4), ([], 0)]),
    ("strings.py", "proc", "strip_accents_lite", "text", 'return text.replace("é", "e").replace("à", "a")', "search_key", "return proc(text).lower()", [("Café à la carte",)]),
    ("grades.py", "g", "letter_for", "score", 'return "pass" if score >= 50 else "fail"', "summary", 'return f"{score}: {g(score)}"', [(49,), (50,), (90,)]),
    ("inventory.py", "chk", "in_stock", "stock, sku", "return stock.get(sku, 0) > 0", "availability", 'return "available" if chk(stock, sku) else "sold out"', [({"a": 2, "b": 0}, "a"), ({"a": 2, "b": 0}, "b")]),
    ("weather.py", "conv", "to_celsius", "fahrenheit", "return (fahrenheit - 32) * 5 / 9", "forecast", 'return f"{conv(fahrenheit):.1f} C"', [(212,), (32,), (-40,)]),
    ("timing.py", "hm", "split_minutes", "minutes", "return divmod(minutes, 60)", "clock_label", 'h, m = hm(minutes)\n    return f"{h}h{m:02d}"', [(125,), (0,), (59,)]),
]


def _l1_rename(rng: random.Random) -> TaskDraft:
    path, old, new, params, body, caller, cbody, samples = pick(rng, _RENAMES)
    src = f"def {old}({params}):\n    {body}\n\n\ndef {caller}({params}):\n    {cbody}\n"
    prose = pick(rng, [
        f"`{old}` is a meaningless name. Rename the function {old} in {path} to {new}, including the call inside {caller}(). No alias for the old name.",
        f"Please rename {old}() to {new}() throughout {path} (definition and its use in {caller}). Nothing outside {path} refers to it.",
        f"Naming clean-up in {path}: the helper {old} should be called {new}. Update the definition and every call, and don't keep {old} around.",
        f"In {path}, {caller}() calls a helper named {old}. Give that helper the descriptive name {new}; behaviour stays exactly the same.",
    ])
    check = PRELUDE + _equiv(path[:-3], src, [(old, new, samples), (caller, caller, samples)]) + dd(f'''
        assert not hasattr(m, {old!r}), "the old name {old} is still defined"
        assert {new!r} in _FUNCS, "no function {new}"
        names = {{n.id for n in ast.walk(_TREE) if isinstance(n, ast.Name)}}
        assert {old!r} not in names, "{old} is still referenced"
        print("ok")
    ''')
    steps = [run(f"sed -i 's/\\b{old}\\b/{new}/g' {path} && grep -n '{new}' {path}", "Replace the whole word everywhere in the file."),
             submit(f"Renamed {old} to {new} in {path}, including the call in {caller}.")]
    return draft(prose, {path: src}, check, steps, ["python", "rename"])


_CONSTS = [
    # file, old constant, new constant, value, function source using it (with @C@), function name, sample args
    ("tax.py", "R", "VAT_RATE", "0.2", "def with_vat(net):\n    return round(net * (1 + @C@), 2)\n\n\ndef vat_part(net):\n    return round(net * @C@, 2)\n", ["with_vat", "vat_part"], [(100,), (9.99,)]),
    ("limits.py", "N", "MAX_RETRIES", "5", "def attempts_left(used):\n    return max(@C@ - used, 0)\n\n\ndef exhausted(used):\n    return used >= @C@\n", ["attempts_left", "exhausted"], [(0,), (3,), (7,)]),
    ("layout.py", "W", "PAGE_WIDTH", "80", "def centre(text):\n    return text.center(@C@)\n\n\ndef rule():\n    return '-' * @C@\n", ["centre"], [("title",), ("",)]),
    ("game.py", "HP", "START_HEALTH", "100", "def heal(health, amount):\n    return min(health + amount, @C@)\n\n\ndef percent(health):\n    return health * 100 // @C@\n", ["heal", "percent"], [(90, 20), (10, 0)]),
    ("cache.py", "T", "TTL_SECONDS", "300", "def expired(age):\n    return age > @C@\n\n\ndef remaining(age):\n    return max(@C@ - age, 0)\n", ["expired", "remaining"], [(10,), (300,), (301,)]),
]


def _l1_constant(rng: random.Random) -> TaskDraft:
    path, old, new, value, body, funcs, samples = pick(rng, _CONSTS)
    src = f"{old} = {value}\n\n\n" + body.replace("@C@", old)
    calls = [(f, f, [a for a in samples if len(a) == body.split(f + "(")[1].split(")")[0].count(",") + 1]) for f in funcs]
    prose = pick(rng, [
        f"The constant {old} in {path} has a cryptic one-letter name. Rename it to {new} everywhere in that file.",
        f"Rename {old} to {new} in {path} (its definition and each place it is used). The value {value} stays the same.",
        f"Make {path} easier to read: call the module constant {new} instead of {old}, and leave no {old} behind.",
    ])
    check = PRELUDE + _equiv(path[:-3], src, calls) + dd(f'''
        assert getattr(m, {new!r}, None) == {value}, "missing {new} = {value}"
        assert not hasattr(m, {old!r}), "{old} is still defined"
        names = {{n.id for n in ast.walk(_TREE) if isinstance(n, ast.Name)}}
        assert {old!r} not in names, "{old} is still used"
        print("ok")
    ''')
    steps = [run(f"sed -i 's/\\b{old}\\b/{new}/g' {path} && cat {path}", "Rename every whole-word use."),
             submit(f"Renamed {old} to {new} in {path}.")]
    return draft(prose, {path: src}, check, steps, ["python", "rename", "constant"])


_IMPORTS = [
    ("report.py", ["json", "os"], "import math\n", "def rounded_mean(values):\n    return math.floor(sum(values) / len(values) * 10) / 10\n", "rounded_mean", [([1, 2, 4],), ([5],)]),
    ("slug.py", ["sys", "datetime"], "import re\n", 'def slug(text):\n    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")\n', "slug", [("Hello, World!",), ("  a  b ",)]),
    ("hashing.py", ["random", "time"], "import hashlib\n", "def short_hash(text):\n    return hashlib.sha1(text.encode()).hexdigest()[:8]\n", "short_hash", [("abc",), ("",)]),
    ("paths.py", ["shutil", "glob"], "import os\n", "def ext(path):\n    return os.path.splitext(path)[1].lower()\n", "ext", [("A.TXT",), ("noext",), ("x.tar.gz",)]),
    ("stats_util.py", ["collections", "itertools"], "import statistics\n", "def spread(values):\n    return max(values) - min(values), statistics.median(values)\n", "spread", [([3, 1, 2],), ([5, 5],)]),
]


def _l1_imports(rng: random.Random) -> TaskDraft:
    path, unused, used, body, func, samples = pick(rng, _IMPORTS)
    unused_lines = "".join(f"import {u}\n" for u in unused)
    src = unused_lines + used + "\n\n" + body
    prose = pick(rng, [
        f"{path} imports {unused[0]} and {unused[1]} but never uses them. Remove those two imports and keep everything else.",
        f"Lint complains about unused imports in {path}: `{unused[0]}` and `{unused[1]}`. Delete them; {func}() must keep working.",
        f"Tidy up the import block of {path}: only the module that {func} actually needs should stay ({used.split()[1]}).",
    ])
    check = PRELUDE + _equiv(path[:-3], src, [(func, func, samples)]) + dd(f'''
        imported = {{a.name for n in ast.walk(_TREE) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}}
        imported |= {{n.module for n in ast.walk(_TREE) if isinstance(n, ast.ImportFrom) and n.module}}
        assert not imported & set({sorted(unused)!r}), f"still imported: {{imported}}"
        assert {used.split()[1]!r} in imported, "the needed import is gone"
        print("ok")
    ''')
    steps = [edit(path, unused_lines, "", "Drop the two unused imports."), submit(f"Removed the unused imports {', '.join(unused)} from {path}.")]
    return draft(prose, {path: src}, check, steps, ["python", "imports", "cleanup"])


# ---------------------------------------------------------------- level 2: rewrite one function

_LOOPS = [
    # file, func, params, loop body, builtin body, builtin name, samples, goal prose
    ("cart.py", "total_weight", "items", "total = 0\nfor item in items:\n    total += item['kg']\nreturn total", "return sum(item['kg'] for item in items)", "sum",
     [([{"kg": 1.5}, {"kg": 2}],), ([],)], "a single sum() over a generator"),
    ("access.py", "any_admin", "users", "for user in users:\n    if user['role'] == 'admin':\n        return True\nreturn False", "return any(user['role'] == 'admin' for user in users)", "any",
     [([{"role": "dev"}, {"role": "admin"}],), ([{"role": "dev"}],), ([],)], "one any() call"),
    ("checks.py", "all_positive", "numbers", "for n in numbers:\n    if n <= 0:\n        return False\nreturn True", "return all(n > 0 for n in numbers)", "all",
     [([1, 2, 3],), ([1, -2],), ([],), ([0],)], "a call to all()"),
    ("csvline.py", "to_line", "cells", "line = ''\nfor i, cell in enumerate(cells):\n    if i:\n        line += ','\n    line += str(cell)\nreturn line", "return ','.join(str(cell) for cell in cells)", "join",
     [([1, "a", 2.5],), ([],), (["x"],)], "str.join"),
    ("temps.py", "hottest", "readings", "best = readings[0]\nfor r in readings[1:]:\n    if r > best:\n        best = r\nreturn best", "return max(readings)", "max",
     [([3, 9, 2],), ([-5],), ([1, 1],)], "the built-in max()"),
    ("names.py", "upper_names", "names", "out = []\nfor name in names:\n    if name:\n        out.append(name.upper())\nreturn out", "return [name.upper() for name in names if name]", "comprehension",
     [(["ann", "", "bo"],), ([],)], "a list comprehension"),
    ("counts.py", "count_long", "words, n", "count = 0\nfor w in words:\n    if len(w) > n:\n        count += 1\nreturn count", "return sum(1 for w in words if len(w) > n)", "sum",
     [(["a", "abcd", "abc"], 2), ([], 1)], "sum() over a generator expression"),
]


def _l2_loop(rng: random.Random) -> TaskDraft:
    path, func, params, loop, builtin, kind, samples, goal = pick(rng, _LOOPS)
    ind = lambda code: "\n".join("    " + l for l in code.splitlines())
    demo = ", ".join(map(repr, samples[0]))
    src = f"def {func}({params}):\n{ind(loop)}\n\n\nif __name__ == \"__main__\":\n    print({func}({demo}))\n"
    new = f"def {func}({params}):\n{ind(builtin)}\n\n\nif __name__ == \"__main__\":\n    print({func}({demo}))\n"
    prose = pick(rng, [
        f"{func}() in {path} uses a hand-written for loop. Replace the loop with {goal} (no for statement left in the function), keep the behaviour, then run python {path}.",
        f"Simplify {path}: rewrite {func} without an explicit loop, using {goal}. Results must not change. Run the script afterwards.",
        f"Code review comment on {path}: \"this loop in {func} is just {goal} in disguise\". Make that change and run it to show the output is the same.",
    ])
    orig = src.split("if __name__")[0]
    check = PRELUDE + _equiv(path[:-3], orig, [(func, func, samples)]) + dd(f'''
        fn = _FUNCS[{func!r}]
        assert not any(isinstance(n, (ast.For, ast.While)) for n in fn.body for n in ast.walk(n)), "{func} still has a loop statement"
        print("ok")
    ''')
    steps = [read(path), write(path, new, f"Use {goal}."), run(f"python {path}"), submit(f"{func}() now uses {goal}; output unchanged.")]
    return draft(prose, {path: src}, check, steps, ["python", "simplify", kind])


_ENUM = [
    ("menu.py", "numbered", "items", "lines = []\nfor i in range(len(items)):\n    lines.append(f'{i + 1}. {items[i]}')\nreturn lines",
     "return [f'{i}. {item}' for i, item in enumerate(items, start=1)]", [(["tea", "cake"],), ([],)], "enumerate"),
    ("pairs.py", "diffs", "a, b", "out = []\nfor i in range(len(a)):\n    out.append(b[i] - a[i])\nreturn out",
     "return [y - x for x, y in zip(a, b)]", [([1, 2, 3], [4, 4, 4]), ([], [])], "zip"),
    ("ranks.py", "positions", "names, target", "hits = []\nfor i in range(len(names)):\n    if names[i] == target:\n        hits.append(i)\nreturn hits",
     "return [i for i, name in enumerate(names) if name == target]", [(["a", "b", "a"], "a"), ([], "x")], "enumerate"),
    ("dotprod.py", "dot", "u, v", "total = 0\nfor i in range(len(u)):\n    total += u[i] * v[i]\nreturn total",
     "return sum(x * y for x, y in zip(u, v))", [([1, 2, 3], [4, 5, 6]), ([], [])], "zip"),
]


def _l2_enumerate(rng: random.Random) -> TaskDraft:
    path, func, params, loop, better, samples, tool = pick(rng, _ENUM)
    ind = lambda code: "\n".join("    " + l for l in code.splitlines())
    demo = ", ".join(map(repr, samples[0]))
    src = f"def {func}({params}):\n{ind(loop)}\n\n\nif __name__ == \"__main__\":\n    print({func}({demo}))\n"
    new = src.replace(ind(loop), ind(better))
    prose = pick(rng, [
        f"{func}() in {path} indexes with range(len(...)). Rewrite it with {tool}() so there is no range(len(...)) left, same results, then run python {path}.",
        f"Make {func} in {path} more idiomatic: iterate with {tool} instead of counting indexes by hand. Run the file when you're done.",
        f"Please remove the `for i in range(len(...))` pattern from {path} ({func}); {tool} is the usual way. The return values must stay identical.",
    ])
    orig = src.split("if __name__")[0]
    check = PRELUDE + _equiv(path[:-3], orig, [(func, func, samples)]) + dd(f'''
        fn = _FUNCS[{func!r}]
        bad = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "range"]
        assert not bad, "{func} still uses range()"
        print("ok")
    ''')
    steps = [read(path), write(path, new, f"Use {tool}."), run(f"python {path}"), submit(f"{func}() iterates with {tool} now.")]
    return draft(prose, {path: src}, check, steps, ["python", "idiom", tool])


_LOOKUPS = [
    ("shipping_zones.py", "zone_fee", "zone", "FEES", [("domestic", 5), ("eu", 12), ("world", 25)], "0"),
    ("http_codes.py", "category", "code", "CATEGORIES", [(200, "ok"), (301, "redirect"), (404, "missing"), (500, "server error")], "'unknown'"),
    ("sizes.py", "size_code", "label", "CODES", [("small", "S"), ("medium", "M"), ("large", "L"), ("extra large", "XL")], "'?'"),
    ("weekdays.py", "day_number", "name", "NUMBERS", [("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5)], "None"),
]


def _l2_lookup(rng: random.Random) -> TaskDraft:
    path, func, param, table, pairs, default = pick(rng, _LOOKUPS)
    lines = [f"def {func}({param}):"]
    for i, (k, v) in enumerate(pairs):
        lines.append(f"    {'if' if i == 0 else 'elif'} {param} == {k!r}:\n        return {v!r}")
    lines.append(f"    return {default}")
    body = "\n".join(lines) + "\n"
    demo = pairs[1][0]
    src = body + f"\n\nif __name__ == \"__main__\":\n    print({func}({demo!r}))\n"
    mapping = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in pairs) + "}"
    new = f"{table} = {mapping}\n\n\ndef {func}({param}):\n    return {table}.get({param}, {default})\n\n\nif __name__ == \"__main__\":\n    print({func}({demo!r}))\n"
    samples = [(k,) for k, _ in pairs] + [("nope",), (999,)]
    prose = pick(rng, [
        f"Replace the if/elif chain in {func}() ({path}) with a module-level dict named {table} and a lookup in it. Unknown values still give {default}. Run python {path} afterwards.",
        f"{path}: {func} is a ladder of comparisons. Turn the pairs into a dictionary {table} at module level and make the function a single .get() on it; same results for every input. Then run the script.",
        f"Data, not code: move the values that {func}() in {path} returns into a dict called {table}, so adding a case means adding an entry. Keep the fallback of {default}, and run the file.",
    ])
    check = PRELUDE + _equiv(path[:-3], body, [(func, func, samples)]) + dd(f'''
        assert isinstance(getattr(m, {table!r}, None), dict) and m.{table} == {mapping}, "module-level dict {table} missing or wrong"
        fn = _FUNCS[{func!r}]
        assert not any(isinstance(n, (ast.If, ast.IfExp, ast.Match)) for n in ast.walk(fn)), "{func} still branches"
        print("ok")
    ''')
    steps = [read(path), write(path, new, "A dict plus .get with the same default."), run(f"python {path}"), submit(f"{func}() now looks values up in {table}.")]
    return draft(prose, {path: src}, check, steps, ["python", "lookup-table"])


_FSTR = [
    ("labels.py", "shipping_label", "name, city, parcels", 'return "To: " + name + " (" + city + "), " + str(parcels) + " parcel(s)"',
     'return f"To: {name} ({city}), {parcels} parcel(s)"', [("Ann", "Oslo", 2), ("Bo", "Rome", 1)]),
    ("scores.py", "score_line", "player, points, rank", 'return "#" + str(rank) + " " + player + ": " + str(points) + " pts"',
     'return f"#{rank} {player}: {points} pts"', [("zed", 120, 1), ("amy", 0, 9)]),
    ("logs.py", "log_line", "level, code, message", 'return "[" + level.upper() + "] " + str(code) + " - " + message',
     'return f"[{level.upper()}] {code} - {message}"', [("warn", 301, "moved"), ("info", 200, "")]),
    ("rooms.py", "booking", "guest, room, nights", 'return guest + " in room " + str(room) + " for " + str(nights) + " nights"',
     'return f"{guest} in room {room} for {nights} nights"', [("Kim", 12, 3), ("Lee", 101, 1)]),
]


def _l2_fstring(rng: random.Random) -> TaskDraft:
    path, func, params, concat, fstr, samples = pick(rng, _FSTR)
    demo = ", ".join(map(repr, samples[0]))
    src = f"def {func}({params}):\n    {concat}\n\n\nif __name__ == \"__main__\":\n    print({func}({demo}))\n"
    new = src.replace(concat, fstr)
    prose = pick(rng, [
        f"{func}() in {path} glues its string together with + and str(). Rewrite it as one f-string producing exactly the same text, then run python {path}.",
        f"Modernise the string building in {path}: {func} should use an f-string instead of concatenation and str() calls. Output must not change; run the script.",
        f"The concatenation in {func} ({path}) is hard to read. Use a single f-string, no str() calls, no + between strings. Run the file afterwards.",
    ])
    orig = src.split("if __name__")[0]
    check = PRELUDE + _equiv(path[:-3], orig, [(func, func, samples)]) + dd(f'''
        fn = _FUNCS[{func!r}]
        assert any(isinstance(n, ast.JoinedStr) for n in ast.walk(fn)), "no f-string in {func}"
        assert not any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) for n in ast.walk(fn)), "{func} still concatenates with +"
        assert not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "str" for n in ast.walk(fn)), "str() still called"
        print("ok")
    ''')
    steps = [read(path), edit(path, concat, fstr, "One f-string with the same pieces."), run(f"python {path}"), submit(f"{func}() builds its text with an f-string now.")]
    return draft(prose, {path: src}, check, steps, ["python", "f-string"])


# ---------------------------------------------------------------- level 3

_PROJECT_RENAMES = [
    # old, new, kind, module, definition, user module, user code, test body
    ("Cust", "Customer", "class", "crm", "class Cust:\n    def __init__(self, name, tier='basic'):\n        self.name = name\n        self.tier = tier\n\n    def discount(self):\n        return 0.1 if self.tier == 'gold' else 0.0\n",
     "billing", "from crm import Cust\n\n\ndef invoice(cust: Cust, amount):\n    return round(amount * (1 - cust.discount()), 2)\n\n\ndef new_customers(names):\n    return [Cust(n) for n in names]\n",
     "from crm import Cust\nfrom billing import invoice\n\n\ndef test_gold_discount():\n    assert invoice(Cust('a', 'gold'), 100) == 90.0\n\n\ndef test_basic():\n    assert invoice(Cust('b'), 100) == 100.0\n",
     "m.Customer('z', 'gold').discount() == 0.1 and [type(c).__name__ for c in u.new_customers(['p'])] == ['Customer'] and u.invoice(m.Customer('q'), 10) == 10.0"),
    ("getp", "get_price", "function", "catalog", "PRICES = {'apple': 0.5, 'pear': 0.75}\n\n\ndef getp(item, qty=1):\n    return PRICES[item] * qty\n",
     "basket", "from catalog import getp\n\n\ndef basket_total(items):\n    return sum(getp(name, qty) for name, qty in items)\n",
     "from catalog import getp\nfrom basket import basket_total\n\n\ndef test_single():\n    assert getp('apple', 2) == 1.0\n\n\ndef test_basket():\n    assert basket_total([('apple', 1), ('pear', 2)]) == 2.0\n",
     "m.get_price('pear', 4) == 3.0 and u.basket_total([('apple', 3)]) == 1.5"),
    ("Tkt", "Ticket", "class", "helpdesk", "class Tkt:\n    def __init__(self, title, priority=3):\n        self.title = title\n        self.priority = priority\n        self.closed = False\n\n    def close(self):\n        self.closed = True\n",
     "queue_view", "from helpdesk import Tkt\n\n\ndef open_tickets(tickets):\n    return sorted((t for t in tickets if not t.closed), key=lambda t: t.priority)\n\n\ndef triage(titles):\n    return [Tkt(t, 1) for t in titles]\n",
     "from helpdesk import Tkt\nfrom queue_view import open_tickets\n\n\ndef test_open_sorted():\n    a, b = Tkt('a', 2), Tkt('b', 1)\n    assert open_tickets([a, b]) == [b, a]\n\n\ndef test_closed_hidden():\n    t = Tkt('x')\n    t.close()\n    assert open_tickets([t]) == []\n",
     "[t.title for t in u.open_tickets([m.Ticket('l', 5), m.Ticket('h', 1)])] == ['h', 'l'] and type(u.triage(['q'])[0]).__name__ == 'Ticket'"),
    ("tmpl", "render_template", "function", "mailing", "def tmpl(text, **values):\n    for key, value in values.items():\n        text = text.replace('{' + key + '}', str(value))\n    return text\n",
     "campaign", "from mailing import tmpl\n\n\ndef welcome(name):\n    return tmpl('Hi {name}, welcome!', name=name)\n",
     "from mailing import tmpl\nfrom campaign import welcome\n\n\ndef test_fill():\n    assert tmpl('{a}-{b}', a=1, b=2) == '1-2'\n\n\ndef test_welcome():\n    assert welcome('Ann') == 'Hi Ann, welcome!'\n",
     "m.render_template('{x}!', x=3) == '3!' and u.welcome('Bo') == 'Hi Bo, welcome!'"),
]


def _l3_rename(rng: random.Random) -> TaskDraft:
    old, new, kind, mod, definition, user, user_code, tests, behaviour = pick(rng, _PROJECT_RENAMES)
    tdir = pick(rng, ["tests", "test"])
    files = {f"{mod}.py": definition, f"{user}.py": user_code, f"{tdir}/test_{mod}.py": tests}
    prose = pick(rng, [
        f"Rename the {kind} `{old}` ({mod}.py) to `{new}` across the whole project: the definition, {user}.py and the tests in {tdir}/. Do not leave an alias behind; the tests must still pass.",
        f"`{old}` is too cryptic. Please call it `{new}` everywhere it appears ({mod}.py, {user}.py, {tdir}/test_{mod}.py) and make sure `python -m pytest -q` is still green.",
        f"Project-wide rename: {kind} {old} -> {new}. Several modules import it; update every import and use, keep behaviour, run the test suite.",
    ])
    check = PRELUDE + dd(f'''
        import ast, pathlib, subprocess
        import {mod} as m
        import {user} as u
        assert hasattr(m, {new!r}), "{mod}.{new} missing"
        assert not hasattr(m, {old!r}), "old name {old} still defined"
        assert {behaviour}
        for path in pathlib.Path(".").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Name):
                    names.append(node.id)
                elif isinstance(node, ast.Attribute):
                    names.append(node.attr)
                elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                    names.append(node.name)
                elif isinstance(node, ast.alias):
                    names.extend([node.name, node.asname or ""])
                assert {old!r} not in names, f"{{path}} still refers to {old}"
        src = pathlib.Path({f"{tdir}/test_{mod}.py"!r}).read_text()
        assert {new!r} in src and src.count("def test_") >= 2, "tests not updated or removed"
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", {tdir!r}], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        print("ok")
    ''')
    steps = [run(f"grep -rn '{old}' --include='*.py' .", "Find every use."),
             run(f"sed -i 's/\\b{old}\\b/{new}/g' {mod}.py {user}.py {tdir}/test_{mod}.py && python -m pytest -q", "Replace the whole word everywhere and run the tests."),
             submit(f"Renamed {old} to {new} in {mod}.py, {user}.py and the tests; they pass.")]
    return draft(prose, files, check, steps, ["python", "rename", "multi-file"])


_EXTRACTS = [
    dict(path="catalog_fmt.py", helper="normalize_sku", hparams="raw",
         funcs=[("add_product", "raw, name", "{'sku': @H@, 'name': name}"), ("find_product", "products, raw", "next((p for p in products if p['sku'] == @H@), None)")],
         dup="raw.strip().upper().replace(' ', '-')",
         samples={"add_product": [(" ab 12 ", "Lamp"), ("x", "Y")], "find_product": [([{"sku": "AB-12"}], "ab 12"), ([], "q")]},
         hsamples=[(" ab 12 ",), ("c d e",)], what="SKU clean-up (strip, upper case, spaces to dashes)"),
    dict(path="time_fmt.py", helper="format_duration", hparams="seconds",
         funcs=[("track_label", "title, seconds", "title + ' (' + @H@ + ')'"), ("playlist_footer", "seconds", "'Total: ' + @H@")],
         dup="f'{seconds // 60}:{seconds % 60:02d}'",
         samples={"track_label": [("Song", 185), ("Intro", 9)], "playlist_footer": [(3600,), (61,)]},
         hsamples=[(0,), (59,), (125,)], what="M:SS formatting of a number of seconds"),
    dict(path="percent_fmt.py", helper="clamp_percent", hparams="value",
         funcs=[("set_volume", "value", "{'volume': @H@}"), ("set_brightness", "device, value", "{'device': device, 'brightness': @H@}")],
         dup="max(0, min(100, int(round(value))))",
         samples={"set_volume": [(50.4,), (-3,), (140,)], "set_brightness": [("tv", 99.6), ("lamp", 101)]},
         hsamples=[(-1,), (55.5,), (1000,)], what="clamping to a whole percent between 0 and 100"),
    dict(path="usernames.py", helper="clean_username", hparams="name",
         funcs=[("register", "name, email", "{'user': @H@, 'email': email}"), ("login_key", "name", "'session:' + @H@")],
         dup="'_'.join(name.lower().split())",
         samples={"register": [("Ann  Lee", "a@x"), ("BO", "b@y")], "login_key": [(" Mary Ann ",)]},
         hsamples=[("A B",), ("single",)], what="username normalisation (lower case, whitespace runs to one underscore)"),
]


def _l3_extract(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _EXTRACTS)
    path, helper, hp, dup = spec["path"], spec["helper"], spec["hparams"], spec["dup"]
    body = ""
    for name, params, expr in spec["funcs"]:
        body += f"def {name}({params}):\n    return {expr.replace('@H@', dup)}\n\n\n"
    src = body.rstrip() + "\n"
    new = f"def {helper}({hp}):\n    return {dup}\n\n\n"
    for name, params, expr in spec["funcs"]:
        new += f"def {name}({params}):\n    return {expr.replace('@H@', f'{helper}({hp})')}\n\n\n"
    new = new.rstrip() + "\n"
    names = [f[0] for f in spec["funcs"]]
    prose = pick(rng, [
        f"{names[0]} and {names[1]} in {path} both repeat the same {spec['what']}. Move it into one function {helper}({hp}) and call it from both places. Behaviour must not change.",
        f"Deduplicate {path}: the expression `{dup}` appears twice. Introduce a top-level {helper}({hp}) that returns it, use the helper in {names[0]} and {names[1]}, and try the module out.",
        f"Extract function refactoring in {path}: pull the {spec['what']} out into {helper}(), so that there is a single copy of that logic, used by both callers.",
    ])
    calls = [(n, n, spec["samples"][n]) for n in names]
    ns: dict = {}
    exec(new, ns)
    hcases = [(a, ns[helper](*a)) for a in spec["hsamples"]]
    check = PRELUDE + _equiv(path[:-3], src, calls) + dd(f'''
        for args, want in {hcases!r}:
            assert m.{helper}(*args) == want, (args, m.{helper}(*args))
        assert {helper!r} in _FUNCS, "no top-level {helper}"
        for name in {names!r}:
            calls = {{n.func.id for n in ast.walk(_FUNCS[name]) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}}
            assert {helper!r} in calls, f"{{name}} does not call {helper}"
        dump = [ast.dump(n) for n in ast.walk(_TREE) if isinstance(n, ast.expr)]
        dup = ast.dump(ast.parse({dup!r}, mode="eval").body)
        assert dump.count(dup) <= 1, "the logic is still duplicated"
        print("ok")
    ''')
    demo = f"python -c \"import {path[:-3]} as m; print(m.{helper}(*{spec['hsamples'][0]!r}), m.{names[0]}(*{spec['samples'][names[0]][0]!r}))\""
    steps = [read(path), write(path, new, f"Introduce {helper} and call it from both."), run(demo, "Try it."),
             submit(f"Extracted {helper}() in {path}; {names[0]} and {names[1]} use it.")]
    return draft(prose, {path: src}, check, steps, ["python", "extract-function", "duplication"])


_MAGIC = [
    dict(path="subscription.py", func="monthly_charge", params="seats, annual",
         consts=[("SEAT_PRICE", "12"), ("ANNUAL_DISCOUNT", "0.15"), ("MIN_SEATS", "3")],
         body="seats = max(seats, @MIN_SEATS@)\nprice = seats * @SEAT_PRICE@\nif annual:\n    price *= 1 - @ANNUAL_DISCOUNT@\nreturn round(price, 2)",
         samples=[(1, False), (3, True), (10, False), (7, True)]),
    dict(path="parking_fees.py", func="fee", params="minutes",
         consts=[("FREE_MINUTES", "15"), ("HOURLY_RATE", "2.5"), ("DAILY_CAP", "18")],
         body="if minutes <= @FREE_MINUTES@:\n    return 0\nhours = -(-minutes // 60)\nreturn min(hours * @HOURLY_RATE@, @DAILY_CAP@)",
         samples=[(10,), (15,), (16,), (61,), (600,)]),
    dict(path="late_fees.py", func="late_fee", params="days_late",
         consts=[("GRACE_DAYS", "3"), ("FEE_PER_DAY", "0.25"), ("MAX_FEE", "5")],
         body="if days_late <= @GRACE_DAYS@:\n    return 0\nreturn min((days_late - @GRACE_DAYS@) * @FEE_PER_DAY@, @MAX_FEE@)",
         samples=[(0,), (3,), (4,), (10,), (100,)]),
    dict(path="bonus.py", func="bonus", params="sales",
         consts=[("TARGET", "10000"), ("BONUS_RATE", "0.05"), ("TOP_BONUS", "2000")],
         body="if sales < @TARGET@:\n    return 0\nreturn min((sales - @TARGET@) * @BONUS_RATE@, @TOP_BONUS@)",
         samples=[(5000,), (10000,), (15000,), (90000,)]),
]


def _l3_magic(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _MAGIC)
    path, func, params, consts = spec["path"], spec["func"], spec["params"], spec["consts"]
    ind = lambda code: "\n".join("    " + l for l in code.splitlines())
    raw = spec["body"]
    named = raw
    for name, value in consts:
        raw = raw.replace(f"@{name}@", value)
        named = named.replace(f"@{name}@", name)
    src = f"def {func}({params}):\n{ind(raw)}\n"
    new = "".join(f"{n} = {v}\n" for n, v in consts) + f"\n\ndef {func}({params}):\n{ind(named)}\n"
    cnames = [n for n, _ in consts]
    prose = pick(rng, [
        f"{func}() in {path} is full of magic numbers. Define module-level constants {', '.join(cnames)} at the top of the file with the current values and use them in the function. The results must not change.",
        f"Replace the literals {', '.join(v for _, v in consts)} in {path} by named constants ({', '.join(cnames)}), so that the business rules can be changed in one place. Check that {func} behaves as before.",
        f"Refactor {path}: every tunable number in {func} should become a constant at module level. Use these names: {', '.join(cnames)}. Same behaviour, and changing a constant must change the result.",
    ])
    values = {n: v for n, v in consts}
    alt = {n: (float(v) * 2 if "." in v else int(v) * 2) for n, v in consts}
    alt_src = f"def {func}({params}):\n{ind(named)}\n"
    check = PRELUDE + _equiv(path[:-3], src, [(func, func, spec["samples"])]) + dd(f'''
        for name, value in {values!r}.items():
            assert getattr(m, name, None) == eval(value), f"constant {{name}} missing or not {{value}}"
        fn = _FUNCS[{func!r}]
        nums = [n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and type(n.value) in (int, float)]
        assert not [v for v in nums if v not in (0, 1, -1, 60, 2)], f"numeric literals left in {func}: {{nums}}"
        ALT = {alt!r}
        for name, value in ALT.items():
            setattr(m, name, value)
        ref = dict(ALT)
        exec({alt_src!r}, ref)
        for args in {spec["samples"]!r}:
            assert m.{func}(*args) == ref[{func!r}](*args), ("constants not used", args)
        print("ok")
    ''')
    steps = [read(path), write(path, new, "Name each number at the top and use the names."),
             run(f"python -c \"import {path[:-3]} as m; print([m.{func}(*a) for a in {spec['samples']!r}])\"", "Same results as before?"),
             submit(f"Added {', '.join(cnames)} to {path} and used them in {func}.")]
    return draft(prose, {path: src}, check, steps, ["python", "magic-numbers", "constants"])


_MOVES = [
    ("views.py", "slugify", "text", 'import re\n\n\ndef slugify(text):\n    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")\n',
     'def page_url(title):\n    return "/pages/" + slugify(title)\n', "page_url", "text_utils.py", [("Hello World!",), ("  A--b ",)], "/pages/hello-world"),
    ("reports.py", "percent", "part, whole", 'def percent(part, whole):\n    return 0.0 if whole == 0 else round(100 * part / whole, 1)\n',
     'def share_line(name, part, whole):\n    return f"{name}: {percent(part, whole)}%"\n', "share_line", "mathutil.py", [(1, 3), (0, 0), (5, 5)], None),
    ("orders_api.py", "parse_money", "text", 'def parse_money(text):\n    return round(float(text.replace("$", "").replace(",", "")), 2)\n',
     'def order_total(lines):\n    return round(sum(parse_money(x) for x in lines), 2)\n', "order_total", "money.py", [("$1,200.50",), ("3",)], None),
]


def _l3_move(rng: random.Random) -> TaskDraft:
    path, func, params, func_src, caller_src, caller, target, samples, _ = pick(rng, _MOVES)
    src = func_src + "\n\n" + caller_src
    tests = f"from {path[:-3]} import {caller}\n\n\ndef test_{caller}_runs():\n    assert {caller}" + {
        "page_url": "('A b') == '/pages/a-b'\n", "share_line": "('x', 1, 4) == 'x: 25.0%'\n", "order_total": "(['$1', '2.50']) == 3.5\n"}[caller]
    files = {path: src, "tests/test_app.py": tests}
    helper_name = func
    prose = pick(rng, [
        f"{func}() lives in {path} but is a general helper. Move it into a new module {target} and have {path} import it from there ({path} must no longer define it). Tests in tests/ must keep passing.",
        f"Please move {func} out of {path} into {target}. {caller}() should keep working by importing {func} from {target}; no second copy of the function anywhere. Run the tests.",
        f"Reorganise: create {target} containing {func}({params}) (moved, not copied, from {path}), update the import in {path}, and confirm with pytest that nothing broke.",
    ])
    ns: dict = {}
    exec(func_src, ns)
    cases = [(a, ns[func](*a)) for a in samples]
    mod = target[:-3]
    check = PRELUDE + dd(f'''
        import ast, pathlib, subprocess
        import {mod}
        for args, want in {cases!r}:
            assert {mod}.{func}(*args) == want, (args, {mod}.{func}(*args))
        tree = ast.parse(pathlib.Path({path!r}).read_text())
        assert not any(isinstance(n, ast.FunctionDef) and n.name == {func!r} for n in ast.walk(tree)), "{path} still defines {func}"
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == {mod!r}]
        plain = [n for n in ast.walk(tree) if isinstance(n, ast.Import) and any(a.name == {mod!r} for a in n.names)]
        assert imports or plain, "{path} does not import from {mod}"
        defs = [p for p in pathlib.Path(".").rglob("*.py") if any(isinstance(n, ast.FunctionDef) and n.name == {func!r} for n in ast.walk(ast.parse(p.read_text())))]
        assert [str(p) for p in defs] == [{target!r}], f"{func} defined in {{defs}}"
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        print("ok")
    ''')
    imports_needed = "import re\n\n\n" if "re.sub" in func_src else ""
    new_target = func_src
    new_app = f"from {mod} import {func}\n\n\n" + caller_src
    steps = [read(path), write(target, new_target, f"Create {target} with the function."),
             write(path, new_app, f"Remove it from {path} and import it instead."),
             run("python -m pytest -q"), submit(f"Moved {func} to {target}; {path} imports it.")]
    del imports_needed, helper_name
    return draft(prose, files, check, steps, ["python", "move", "multi-file"])


_SCENARIOS = {
    1: [_l1_rename, _l1_constant, _l1_imports],
    2: [_l2_loop, _l2_enumerate, _l2_lookup, _l2_fstring],
    3: [_l3_rename, _l3_extract, _l3_magic, _l3_move],
}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return pick(rng, _SCENARIOS[level])(rng)
