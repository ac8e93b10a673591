"""implement-function: write a function from a specification. Level 1 creates a new module with one small
function, level 2 fills in a stub and runs the script, level 3 implements a function or class with several
rules (validation, edge cases) and tries it."""

from __future__ import annotations

import random

from lab.generators import TaskDraft
from lab.generators.families._code import PRELUDE, dd, draft, edit, pick, read, run, submit, write

FAMILY = "implement-function"
LEVELS = (1, 2, 3)


def _cases_check(module: str, func: str, cases: list) -> str:
    return PRELUDE + dd(f'''
        import math
        from {module} import {func}
        def same(a, b):
            if isinstance(a, float) or isinstance(b, float):
                return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            return a == b
        for args, want in {cases!r}:
            got = {func}(*args)
            assert same(got, want), (args, got, want)
        print("ok")
    ''')


# ---------------------------------------------------------------- level 1: one new module, one function

_L1 = [
    # file, function, params, body, what it returns, example args
    ("temperature.py", 'the weather widget', "celsius_to_fahrenheit", "celsius", "return celsius * 9 / 5 + 32", "the temperature in Fahrenheit (multiply by 9/5, add 32)", [(0,), (100,), (-40,), (36.6,)]),
    ("speed.py", 'the cycling computer', "kmh_to_ms", "kmh", "return kmh / 3.6", "the speed in metres per second (divide by 3.6)", [(36,), (0,), (100,)]),
    ("shouting.py", "the chat bot's alert messages", "shout", "text", 'return text.upper() + "!"', "the text in upper case followed by one exclamation mark", [("hi",), ("Stop",), ("",)]),
    ("listtools.py", 'the undo history', "last_item", "items", "return items[-1]", "the final element of a non-empty list", [([1, 2, 3],), (["a"],), ([[0], [9]],)]),
    ("parity.py", 'the table striping code', "is_even", "n", "return n % 2 == 0", "True when the integer n is even and False otherwise", [(4,), (7,), (0,), (-3,), (-10,)]),
    ("vat.py", 'the invoicing screen', "gross_price", "net, rate", "return net * (1 + rate)", "the net price plus tax at `rate` (0.2 means 20 percent)", [(100, 0.2), (50, 0), (10, 0.07)]),
    ("hours.py", 'the timesheet app', "minutes_to_hours", "minutes", "return minutes / 60", "the number of hours as a float", [(90,), (60,), (0,), (45,)]),
    ("mail.py", 'the staff directory', "email_for", "user, domain", 'return f"{user}@{domain}"', "the address user@domain", [("ana", "example.org"), ("bo.li", "mail.net")]),
    ("triple.py", "the judges' score panel", "mean_of_three", "a, b, c", "return (a + b + c) / 3", "the average of the three numbers", [(1, 2, 3), (0, 0, 9), (2.5, 2.5, 2.5)]),
    ("ranges.py", 'the form validation', "is_between", "x, low, high", "return low <= x <= high", "whether x lies in the closed interval from low to high", [(5, 1, 10), (1, 1, 10), (10, 1, 10), (0, 1, 10), (11, 1, 10)]),
    ("orderline.py", 'the shopping basket', "line_total", "quantity, unit_price", "return quantity * unit_price", "quantity times unit price", [(3, 2.5), (0, 9.99), (12, 1)]),
    ("wordcount.py", 'the essay editor', "word_count", "text", "return len(text.split())", "how many whitespace-separated words the text has", [("one two three",), ("",), ("  spaced   out  ",)]),
    ("signs.py", 'the stock ticker arrows', "sign", "x", "return (x > 0) - (x < 0)", "1 for a positive number, -1 for a negative one and 0 for zero", [(5,), (-2.5,), (0,)]),
    ("grid.py", 'the tile-map game', "cell_index", "row, col, width", "return row * width + col", "the position of cell (row, col) in a row-major grid `width` cells wide", [(0, 0, 5), (2, 3, 5), (1, 0, 8)]),
    ("adults.py", 'the cinema ticket checkout', "is_adult", "age", "return age >= 18", "True for an age of 18 or more", [(18,), (17,), (40,), (0,)]),
    ("squares.py", 'the physics homework helper', "sum_of_squares", "numbers", "return sum(n * n for n in numbers)", "the sum of the squares of the numbers in the list", [([1, 2, 3],), ([],), ([-2],)]),
    ("dice.py", "the board game", "roll_total", "rolls", "return sum(rolls) + (10 if len(rolls) > 1 and len(set(rolls)) == 1 else 0)", "the sum of the dice, plus a bonus of 10 when there are at least two dice and all show the same number", [([3, 3],), ([1, 2, 6],), ([5],)]),
    ("boxes.py", "the parcel packing calculator", "box_volume", "length, width, height", "return length * width * height", "the volume of a box with those three edge lengths", [(2, 3, 4), (0.5, 2, 10), (1, 1, 0)]),
    ("initials_util.py", "the avatar badges", "initial_letters", "name", 'return "".join(p[0].upper() for p in name.split())', "the upper-case first letter of each word of the name", [("ada lovelace",), ("Grace",)]),
    ("fuel_use.py", "the car trip planner", "litres_per_100km", "litres, km", "return litres / km * 100", "the fuel consumption in litres per 100 km", [(6, 100), (45, 600)]),
    ("leap.py", "the calendar widget", "is_leap_year", "year", "return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)", "whether the year is a Gregorian leap year", [(2024,), (1900,), (2000,), (2023,)]),
    ("pixels.py", "the image resizer", "scaled_height", "width, height, new_width", "return round(height * new_width / width)", "the height that keeps the aspect ratio when the width becomes new_width, rounded to a whole pixel", [(1920, 1080, 1280), (100, 50, 33)]),
    ("passwords_min.py", "the sign-up form", "long_enough", "password", "return len(password) >= 12", "True if the password has at least 12 characters", [("short",), ("exactly12chr",), ("a much longer passphrase",)]),
    ("discounts.py", "the loyalty programme", "points_for", "amount", "return int(amount // 10)", "one loyalty point per full 10 spent", [(99.9,), (10,), (5,), (250,)]),
]


def _l1(rng: random.Random) -> TaskDraft:
    path, ctx, func, params, body, what, samples = pick(rng, _L1)
    src = f"def {func}({params}):\n    {body}\n"
    env: dict = {}
    exec(src, env)
    cases = [(a, env[func](*a)) for a in samples]
    ex_args, ex_want = cases[0]
    ex = f"{func}({', '.join(map(repr, ex_args))}) == {ex_want!r}"
    sig = f"{func}({params})"
    prose = pick(rng, [
        f"Create {path} with a function {sig} that returns {what}.",
        f"For {ctx} I need a new module {path}. Define {sig} in it; the function returns {what}. Nothing else has to change.",
        f"Write {sig} in a new file called {path}. It should return {what}, so for instance {ex}.",
        f"Please add a file {path} containing one function, {func}, which takes {params} and gives back {what}. It is for {ctx}.",
        f"New helper wanted for {ctx}: {path} -> {sig}. Expected: {ex}.",
        f"{ctx[0].upper() + ctx[1:]} needs {func}(). Put it in a new {path}: given {params}, return {what}.",
    ])
    check = _cases_check(path[:-3], func, cases)
    steps = [write(path, src, "Write the new module with the function."), submit(f"Created {path} with {sig}.")]
    return draft(prose, {}, check, steps, ["python", "new-file"])


# ---------------------------------------------------------------- level 2: fill in a stub, run the script

_L2 = [
    dict(path="prices.py", ctx="the price-history chart", func="percent_change", params="old, new",
         doc="Change from old to new in percent, rounded to one decimal.", body="return round((new - old) / old * 100, 1)",
         demo=[(80, 100), (50, 25)], cases=[((80, 100), 25.0), ((50, 25), -50.0), ((3, 4), 33.3), ((10, 10), 0.0)]),
    dict(path="stats.py", ctx="the lab results page", func="median", params="values",
         doc="The middle value of a non-empty list; the mean of the two middle values when the length is even.",
         body="s = sorted(values)\nmid = len(s) // 2\nreturn s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2",
         demo=[([3, 1, 2],), ([4, 1, 3, 2],)], cases=[(([3, 1, 2],), 2), (([4, 1, 3, 2],), 2.5), (([7],), 7), (([5, 5, 1, 9],), 5.0)]),
    dict(path="dedupe.py", ctx="the mailing-list importer", func="unique_in_order", params="items",
         doc="The items without repeats, keeping the order in which each first appears.",
         body="seen = []\nfor item in items:\n    if item not in seen:\n        seen.append(item)\nreturn seen",
         demo=[(["b", "a", "b", "c", "a"],)], cases=[((["b", "a", "b", "c", "a"],), ["b", "a", "c"]), (([],), []), (([1, 1, 1],), [1])]),
    dict(path="anagrams.py", ctx="the word-puzzle app", func="is_anagram", params="a, b",
         doc="True when a and b use the same letters the same number of times, ignoring case and spaces.",
         body='clean = lambda s: sorted(s.replace(" ", "").lower())\nreturn clean(a) == clean(b)',
         demo=[("Listen", "Silent"), ("abc", "abd")], cases=[(("Listen", "Silent"), True), (("abc", "abd"), False), (("Dormitory", "dirty room"), True), (("aab", "ab"), False)]),
    dict(path="fizz.py", ctx="the classroom counting game", func="fizzbuzz", params="n",
         doc="'Fizz' for multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for both, otherwise the number as a string.",
         body='if n % 15 == 0:\n    return "FizzBuzz"\nif n % 3 == 0:\n    return "Fizz"\nif n % 5 == 0:\n    return "Buzz"\nreturn str(n)',
         demo=[(3,), (10,), (30,), (7,)], cases=[((3,), "Fizz"), ((10,), "Buzz"), ((30,), "FizzBuzz"), ((7,), "7"), ((0,), "FizzBuzz")]),
    dict(path="safe_math.py", ctx="the spreadsheet formula engine", func="safe_divide", params="a, b, default=0",
         doc="a / b, or `default` when b is zero.", body="return default if b == 0 else a / b",
         demo=[(10, 4), (1, 0)], cases=[((10, 4), 2.5), ((1, 0), 0), ((1, 0, None), None), ((-9, 3), -3.0)]),
    dict(path="digits.py", ctx="the checksum tool", func="digit_sum", params="n",
         doc="Sum of the decimal digits of an integer (the sign is ignored).", body="return sum(int(d) for d in str(abs(n)))",
         demo=[(1234,), (-907,)], cases=[((1234,), 10), ((-907,), 16), ((0,), 0), ((5,), 5)]),
    dict(path="podium.py", ctx="the race results board", func="second_largest", params="numbers",
         doc="The second-highest distinct value, or None when there are fewer than two distinct values.",
         body="distinct = sorted(set(numbers))\nreturn distinct[-2] if len(distinct) >= 2 else None",
         demo=[([4, 9, 9, 2],), ([5, 5],)], cases=[(([4, 9, 9, 2],), 4), (([5, 5],), None), (([],), None), (([-1, -7],), -7)]),
    dict(path="snippets.py", ctx="the search results preview", func="truncate", params="text, limit",
         doc="The text unchanged if it has at most `limit` characters, otherwise its first limit-3 characters plus '...'.",
         body='return text if len(text) <= limit else text[:limit - 3] + "..."',
         demo=[("Hello world", 8), ("short", 10)], cases=[(("Hello world", 8), "Hello..."), (("short", 10), "short"), (("abcdef", 6), "abcdef"), (("abcdefg", 6), "abc...")]),
    dict(path="colors.py", ctx="the theme editor", func="rgb_to_hex", params="r, g, b",
         doc="The colour as '#RRGGBB' with upper-case hex digits.", body='return f"#{r:02X}{g:02X}{b:02X}"',
         demo=[(255, 128, 0), (0, 0, 0)], cases=[((255, 128, 0), "#FF8000"), ((0, 0, 0), "#000000"), ((17, 34, 51), "#112233")]),
    dict(path="elapsed.py", ctx="the video player", func="duration_label", params="seconds",
         doc="A duration like '2m 05s' (minutes, then seconds padded to two digits).", body='return f"{seconds // 60}m {seconds % 60:02d}s"',
         demo=[(125,), (59,)], cases=[((125,), "2m 05s"), ((59,), "0m 59s"), ((600,), "10m 00s")]),
    dict(path="ledger.py", ctx="the bank statement view", func="running_total", params="amounts",
         doc="The cumulative sums of the amounts, one per entry.", body="out, total = [], 0\nfor a in amounts:\n    total += a\n    out.append(total)\nreturn out",
         demo=[([5, -2, 10],)], cases=[(([5, -2, 10],), [5, 3, 13]), (([],), []), (([1.5, 1.5],), [1.5, 3.0])]),
    dict(path="privacy.py", ctx="the account settings page", func="mask_email", params="address",
         doc="The address with everything but the first character of the local part replaced by '*', e.g. 'ana@x.org' -> 'a**@x.org'.",
         body='local, _, domain = address.partition("@")\nreturn local[0] + "*" * (len(local) - 1) + "@" + domain',
         demo=[("ana@x.org",), ("bob.smith@mail.com",)], cases=[(("ana@x.org",), "a**@x.org"), (("bob.smith@mail.com",), "b********@mail.com"), (("z@q.io",), "z@q.io")]),
    dict(path="titles.py", ctx="the blog editor", func="headline", params="text",
         doc="Each word capitalised (first letter upper case, the rest lower case), words separated by single spaces.",
         body='return " ".join(w[:1].upper() + w[1:].lower() for w in text.split())',
         demo=[("the QUICK  brown fox",)], cases=[(("the QUICK  brown fox",), "The Quick Brown Fox"), (("",), ""), (("a",), "A")]),
    dict(path="chunks.py", ctx="the SMS sender", func="split_message", params="text, size",
         doc="The text cut into consecutive pieces of at most `size` characters.", body="return [text[i:i + size] for i in range(0, len(text), size)]",
         demo=[("abcdefgh", 3)], cases=[(("abcdefgh", 3), ["abc", "def", "gh"]), (("", 4), []), (("abcd", 4), ["abcd"])]),
    dict(path="votes.py", ctx="the poll widget", func="winner", params="ballots",
         doc="The option named on most ballots; on a tie, the alphabetically first of the tied options.",
         body="counts = {}\nfor b in ballots:\n    counts[b] = counts.get(b, 0) + 1\nreturn min(counts, key=lambda k: (-counts[k], k))",
         demo=[(["tea", "coffee", "tea"],), (["b", "a"],)], cases=[((["tea", "coffee", "tea"],), "tea"), ((["b", "a"],), "a"), ((["x"],), "x"), ((["q", "p", "q", "p", "r"],), "p")]),
]


def _l2(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _L2)
    path, func, params, ctx = spec["path"], spec["func"], spec["params"], spec["ctx"]
    demo = "\n".join(f"    print({func}({', '.join(map(repr, a))}))" for a in spec["demo"])
    stub = f'def {func}({params}):\n    """{spec["doc"]}"""\n    raise NotImplementedError\n\n\nif __name__ == "__main__":\n{demo}\n'
    body = "\n".join("    " + line for line in spec["body"].splitlines())
    doc = spec["doc"][0].lower() + spec["doc"][1:].rstrip(".")
    prose = pick(rng, [
        f"{func}() in {path} is still a stub. Implement it: it returns {doc}. Then run python {path}.",
        f"For {ctx} we need {func}({params}) in {path}. Replace the NotImplementedError with a real implementation (see the docstring) and run the file to see what it prints.",
        f"Fill in {path}: {func} should give {doc}. Afterwards execute `python {path}` and tell me the output.",
        f"{ctx[0].upper() + ctx[1:]} crashes with NotImplementedError because {func} in {path} was never written. Write it according to its docstring, then run the script.",
        f"Please implement the body of {func}({params}) ({path}); the spec is in the docstring. Check your work by running python {path}.",
    ])
    env: dict = {}
    exec(stub.replace("    raise NotImplementedError\n", body + "\n").split("if __name__")[0], env)
    printed = ", ".join(repr(env[func](*a)) for a in spec["demo"])
    check = _cases_check(path[:-3], func, spec["cases"])
    steps = [read(path, "Read the stub and its docstring."),
             edit(path, "    raise NotImplementedError\n", body + "\n", "Implement it as described."),
             run(f"python {path}"), submit(f"Implemented {func}() in {path}; python {path} prints {printed}.")]
    return draft(prose, {path: stub}, check, steps, ["python", "stub"])


# ---------------------------------------------------------------- level 3: several rules, validation

# Each: files (initial), the rules (prose), the reference code per file, a checker body, a try-it command.
def _l3_luhn(rng):
    path, func = pick(rng, [("cards.py", "luhn_valid"), ("payments.py", "is_valid_card"), ("checkout.py", "card_number_ok")])
    stub = f'def {func}(number):\n    """Luhn check of a card number given as a string."""\n    raise NotImplementedError\n'
    code = dd(f'''
        def {func}(number):
            """Luhn check of a card number given as a string."""
            digits = number.replace(" ", "").replace("-", "")
            if len(digits) < 2 or not (digits.isdigit() and digits.isascii()):
                return False
            total = 0
            for i, ch in enumerate(reversed(digits)):
                d = int(ch)
                if i % 2 == 1:
                    d *= 2
                    if d > 9:
                        d -= 9
                total += d
            return total % 10 == 0
    ''')
    rules = pick(rng, [
        f"Implement {func}(number) in {path} with the Luhn algorithm. Spaces and dashes in the string are ignored. "
        "From the rightmost digit, double every second digit (subtract 9 when the result exceeds 9), add everything up; "
        "the number is valid when the sum is a multiple of 10. Return False (never raise) for anything with other characters "
        "or fewer than two digits.",
        f"Our checkout must reject mistyped card numbers before calling the bank. Write {func}() in {path}: True if the number "
        "passes the Luhn checksum, False otherwise. Accept '4539 1488 0343 6467' and '4539-1488-0343-6467' alike; letters, "
        "an empty string or a single digit are simply invalid (False, no exception).",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as f
        good = ["4539 1488 0343 6467", "4539-1488-0343-6467", "79927398713", "0000 0000 0000 0000", "18", "059"]
        bad = ["4539 1488 0343 6468", "79927398710", "", "7", "1234a", "12.3", "4539 1488 0343 646x", "١٢"]
        for n in good:
            assert f(n) is True, n
        for n in bad:
            assert f(n) is False, n
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as f; print(f('79927398713'), f('79927398710'), f('12a'))\""


def _l3_query(rng):
    path, func = pick(rng, [("urls.py", "parse_query"), ("webutil.py", "query_params"), ("router.py", "split_query")])
    stub = f'def {func}(query):\n    """Parse a URL query string into a dict of lists."""\n    raise NotImplementedError\n'
    code = dd(f'''
        from urllib.parse import unquote_plus


        def {func}(query):
            """Parse a URL query string into a dict of lists."""
            query = query[1:] if query.startswith("?") else query
            out = {{}}
            for part in query.split("&"):
                if not part:
                    continue
                key, _, value = part.partition("=")
                out.setdefault(unquote_plus(key), []).append(unquote_plus(value))
            return out
    ''')
    rules = pick(rng, [
        f"Write {func}(query) in {path}. It parses strings like \"?a=1&b=two&a=3\" into {{'a': ['1', '3'], 'b': ['two']}}: "
        "one leading '?' is optional, values of a repeated key are collected in order, a key without '=' gets the value '', "
        "empty pieces (\"a=1&&b=2\") are skipped, '+' means a space and %XX escapes are decoded. An empty query gives {}.",
        f"The router needs {func}() ({path}) to turn the part of a URL after '?' into a dict mapping each key to the list of "
        "its values. Rules: keys can repeat (keep every value, in order); 'flag' on its own means flag=''; skip empty "
        "segments between '&'; decode '+' to space and percent escapes like %2F. A leading '?' may or may not be there.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as p
        assert p("?a=1&b=two&a=3") == {{"a": ["1", "3"], "b": ["two"]}}
        assert p("a=1&b=two&a=3") == {{"a": ["1", "3"], "b": ["two"]}}
        assert p("") == {{}} and p("?") == {{}}
        assert p("flag&x=1") == {{"flag": [""], "x": ["1"]}}
        assert p("a=1&&b=2&") == {{"a": ["1"], "b": ["2"]}}
        assert p("q=hello+world&path=%2Fhome%2Fme") == {{"q": ["hello world"], "path": ["/home/me"]}}
        assert p("k=a=b") == {{"k": ["a=b"]}}
        assert p("e=") == {{"e": [""]}}
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as p; print(p('?a=1&b=two+x&a=3&flag'))\""


def _l3_snake(rng):
    path, func = pick(rng, [("naming.py", "camel_to_snake"), ("codegen.py", "to_snake_case"), ("identifiers.py", "snake")])
    stub = f'def {func}(name):\n    """camelCase / PascalCase -> snake_case."""\n    raise NotImplementedError\n'
    code = dd(f'''
        def {func}(name):
            """camelCase / PascalCase -> snake_case."""
            out = []
            for i, ch in enumerate(name):
                if ch.isupper() and i > 0:
                    prev = name[i - 1]
                    nxt = name[i + 1] if i + 1 < len(name) else ""
                    if prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()):
                        out.append("_")
                out.append(ch.lower())
            return "".join(out)
    ''')
    rules = pick(rng, [
        f"Implement {func}(name) in {path}: convert camelCase or PascalCase identifiers to snake_case. An underscore goes "
        "before an upper-case letter that follows a lower-case letter or a digit, and before the last capital of an acronym "
        "when a lower-case letter follows it (\"parseHTTPResponse\" -> \"parse_http_response\", \"HTMLParser\" -> "
        "\"html_parser\"). Everything is lower-cased; names already in snake_case come back unchanged.",
        f"Our code generator emits Python attribute names from JSON keys. Write {func}() in {path} so that \"userId\" gives "
        "\"user_id\", \"XMLHttpRequest\" gives \"xml_http_request\", \"version2Beta\" gives \"version2_beta\" and \"already_snake\" "
        "stays as it is. Acronyms stay together and split only before the capital that starts the next word.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as s
        cases = {{"userId": "user_id", "parseHTTPResponse": "parse_http_response", "HTMLParser": "html_parser",
                 "XMLHttpRequest": "xml_http_request", "version2Beta": "version2_beta", "already_snake": "already_snake",
                 "A": "a", "": "", "getID": "get_id", "SimpleName": "simple_name", "x": "x", "ABC": "abc"}}
        for name, want in cases.items():
            assert s(name) == want, (name, s(name), want)
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as s; print(s('parseHTTPResponse'), s('userId'), s('HTMLParser'))\""


def _l3_flatten(rng):
    path, func = pick(rng, [("nested.py", "flatten"), ("trees.py", "leaves"), ("listutil.py", "flat")])
    stub = f'def {func}(items, depth=None):\n    raise NotImplementedError\n'
    code = dd(f'''
        def {func}(items, depth=None):
            out = []
            for item in items:
                if isinstance(item, (list, tuple)) and (depth is None or depth > 0):
                    out.extend({func}(item, None if depth is None else depth - 1))
                else:
                    out.append(item)
            return out
    ''')
    rules = pick(rng, [
        f"Implement {func}(items, depth=None) in {path}. It returns a new flat list of the elements of a nested structure "
        "of lists and tuples, left to right, at any depth. Strings, dicts and other values are kept as single elements. "
        "With depth=n only n levels are unpacked (depth=0 returns a plain copy as a list). The input must not be changed.",
        f"{path} needs {func}(): [1, [2, (3, [4])], 'ab'] -> [1, 2, 3, 4, 'ab']. Lists and tuples are opened however deep "
        "they go, but if a `depth` argument is passed only that many levels are opened, e.g. depth=1 gives [1, 2, (3, [4]), 'ab']. "
        "Do not modify the argument; always return a list.",
    ])
    check = PRELUDE + dd(f'''
        import copy
        from {path[:-3]} import {func} as f
        data = [1, [2, (3, [4])], "ab", {{"k": [1]}}, [], [[[]]]]
        keep = copy.deepcopy(data)
        assert f(data) == [1, 2, 3, 4, "ab", {{"k": [1]}}], f(data)
        assert data == keep
        assert f(data, depth=1) == [1, 2, (3, [4]), "ab", {{"k": [1]}}, [[]]], f(data, depth=1)
        assert f(data, depth=2) == [1, 2, 3, [4], "ab", {{"k": [1]}}, []]
        assert f(data, depth=0) == data and f(data, depth=0) is not data
        assert f([]) == [] and f((1, (2,))) == [1, 2]
        assert f(["xyz"]) == ["xyz"]
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as f; print(f([1, [2, (3, [4])], 'ab']), f([1, [2, [3]]], depth=1))\""


def _l3_ring(rng):
    path, cls = pick(rng, [("ring.py", "RingBuffer"), ("history.py", "RecentItems"), ("telemetry.py", "SampleWindow")])
    stub = f'class {cls}:\n    """Keeps only the last `capacity` items appended."""\n'
    code = dd(f'''
        class {cls}:
            """Keeps only the last `capacity` items appended."""

            def __init__(self, capacity):
                if not isinstance(capacity, int) or capacity < 1:
                    raise ValueError("capacity must be a positive integer")
                self.capacity = capacity
                self._items = []

            def append(self, item):
                self._items.append(item)
                if len(self._items) > self.capacity:
                    self._items.pop(0)

            def items(self):
                return list(self._items)

            @property
            def full(self):
                return len(self._items) == self.capacity

            def __len__(self):
                return len(self._items)
    ''')
    rules = pick(rng, [
        f"Implement the {cls} class in {path}: {cls}(capacity) raises ValueError unless capacity is a positive integer; "
        "append(item) adds an item and drops the oldest one once more than `capacity` are held; items() returns a new list "
        "oldest-first; the property `full` tells whether it holds `capacity` items; len() gives the current count.",
        f"We keep the most recent readings in a fixed-size window. Write {cls} in {path} with append(x), items() (a copy, oldest "
        f"first), len(), and a read-only-ish `full` property. {cls}(3) after appending 1..5 holds [3, 4, 5]. A capacity of 0, "
        "a negative one or a non-integer must raise ValueError.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {cls}
        r = {cls}(3)
        assert len(r) == 0 and r.items() == [] and r.full is False
        for x in (1, 2):
            r.append(x)
        assert r.items() == [1, 2] and not r.full and len(r) == 2
        for x in (3, 4, 5):
            r.append(x)
        assert r.items() == [3, 4, 5] and r.full is True and len(r) == 3
        got = r.items()
        got.append(99)
        assert r.items() == [3, 4, 5], "items() must return a copy"
        one = {cls}(1)
        one.append("a"); one.append("b")
        assert one.items() == ["b"]
        for bad in (0, -2, 2.5, "3"):
            try:
                {cls}(bad)
            except ValueError:
                continue
            sys.exit(f"capacity {{bad!r}} accepted")
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {cls}; r = {cls}(3); [r.append(i) for i in range(1, 6)]; print(r.items(), r.full, len(r))\""


def _l3_phone(rng):
    path, func = pick(rng, [("contacts.py", "normalize_phone"), ("crm.py", "format_phone"), ("signup.py", "clean_phone")])
    stub = f'def {func}(text):\n    """Normalise a North American phone number."""\n    raise NotImplementedError\n'
    code = dd(f'''
        def {func}(text):
            """Normalise a North American phone number."""
            digits = text.strip()
            if digits.startswith("+"):
                digits = digits[1:]
            for ch in " -().":
                digits = digits.replace(ch, "")
            if not (digits.isdigit() and digits.isascii()):
                raise ValueError(f"not a phone number: {{text!r}}")
            if len(digits) == 11 and digits[0] == "1":
                digits = digits[1:]
            if len(digits) != 10:
                raise ValueError(f"wrong number of digits: {{text!r}}")
            return f"({{digits[:3]}}) {{digits[3:6]}}-{{digits[6:]}}"
    ''')
    rules = pick(rng, [
        f"Write {func}(text) in {path}. Phone numbers arrive as '555-123-4567', '(555) 123 4567', '555.123.4567', "
        "'+1 555 123 4567' and so on. Remove spaces, dashes, dots and parentheses (and one leading '+'); an 11-digit number "
        "starting with 1 drops that country code. Exactly 10 digits must remain: return them as '(555) 123-4567'. Anything "
        "else (letters, too few or too many digits) raises ValueError.",
        f"The CRM stores phone numbers in one format, \"(AAA) BBB-CCCC\". Implement {func}() in {path} to produce it from user "
        "input, tolerating separators ( ) - . and spaces, an optional +1 or 1 prefix. Reject with ValueError when the rest is not "
        "exactly ten digits or contains other characters.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as n
        for text in ["555-123-4567", "(555) 123 4567", "555.123.4567", "+1 555 123 4567", "15551234567", " 5551234567 ", "1-555-123-4567"]:
            assert n(text) == "(555) 123-4567", (text, n(text))
        assert n("212 555 0000") == "(212) 555-0000"
        for bad in ["", "555-1234", "25551234567", "555-123-456a", "+44 20 7946 0958", "555_123_4567", "123456789012"]:
            try:
                n(bad)
            except ValueError:
                continue
            sys.exit(f"no ValueError for {{bad!r}}")
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as n; print(n('+1 (555) 123-4567'), n('555.123.4567')); n('123')\""


def _l3_account(rng):
    path, cls = pick(rng, [("bank.py", "Account"), ("wallet.py", "Wallet"), ("prepaid.py", "PrepaidCard")])
    stub = f'class {cls}:\n    pass\n'
    code = dd(f'''
        class {cls}:
            def __init__(self, owner, balance=0):
                if balance < 0:
                    raise ValueError("opening balance cannot be negative")
                self.owner = owner
                self.balance = balance
                self.history = []

            def deposit(self, amount):
                if amount <= 0:
                    raise ValueError("amount must be positive")
                self.balance += amount
                self.history.append(("deposit", amount))

            def withdraw(self, amount):
                if amount <= 0:
                    raise ValueError("amount must be positive")
                if amount > self.balance:
                    raise ValueError("insufficient funds")
                self.balance -= amount
                self.history.append(("withdraw", amount))
    ''')
    rules = pick(rng, [
        f"Implement {cls} in {path}: {cls}(owner, balance=0) (a negative opening balance raises ValueError) with attributes "
        "owner, balance and history (a list, initially empty). deposit(amount) and withdraw(amount) change the balance and "
        "append ('deposit', amount) or ('withdraw', amount) to history. Both raise ValueError for an amount that is not "
        "positive; withdraw also raises ValueError when the amount exceeds the balance, leaving everything unchanged.",
        f"{path} has an empty {cls} class. Give it an owner, a balance (default 0, never negative) and a history of "
        "(kind, amount) tuples. Money goes in with deposit() and out with withdraw(); zero or negative amounts, and "
        "withdrawing more than the balance, raise ValueError and are not recorded. Each instance keeps its own history.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {cls}
        a = {cls}("ana")
        assert a.owner == "ana" and a.balance == 0 and a.history == []
        a.deposit(50); a.withdraw(20); a.deposit(5)
        assert a.balance == 35 and a.history == [("deposit", 50), ("withdraw", 20), ("deposit", 5)]
        for bad in (lambda: a.withdraw(100), lambda: a.deposit(0), lambda: a.deposit(-5), lambda: a.withdraw(0)):
            try:
                bad()
            except ValueError:
                pass
            else:
                sys.exit("expected ValueError")
        assert a.balance == 35 and len(a.history) == 3
        b = {cls}("bo", 10)
        assert b.balance == 10 and b.history == []
        b.withdraw(10)
        assert b.balance == 0 and a.history[-1] == ("deposit", 5)
        try:
            {cls}("x", -1)
        except ValueError:
            pass
        else:
            sys.exit("negative opening balance accepted")
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {cls}; a = {cls}('ana', 5); a.deposit(10); a.withdraw(3); print(a.balance, a.history)\""


def _l3_size(rng):
    path, func = pick(rng, [("sizes.py", "parse_size"), ("quota.py", "to_bytes"), ("upload_limits.py", "size_in_bytes")])
    stub = f'def {func}(text):\n    raise NotImplementedError\n'
    code = dd(f'''
        import re

        _UNITS = {{"": 1, "B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}}


        def {func}(text):
            m = re.fullmatch(r"\\s*(\\d+(?:\\.\\d+)?)\\s*([A-Za-z]*)\\s*", text)
            if not m or m.group(2).upper() not in _UNITS:
                raise ValueError(f"bad size: {{text!r}}")
            return int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    ''')
    rules = pick(rng, [
        f"Implement {func}(text) in {path}: turn sizes like '512', '10KB', '1.5 MB', '2gb' into a whole number of bytes. "
        "Units B, KB, MB, GB, TB in any case, powers of 1024; no unit means bytes; spaces around the number and between "
        "number and unit are allowed; fractional sizes round down to whole bytes. Raise ValueError for a negative or "
        "missing number, unknown units, or extra text.",
        f"The upload limit is configured as text. Write {func}() in {path} returning bytes: '2KB' -> 2048, '1.5 mb' -> 1572864, "
        "'7' -> 7, ' 3 GB ' -> 3221225472 (1 KB = 1024 B, units case-insensitive, decimals truncated). '', '-1KB', '5XB', "
        "'KB' and '1 KB extra' must raise ValueError.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as p
        cases = {{"512": 512, "10KB": 10240, "1.5 MB": 1572864, "2gb": 2 * 1024 ** 3, " 3 GB ": 3 * 1024 ** 3, "7": 7,
                 "0": 0, "1b": 1, "1.5 mb": 1572864, "1tb": 1024 ** 4, "0.5KB": 512, "1.9B": 1}}
        for text, want in cases.items():
            got = p(text)
            assert got == want and isinstance(got, int), (text, got, want)
        for bad in ["", "-1KB", "5XB", "KB", "1 KB extra", "1.2.3MB", "MB5", "1,5MB"]:
            try:
                p(bad)
            except ValueError:
                continue
            sys.exit(f"no ValueError for {{bad!r}}")
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as p; print(p('10KB'), p('1.5 MB'), p('7')); p('5XB')\""


def _l3_columns(rng):
    path = pick(rng, ["sheets.py", "columns.py", "xlsx_names.py"])
    stub = dd('''
        def column_name(index):
            """1 -> 'A', 26 -> 'Z', 27 -> 'AA'."""
            raise NotImplementedError


        def column_index(name):
            """'A' -> 1, 'AA' -> 27 (the inverse of column_name)."""
            raise NotImplementedError
    ''')
    code = dd('''
        def column_name(index):
            """1 -> 'A', 26 -> 'Z', 27 -> 'AA'."""
            if not isinstance(index, int) or index < 1:
                raise ValueError("index must be a positive integer")
            letters = []
            while index:
                index, rem = divmod(index - 1, 26)
                letters.append(chr(ord("A") + rem))
            return "".join(reversed(letters))


        def column_index(name):
            """'A' -> 1, 'AA' -> 27 (the inverse of column_name)."""
            if not name or not all("A" <= ch <= "Z" for ch in name.upper()):
                raise ValueError(f"bad column name: {name!r}")
            n = 0
            for ch in name.upper():
                n = n * 26 + ord(ch) - ord("A") + 1
            return n
    ''')
    rules = pick(rng, [
        f"Implement column_name(index) and column_index(name) in {path}: spreadsheet column labels, 1 -> 'A', 26 -> 'Z', "
        "27 -> 'AA', 52 -> 'AZ', 703 -> 'AAA', and back again. column_index accepts lower case too. column_name raises "
        "ValueError for indexes below 1 (or non-integers); column_index raises ValueError for an empty name or any character "
        "that is not a letter A-Z.",
        f"Our CSV-to-Excel exporter has to label columns the spreadsheet way (A..Z, AA, AB, ...). Write both functions in "
        f"{path} so they are exact inverses for every positive index, e.g. column_index('xfd') == 16384. Invalid input "
        "(0, negative, '', 'A1', 'Ä') raises ValueError.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import column_index, column_name
        for i, s in [(1, "A"), (26, "Z"), (27, "AA"), (52, "AZ"), (53, "BA"), (702, "ZZ"), (703, "AAA"), (16384, "XFD")]:
            assert column_name(i) == s, (i, column_name(i))
            assert column_index(s) == i and column_index(s.lower()) == i, s
        for i in range(1, 3000):
            assert column_index(column_name(i)) == i
        for bad in (0, -3, 2.0):
            try:
                column_name(bad)
            except ValueError:
                continue
            sys.exit(f"column_name({{bad!r}}) accepted")
        for bad in ("", "A1", "Ä", " A", "a-b"):
            try:
                column_index(bad)
            except ValueError:
                continue
            sys.exit(f"column_index({{bad!r}}) accepted")
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import *; print(column_name(27), column_name(703), column_index('xfd'))\""


def _l3_groupby(rng):
    path, func, noun = pick(rng, [("records.py", "group_by", "records"), ("crm_report.py", "bucket_customers", "customers"),
                                  ("issues.py", "group_issues", "issues")])
    stub = f'def {func}({noun}, key):\n    raise NotImplementedError\n'
    code = dd(f'''
        def {func}({noun}, key):
            groups = {{}}
            for item in {noun}:
                value = item.get(key) if isinstance(key, str) else key(item)
                groups.setdefault(value, []).append(item)
            return groups
    ''')
    rules = pick(rng, [
        f"Implement {func}({noun}, key) in {path}. {noun} is a list of dicts. If key is a string, group the dicts by the value "
        "they have under that key (dicts without the key go under None); if key is a callable, group by key(item). Return a "
        "dict from group value to the list of items in their original order; the groups appear in order of first appearance. "
        "Don't copy or modify the dicts.",
        f"For the weekly report, {func}() in {path} must bucket a list of dict {noun}: by a field name (missing field -> None "
        "bucket) or by a function of the item. The result maps each bucket to its items, keeping the input order inside each "
        "bucket, and the buckets themselves in the order they first show up. The original dict objects go into the lists.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as g
        rows = [{{"id": 1, "team": "red"}}, {{"id": 2, "team": "blue"}}, {{"id": 3}}, {{"id": 4, "team": "red"}}]
        out = g(rows, "team")
        assert out == {{"red": [rows[0], rows[3]], "blue": [rows[1]], None: [rows[2]]}}, out
        assert list(out) == ["red", "blue", None]
        assert out["red"][0] is rows[0]
        odd = g(rows, lambda r: r["id"] % 2)
        assert odd == {{1: [rows[0], rows[2]], 0: [rows[1], rows[3]]}} and list(odd) == [1, 0]
        assert g([], "team") == {{}}
        assert rows[2] == {{"id": 3}}
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as g; print(g([{{'t': 'a'}}, {{'t': 'b'}}, {{}}, {{'t': 'a'}}], 't'))\""


def _l3_slots(rng):
    path, func = pick(rng, [("calendar_free.py", "free_slots"), ("meetings.py", "open_times"), ("clinic.py", "available_slots")])
    stub = f'def {func}(busy, day_start="09:00", day_end="17:00", length=30):\n    raise NotImplementedError\n'
    code = dd(f'''
        def _minutes(text):
            h, m = text.split(":")
            return int(h) * 60 + int(m)


        def _text(minutes):
            return f"{{minutes // 60:02d}}:{{minutes % 60:02d}}"


        def {func}(busy, day_start="09:00", day_end="17:00", length=30):
            start, end = _minutes(day_start), _minutes(day_end)
            blocks = sorted((_minutes(a), _minutes(b)) for a, b in busy)
            slots, t = [], start
            for a, b in blocks:
                if a - t >= length:
                    slots.append((_text(t), _text(min(a, end))))
                t = max(t, b)
            if end - t >= length:
                slots.append((_text(t), _text(end)))
            return [s for s in slots if _minutes(s[1]) - _minutes(s[0]) >= length]
    ''')
    rules = pick(rng, [
        f"Implement {func}(busy, day_start='09:00', day_end='17:00', length=30) in {path}. busy is a list of (start, end) "
        "'HH:MM' pairs in any order, possibly overlapping. Return the free gaps between day_start and day_end that last at "
        "least `length` minutes, as sorted ('HH:MM', 'HH:MM') tuples with two-digit hours. Busy time outside the day is ignored.",
        f"Booking page: given the busy blocks of a calendar ('10:00'-'11:30' style tuples, unsorted, may overlap), {func}() in "
        f"{path} should list the free intervals of the working day (default 09:00-17:00) that are long enough (default 30 "
        "minutes). Output is a chronological list of (start, end) strings formatted HH:MM.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as f
        assert f([]) == [("09:00", "17:00")]
        assert f([("10:00", "11:30"), ("09:00", "09:15")]) == [("09:15", "10:00"), ("11:30", "17:00")]
        assert f([("13:00", "14:00"), ("12:30", "13:30"), ("09:00", "12:10")]) == [("14:00", "17:00")]
        assert f([("13:00", "14:00"), ("12:30", "13:30"), ("09:00", "12:10")], length=20) == [("12:10", "12:30"), ("14:00", "17:00")]
        assert f([("08:00", "09:30"), ("16:45", "18:00")]) == [("09:30", "16:45")]
        assert f([("09:00", "17:00")]) == []
        assert f([("11:00", "12:00")], day_start="10:00", day_end="13:00", length=60) == [("10:00", "11:00"), ("12:00", "13:00")]
        assert f([("10:00", "10:20")], length=61) == [("10:20", "17:00")]
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as f; print(f([('10:00', '11:30'), ('09:00', '09:15')]))\""


def _l3_roman(rng):
    path, func = pick(rng, [("numerals.py", "from_roman"), ("clockface.py", "roman_value"), ("chapters.py", "parse_roman")])
    stub = f'def {func}(text):\n    raise NotImplementedError\n'
    code = dd(f'''
        _VALUES = [("M", 1000), ("CM", 900), ("D", 500), ("CD", 400), ("C", 100), ("XC", 90), ("L", 50), ("XL", 40),
                   ("X", 10), ("IX", 9), ("V", 5), ("IV", 4), ("I", 1)]


        def _to_roman(n):
            out = []
            for sym, val in _VALUES:
                count, n = divmod(n, val)
                out.append(sym * count)
            return "".join(out)


        def {func}(text):
            s = text.strip().upper()
            total, i = 0, 0
            values = dict(_VALUES)
            while i < len(s):
                if s[i:i + 2] in values and len(s[i:i + 2]) == 2:
                    total += values[s[i:i + 2]]
                    i += 2
                elif s[i] in values:
                    total += values[s[i]]
                    i += 1
                else:
                    raise ValueError(f"not a roman numeral: {{text!r}}")
            if not s or not 1 <= total <= 3999 or _to_roman(total) != s:
                raise ValueError(f"not a canonical roman numeral: {{text!r}}")
            return total
    ''')
    rules = pick(rng, [
        f"Write {func}(text) in {path}: the integer value of a Roman numeral (I V X L C D M, subtractive pairs like IV, IX, "
        "XL, XC, CD, CM). Case and surrounding spaces don't matter. Only the standard form is accepted: 'IIII', 'VX', 'IC', "
        "'MMMM', an empty string or any other letter must raise ValueError. Values go from 1 to 3999.",
        f"Chapter headings use Roman numerals. Implement {func}() in {path} to convert them to int ('xiv' -> 14, 'MCMXCIV' -> "
        "1994). Reject anything that is not the canonical way to write a number between 1 and 3999 with ValueError, e.g. "
        "'IIX', 'VV', 'XXXX', '' or 'ABC'.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as r
        for text, n in [("I", 1), ("iv", 4), ("IX", 9), ("xiv", 14), ("XL", 40), ("XC", 90), ("CD", 400), ("CM", 900),
                        ("MCMXCIV", 1994), ("MMMCMXCIX", 3999), (" lviii ", 58), ("MMXXIV", 2024)]:
            assert r(text) == n, (text, r(text))
        for bad in ["", "IIII", "VX", "IC", "MMMM", "IIX", "VV", "XXXX", "ABC", "IL", "XM", "DD"]:
            try:
                r(bad)
            except ValueError:
                continue
            sys.exit(f"no ValueError for {{bad!r}}")
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as r; print(r('MCMXCIV'), r('xiv')); r('IIII')\""


def _l3_histogram(rng):
    path, func = pick(rng, [("charts.py", "text_histogram"), ("survey.py", "bar_chart"), ("cli_plot.py", "bars")])
    stub = f'def {func}(counts, width=20):\n    raise NotImplementedError\n'
    code = dd(f'''
        def {func}(counts, width=20):
            if not counts:
                return ""
            top = max(counts.values())
            label_w = max(len(str(k)) for k in counts)
            lines = []
            for key, value in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
                bar = "#" * (round(value / top * width) if top else 0)
                lines.append(f"{{str(key):<{{label_w}}}} | {{bar}} {{value}}")
            return "\\n".join(lines)
    ''')
    rules = pick(rng, [
        f"Implement {func}(counts, width=20) in {path}. counts maps labels to non-negative integers. Return one line per label, "
        "largest count first (ties alphabetically by label), formatted as the label left-aligned to the longest label, ' | ', "
        "a bar of '#' characters, one space and the count. The largest count gets exactly `width` characters, the others "
        "round(count / largest * width). No trailing newline; an empty dict gives ''. If every count is 0 the bars are empty.",
        f"The survey summary prints answers as a text bar chart. Write {func}() in {path}: for {{'yes': 10, 'no': 5}} and width 10 "
        "it returns 'yes | ########## 10\\nno  | ##### 5'. Sort by count descending then label, pad labels to equal width, scale "
        "bars so the biggest is `width` long (round the others), put the number after the bar. Empty input -> ''.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func} as h
        assert h({{"yes": 10, "no": 5}}, 10) == "yes | ########## 10\\nno  | ##### 5", repr(h({{"yes": 10, "no": 5}}, 10))
        assert h({{}}) == ""
        out = h({{"b": 3, "a": 3, "ccc": 1}}, width=6).split("\\n")
        assert out == ["a   | ###### 3", "b   | ###### 3", "ccc | ## 1"], out
        assert h({{"x": 0, "y": 0}}, 5) == "x |  0\\ny |  0"
        assert h({{"k": 7}}) == "k | " + "#" * 20 + " 7"
        print("ok")
    ''')
    return path, {path: stub}, rules, {path: code}, check, f"python -c \"from {path[:-3]} import {func} as h; print(h({{'yes': 10, 'no': 5, 'maybe': 2}}, 10))\""


_L3 = [_l3_luhn, _l3_query, _l3_snake, _l3_flatten, _l3_ring, _l3_phone, _l3_account, _l3_size, _l3_columns, _l3_groupby,
       _l3_slots, _l3_roman, _l3_histogram]


def _l3(rng: random.Random) -> TaskDraft:
    path, files, rules, code, check, try_it = pick(rng, _L3)(rng)
    extra = pick(rng, ["", " Standard library only.", " Try it out before you finish.", " Keep the function names as they are."])
    steps = [read(path, "Read what is there.")]
    for p, text in code.items():
        steps.append(write(p, text, "Implement it, handling each rule and the invalid cases."))
    steps += [run(try_it, "Try a few cases, including an invalid one."), submit(f"Implemented it in {path}.")]
    return draft(rules + extra, files, check, steps, ["python", "spec", "validation"])


def generate(rng: random.Random, level: int) -> TaskDraft:
    return {1: _l1, 2: _l2, 3: _l3}[level](rng)
