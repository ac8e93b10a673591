"""write-tests: write pytest tests for existing code. The checker runs the tests against the original module
(they must pass) and against mutants of it (each must make them fail). Level 1 asks for one given assertion,
level 2 for a few tests of one function and a run, level 3 for a test file covering a list of behaviours."""

from __future__ import annotations

import random

from lab.generators import TaskDraft
from lab.generators.families._code import dd, draft, mutation_check, pick, read, run, submit, write

FAMILY = "write-tests"
LEVELS = (1, 2, 3)

# ---------------------------------------------------------------- level 1

_L1 = [
    # module, context, function, params, body, example args, mutants (name, old, new)
    ("arith.py", "the pocket calculator", "multiply", "a, b", "return a * b", (3, 4), [("adds", "a * b", "a + b"), ("power", "a * b", "a ** b"), ("off by one", "a * b", "a * b + 1")]),
    ("powers.py", "the geometry helpers", "square", "n", "return n * n", (5,), [("doubles", "n * n", "n * 2"), ("cubes", "n * n", "n * n * n"), ("adds", "n * n", "n + n")]),
    ("hello.py", "the welcome banner", "greet", "name", 'return f"Hello, {name}!"', ("Ann",), [("no exclamation", '{name}!"', '{name}"'), ("lower case", '"Hello,', '"hello,'), ("shouts", "{name}", "{name.upper()}")]),
    ("seqs.py", "the playlist code", "last", "items", "return items[-1]", ([4, 5, 6],), [("first", "items[-1]", "items[0]"), ("second to last", "items[-1]", "items[-2]"), ("length", "items[-1]", "len(items)")]),
    ("compare.py", "the bidding module", "maximum", "a, b", "return a if a > b else b", (2, 9), [("minimum", "a > b", "a < b"), ("always a", "a if a > b else b", "a"), ("sum", "a if a > b else b", "a + b")]),
    ("cents.py", "the payment form", "to_cents", "dollars", "return round(dollars * 100)", (2.5,), [("times ten", "dollars * 100", "dollars * 10"), ("truncates", "round(dollars * 100)", "int(dollars)"), ("off by one", "round(dollars * 100)", "round(dollars * 100) + 1")]),
    ("reverse.py", "the text tools", "reverse", "text", "return text[::-1]", ("abc",), [("identity", "text[::-1]", "text"), ("drops first", "text[::-1]", "text[1:]"), ("upper", "text[::-1]", "text.upper()")]),
    ("words.py", "the word counter", "count_words", "text", "return len(text.split())", ("a b c",), [("characters", "len(text.split())", "len(text)"), ("spaces", "len(text.split())", "text.count(' ')"), ("constant", "len(text.split())", "1")]),
    ("ratio.py", "the progress bar", "percent", "part, whole", "return part / whole * 100", (1, 4), [("fraction", "part / whole * 100", "part / whole"), ("inverted", "part / whole * 100", "whole / part * 100"), ("plus one", "part / whole * 100", "part / whole * 100 + 1")]),
    ("rect.py", "the picture framer", "perimeter", "width, height", "return 2 * (width + height)", (2, 3), [("area", "2 * (width + height)", "width * height"), ("half", "2 * (width + height)", "width + height"), ("one side doubled", "2 * (width + height)", "2 * width + height")]),
    ("thermo.py", "the oven display", "fahrenheit", "celsius", "return celsius * 9 / 5 + 32", (100,), [("no offset", "celsius * 9 / 5 + 32", "celsius * 9 / 5"), ("no scale", "celsius * 9 / 5 + 32", "celsius + 32"), ("inverted scale", "celsius * 9 / 5 + 32", "celsius * 5 / 9 + 32")]),
    ("evens.py", "the bingo caller", "is_even", "n", "return n % 2 == 0", (4,), [("odd", "n % 2 == 0", "n % 2 == 1"), ("threes", "n % 2 == 0", "n % 3 == 0"), ("always false", "n % 2 == 0", "False")]),
    ("tax_calc.py", "the receipt printer", "with_tax", "amount", "return round(amount * 1.2, 2)", (10,), [("no tax", "amount * 1.2", "amount"), ("tax only", "amount * 1.2", "amount * 0.2"), ("wrong rate", "amount * 1.2", "amount * 1.02")]),
    ("clock_math.py", "the alarm app", "to_minutes", "hours, minutes", "return hours * 60 + minutes", (2, 15), [("ignores minutes", "hours * 60 + minutes", "hours * 60"), ("hundred", "hours * 60 + minutes", "hours * 100 + minutes"), ("swapped", "hours * 60 + minutes", "minutes * 60 + hours")]),
]


def _l1(rng: random.Random) -> TaskDraft:
    path, ctx, func, params, body, args, mutants = pick(rng, _L1)
    mod = path[:-3]
    src = f"def {func}({params}):\n    {body}\n"
    env: dict = {}
    exec(src, env)
    want = env[func](*args)
    call = f"{func}({', '.join(map(repr, args))})"
    test_path = pick(rng, [f"test_{mod}.py", f"test_{func}.py"])
    prose = pick(rng, [
        f"Create {test_path} with a pytest test that checks that {call} == {want!r}, importing {func} from {path}.",
        f"Add a test file {test_path} for {ctx}: one pytest test asserting {call} returns {want!r}.",
        f"{func}() in {path} has no test yet. Write {test_path} containing a test function that imports it and asserts {call} == {want!r}.",
        f"Please write a minimal pytest file, {test_path}, with a single test: {call} should equal {want!r}.",
        f"For {ctx}, pin down the behaviour of {func} with one test in a new file {test_path} ({call} gives {want!r}).",
    ])
    check = mutation_check(path, src, test_path, mutants)
    test = f"from {mod} import {func}\n\n\ndef test_{func}():\n    assert {call} == {want!r}\n"
    steps = [write(test_path, test, "Write the test file."), submit(f"Created {test_path} asserting {call} == {want!r}.")]
    return draft(prose, {path: src}, check, steps, ["python", "pytest", "new-file"])


# ---------------------------------------------------------------- level 2

_L2 = [
    dict(path="pricing.py", ctx="the sale price labels", func="discount", aspects="a normal discount, a 0% discount leaving the price unchanged, and a ValueError for a percentage above 100",
         src=dd('''
            def discount(price, percent):
                """Price after `percent` percent off; percent must be between 0 and 100."""
                if not 0 <= percent <= 100:
                    raise ValueError("percent out of range")
                return round(price * (100 - percent) / 100, 2)
         '''),
         mutants=[("percent ignored", "price * (100 - percent) / 100", "price"), ("no range check", "not 0 <= percent <= 100", "False"),
                  ("adds instead", "(100 - percent)", "(100 + percent)")],
         tests=dd('''
            import pytest

            from pricing import discount


            def test_twenty_percent_off():
                assert discount(50, 20) == 40.0


            def test_zero_percent():
                assert discount(19.99, 0) == 19.99


            def test_above_hundred_raises():
                with pytest.raises(ValueError):
                    discount(10, 150)
         ''')),
    dict(path="cssnames.py", ctx="the design-system theme builder", func="css_class", aspects="upper-case letters becoming lower case, words joined by '-', and padding spaces being ignored",
         src=dd('''
            def css_class(label):
                """'  Primary Button ' -> 'primary-button'."""
                return "-".join(label.strip().lower().split())
         '''),
         mutants=[("keeps case", ".lower()", ""), ("underscores", '"-".join', '"_".join'), ("first word only", ".split())", ".split()[:1])")],
         tests=dd('''
            from cssnames import css_class


            def test_lower_and_dashes():
                assert css_class("Primary Button") == "primary-button"


            def test_padding():
                assert css_class("  Nav   Bar Item ") == "nav-bar-item"
         ''')),
    dict(path="parsing.py", ctx="the settings loader", func="safe_int", aspects="valid numbers (with surrounding spaces), and the default value for text that is not a number",
         src=dd('''
            def safe_int(text, default=0):
                """int(text), or `default` when text is not an integer."""
                try:
                    return int(text.strip())
                except ValueError:
                    return default
         '''),
         mutants=[("returns None", "return default", "return None"), ("always default", "return int(text.strip())", "return default"),
                  ("float parsing", "int(text.strip())", "float(text.strip())")],
         tests=dd('''
            from parsing import safe_int


            def test_valid():
                assert safe_int(" 42 ") == 42
                assert type(safe_int("7")) is int


            def test_invalid_uses_default():
                assert safe_int("abc") == 0
                assert safe_int("x", default=-1) == -1
         ''')),
    dict(path="middle.py", ctx="the sensor dashboard", func="median", aspects="an odd-length list, an even-length list (mean of the two middle values) and unsorted input",
         src=dd('''
            def median(values):
                s = sorted(values)
                mid = len(s) // 2
                if len(s) % 2:
                    return s[mid]
                return (s[mid - 1] + s[mid]) / 2
         '''),
         mutants=[("no sorting", "s = sorted(values)", "s = list(values)"), ("upper middle for even", "return (s[mid - 1] + s[mid]) / 2", "return s[mid]"),
                  ("odd off by one", "return s[mid]\n", "return s[mid - 1]\n")],
         tests=dd('''
            from middle import median


            def test_odd():
                assert median([3, 1, 2]) == 2


            def test_even():
                assert median([1, 2, 3, 10]) == 2.5


            def test_unsorted():
                assert median([9, 1, 5, 3, 7]) == 5
         ''')),
    dict(path="letters.py", ctx="the driving-test scorer", func="grade", aspects="every result band A, B, C and F, plus the cut-off points 90, 75 and 50 themselves",
         src=dd('''
            def grade(score):
                if score >= 90:
                    return "A"
                if score >= 75:
                    return "B"
                if score >= 50:
                    return "C"
                return "F"
         '''),
         mutants=[("A boundary", "score >= 90", "score > 90"), ("B boundary", "score >= 75", "score > 75"), ("C boundary", "score >= 50", "score > 50"),
                  ("no F", 'return "F"', 'return "C"')],
         tests=dd('''
            import pytest

            from letters import grade


            @pytest.mark.parametrize("score, letter", [(95, "A"), (90, "A"), (80, "B"), (75, "B"), (60, "C"), (50, "C"), (49, "F"), (0, "F")])
            def test_grade(score, letter):
                assert grade(score) == letter


            def test_top():
                assert grade(100) == "A"
         ''')),
    dict(path="money_fmt.py", ctx="the checkout summary", func="format_price", aspects="whole dollars, amounts with single-digit cents (like 105 cents -> \"$1.05\") and zero",
         src=dd('''
            def format_price(cents):
                return f"${cents // 100}.{cents % 100:02d}"
         '''),
         mutants=[("no padding", "{cents % 100:02d}", "{cents % 100}"), ("no dollar sign", 'f"${', 'f"{'), ("dollars wrong", "{cents // 100}", "{cents // 10}")],
         tests=dd('''
            from money_fmt import format_price


            def test_padding():
                assert format_price(105) == "$1.05"


            def test_whole_and_zero():
                assert format_price(2500) == "$25.00"
                assert format_price(0) == "$0.00"
         ''')),
    dict(path="batches.py", ctx="the bulk e-mail sender", func="batches", aspects="an exact split, a shorter final batch, and an empty list",
         src=dd('''
            def batches(items, size):
                return [items[i:i + size] for i in range(0, len(items), size)]
         '''),
         mutants=[("drops tail", "range(0, len(items), size)", "range(0, len(items) - size + 1, size)"), ("overlapping", "range(0, len(items), size)", "range(0, len(items))"),
                  ("size plus one", "items[i:i + size]", "items[i:i + size + 1]")],
         tests=dd('''
            from batches import batches


            def test_exact():
                assert batches([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


            def test_short_tail():
                assert batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


            def test_empty():
                assert batches([], 3) == []
         ''')),
    dict(path="vowels.py", ctx="the reading-level estimator", func="count_vowels", aspects="lower-case and upper-case vowels, and that 'y' is not a vowel",
         src=dd('''
            def count_vowels(text):
                return sum(1 for ch in text.lower() if ch in "aeiou")
         '''),
         mutants=[("case sensitive", "text.lower()", "text"), ("counts y", '"aeiou"', '"aeiouy"'), ("counts consonants", "if ch in", "if ch not in")],
         tests=dd('''
            from vowels import count_vowels


            def test_mixed_case():
                assert count_vowels("HELLO world") == 3


            def test_y_is_not_a_vowel():
                assert count_vowels("rhythm") == 0
         ''')),
]


def _l2(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _L2)
    path, ctx, func = spec["path"], spec["ctx"], spec["func"]
    mod = path[:-3]
    test_path = pick(rng, [f"test_{mod}.py", f"test_{func}.py"])
    prose = pick(rng, [
        f"Nobody wrote tests for {ctx}. Look at {func}() in {path} and create {test_path}: two or more pytest functions, then run pytest on that file.",
        f"{func}() ({path}, used by {ctx}) is untested. Add {test_path} with a few tests covering {spec['aspects']}. Run them.",
        f"Write pytest tests for {func} in {test_path}. I care about {spec['aspects']}. Make sure they pass with `python -m pytest -q`.",
        f"Before we touch {ctx}, I want a safety net: tests for {path}'s {func}() in {test_path} (at least two tests; check {spec['aspects']}). Run them once.",
        f"A regression in {ctx} went unnoticed last week. Protect {func} with tests in {test_path} so that a broken version fails; think about {spec['aspects']}.",
    ])
    check = mutation_check(path, spec["src"], test_path, spec["mutants"], min_tests=2)
    steps = [read(path, "Read the function."), write(test_path, spec["tests"], "One test per behaviour."),
             run(f"python -m pytest -q {test_path}"), submit(f"Wrote {test_path}; the tests pass.")]
    return draft(prose, {path: spec["src"]}, check, steps, ["python", "pytest"])


# ---------------------------------------------------------------- level 3

_L3 = [
    dict(path="jobqueue.py", what="the Queue class", intro="jobqueue.py has a first-in-first-out Queue class and no tests.",
         cover=["put() then get() returning items in FIFO order", "peek() showing the next item without removing it", "len() and empty()",
                "IndexError from get() and peek() on an empty queue"],
         src=dd('''
            class Queue:
                def __init__(self):
                    self._items = []

                def put(self, item):
                    self._items.append(item)

                def get(self):
                    if not self._items:
                        raise IndexError("get from empty queue")
                    return self._items.pop(0)

                def peek(self):
                    if not self._items:
                        raise IndexError("peek at empty queue")
                    return self._items[0]

                def empty(self):
                    return not self._items

                def __len__(self):
                    return len(self._items)
         '''),
         mutants=[("LIFO", "return self._items.pop(0)", "return self._items.pop()"), ("peek removes", "return self._items[0]", "return self._items.pop(0)"),
                  ("peek shows last", "return self._items[0]", "return self._items[-1]"), ("get on empty returns None", 'raise IndexError("get from empty queue")', "return None"),
                  ("empty inverted", "return not self._items", "return bool(self._items)"), ("len off by one", "return len(self._items)", "return len(self._items) + 1")],
         tests=dd('''
            import pytest

            from jobqueue import Queue


            def make(*items):
                q = Queue()
                for x in items:
                    q.put(x)
                return q


            def test_fifo():
                q = make(1, 2, 3)
                assert [q.get(), q.get(), q.get()] == [1, 2, 3]


            def test_peek_keeps_item():
                q = make("a", "b")
                assert q.peek() == "a"
                assert len(q) == 2
                assert q.get() == "a"


            def test_len_and_empty():
                q = Queue()
                assert q.empty() and len(q) == 0
                q.put(5)
                assert not q.empty() and len(q) == 1


            def test_empty_errors():
                with pytest.raises(IndexError):
                    Queue().get()
                with pytest.raises(IndexError):
                    Queue().peek()
         ''')),
    dict(path="clocktime.py", what="parse_time()", intro="parse_time(text) in clocktime.py turns 'HH:MM' into minutes after midnight.",
         cover=["ordinary times such as '14:05' -> 845", "midnight '00:00' and '23:59'", "single-digit hours like '7:30'",
                "ValueError for hours above 23, minutes above 59, and text without a colon"],
         src=dd('''
            def parse_time(text):
                hours, sep, minutes = text.strip().partition(":")
                if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
                    raise ValueError(f"bad time: {text!r}")
                h, m = int(hours), int(minutes)
                if h > 23 or m > 59:
                    raise ValueError(f"out of range: {text!r}")
                return h * 60 + m
         '''),
         mutants=[("hours times 100", "return h * 60 + m", "return h * 100 + m"), ("24 accepted", "h > 23", "h > 24"), ("60 minutes accepted", "m > 59", "m > 60"),
                  ("single-digit hours rejected", "not hours.isdigit()", "len(hours) != 2 or not hours.isdigit()"), ("minutes ignored", "return h * 60 + m", "return h * 60")],
         tests=dd('''
            import pytest

            from clocktime import parse_time


            @pytest.mark.parametrize("text, minutes", [("14:05", 845), ("00:00", 0), ("23:59", 1439), ("7:30", 450)])
            def test_valid(text, minutes):
                assert parse_time(text) == minutes


            @pytest.mark.parametrize("text", ["24:00", "12:60", "1200", "ab:cd"])
            def test_invalid(text):
                with pytest.raises(ValueError):
                    parse_time(text)
         ''')),
    dict(path="cart.py", what="the Cart class", intro="cart.py has a shopping Cart (add, remove, total, apply_code) that nobody tested.",
         cover=["adding the same product twice sums the quantities", "remove() taking a product out completely", "total() as price times quantity over all lines",
                "the 'SAVE10' code giving 10% off the total and unknown codes raising ValueError"],
         src=dd('''
            class Cart:
                def __init__(self):
                    self.lines = {}
                    self.discount = 0

                def add(self, name, price, qty=1):
                    old = self.lines.get(name, (price, 0))[1]
                    self.lines[name] = (price, old + qty)

                def remove(self, name):
                    del self.lines[name]

                def apply_code(self, code):
                    if code != "SAVE10":
                        raise ValueError(f"unknown code {code}")
                    self.discount = 10

                def total(self):
                    gross = sum(price * qty for price, qty in self.lines.values())
                    return round(gross * (100 - self.discount) / 100, 2)
         '''),
         mutants=[("quantities replaced", "old + qty", "qty"), ("remove does nothing", "del self.lines[name]", "pass"), ("price only", "price * qty for", "price for"),
                  ("discount ignored", "(100 - self.discount)", "100"), ("any code accepted", 'if code != "SAVE10":', "if False:")],
         tests=dd('''
            import pytest

            from cart import Cart


            def test_add_twice_sums():
                c = Cart()
                c.add("pen", 2.0)
                c.add("pen", 2.0, 3)
                assert c.lines["pen"] == (2.0, 4)
                assert c.total() == 8.0


            def test_remove():
                c = Cart()
                c.add("pen", 2.0)
                c.add("ink", 5.0, 2)
                c.remove("pen")
                assert c.total() == 10.0


            def test_code():
                c = Cart()
                c.add("book", 20.0, 2)
                c.apply_code("SAVE10")
                assert c.total() == 36.0
                with pytest.raises(ValueError):
                    c.apply_code("FREE")
         ''')),
    dict(path="splitname.py", what="split_name()", intro="split_name(full) in splitname.py returns a (first, middle, last) tuple.",
         cover=["a two-part name (middle is '')", "three or more parts (everything between first and last is the middle)", "a single name (first only)",
                "surrounding and repeated spaces", "ValueError for an empty or blank string"],
         src=dd('''
            def split_name(full):
                parts = full.split()
                if not parts:
                    raise ValueError("empty name")
                if len(parts) == 1:
                    return parts[0], "", ""
                return parts[0], " ".join(parts[1:-1]), parts[-1]
         '''),
         mutants=[("middle only second part", '" ".join(parts[1:-1])', "(parts[1] if len(parts) > 2 else '')"), ("single name as last", 'return parts[0], "", ""', 'return "", "", parts[0]'),
                  ("no blank check", 'raise ValueError("empty name")', 'return "", "", ""'), ("spaces kept", "full.split()", "full.split(' ')"), ("first and last swapped", "return parts[0], \" \".join(parts[1:-1]), parts[-1]", "return parts[-1], \" \".join(parts[1:-1]), parts[0]")],
         tests=dd('''
            import pytest

            from splitname import split_name


            def test_two_parts():
                assert split_name("Ada Lovelace") == ("Ada", "", "Lovelace")


            def test_long_middle():
                assert split_name("Juan Carlos Maria Perez") == ("Juan", "Carlos Maria", "Perez")


            def test_single():
                assert split_name("Plato") == ("Plato", "", "")


            def test_spaces():
                assert split_name("  Grace   Brewster  Hopper ") == ("Grace", "Brewster", "Hopper")


            @pytest.mark.parametrize("blank", ["", "   "])
            def test_blank(blank):
                with pytest.raises(ValueError):
                    split_name(blank)
         ''')),
    dict(path="bmi.py", what="bmi_category()", intro="bmi.py computes body-mass index categories and has no tests.",
         cover=["each category (underweight below 18.5, normal below 25, overweight below 30, obese from 30)", "the exact cut-offs 18.5, 25 and 30",
                "ValueError for a height or weight that is zero or negative"],
         src=dd('''
            def bmi(weight_kg, height_m):
                if weight_kg <= 0 or height_m <= 0:
                    raise ValueError("weight and height must be positive")
                return weight_kg / height_m ** 2


            def bmi_category(weight_kg, height_m):
                value = bmi(weight_kg, height_m)
                if value < 18.5:
                    return "underweight"
                if value < 25:
                    return "normal"
                if value < 30:
                    return "overweight"
                return "obese"
         '''),
         mutants=[("18.5 boundary", "value < 18.5", "value <= 18.5"), ("25 boundary", "value < 25", "value <= 25"), ("30 boundary", "value < 30", "value <= 30"),
                  ("no validation", "if weight_kg <= 0 or height_m <= 0:", "if False:"), ("height not squared", "height_m ** 2", "height_m * 2")],
         tests=dd('''
            import pytest

            from bmi import bmi_category


            @pytest.mark.parametrize("weight, height, category", [
                (50, 1.8, "underweight"), (70, 1.75, "normal"), (85, 1.75, "overweight"), (110, 1.75, "obese"),
                (18.5, 1.0, "normal"), (25, 1.0, "overweight"), (30, 1.0, "obese"),
            ])
            def test_categories(weight, height, category):
                assert bmi_category(weight, height) == category


            @pytest.mark.parametrize("weight, height", [(0, 1.7), (70, 0), (-5, 1.7)])
            def test_invalid(weight, height):
                with pytest.raises(ValueError):
                    bmi_category(weight, height)
         ''')),
    dict(path="wordbag.py", what="the WordBag class", intro="WordBag in wordbag.py counts words in text you feed it.",
         cover=["add() counting case-insensitively", "punctuation at the ends of words being ignored", "most_common(n) ordering by count, ties alphabetically",
                "count() of an unseen word being 0"],
         src=dd('''
            class WordBag:
                def __init__(self):
                    self.counts = {}

                def add(self, text):
                    for word in text.split():
                        word = word.strip(".,!?;:").lower()
                        if word:
                            self.counts[word] = self.counts.get(word, 0) + 1

                def count(self, word):
                    return self.counts.get(word.lower(), 0)

                def most_common(self, n):
                    return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
         '''),
         mutants=[("case sensitive", '.strip(".,!?;:").lower()', '.strip(".,!?;:")'), ("punctuation kept", '.strip(".,!?;:")', ""),
                  ("ties reversed", "(-kv[1], kv[0])", "(-kv[1], ''.join(chr(255 - ord(c)) for c in kv[0]))"), ("least common", "(-kv[1], kv[0])", "(kv[1], kv[0])"),
                  ("unseen raises", "return self.counts.get(word.lower(), 0)", "return self.counts[word.lower()]")],
         tests=dd('''
            from wordbag import WordBag


            def test_case_and_punctuation():
                b = WordBag()
                b.add("The cat. the CAT! the")
                assert b.count("the") == 3
                assert b.count("cat") == 2


            def test_most_common_ties():
                b = WordBag()
                b.add("b a c a b d")
                assert b.most_common(3) == [("a", 2), ("b", 2), ("c", 1)]


            def test_unseen():
                assert WordBag().count("zebra") == 0
         ''')),
    dict(path="convert_temp.py", what="convert()", intro="convert(value, from_unit, to_unit) in convert_temp.py converts between 'C', 'F' and 'K'.",
         cover=["C to F and F to C", "Kelvin in both directions", "converting a unit to itself", "ValueError for an unknown unit and for a temperature below absolute zero"],
         src=dd('''
            def convert(value, from_unit, to_unit):
                to_kelvin = {"C": lambda v: v + 273.15, "F": lambda v: (v - 32) * 5 / 9 + 273.15, "K": lambda v: v}
                from_kelvin = {"C": lambda k: k - 273.15, "F": lambda k: (k - 273.15) * 9 / 5 + 32, "K": lambda k: k}
                if from_unit not in to_kelvin or to_unit not in from_kelvin:
                    raise ValueError("unknown unit")
                kelvin = to_kelvin[from_unit](value)
                if kelvin < 0:
                    raise ValueError("below absolute zero")
                return round(from_kelvin[to_unit](kelvin), 2)
         '''),
         mutants=[("F offset wrong", "(v - 32) * 5 / 9 + 273.15", "(v - 30) * 5 / 9 + 273.15"), ("K to C sign", "lambda k: k - 273.15", "lambda k: k + 273.15"),
                  ("no absolute zero check", "if kelvin < 0:", "if False:"), ("unknown unit accepted", 'raise ValueError("unknown unit")', "return value"),
                  ("C to K wrong", "lambda v: v + 273.15", "lambda v: v + 273")],
         tests=dd('''
            import pytest

            from convert_temp import convert


            def test_c_f():
                assert convert(100, "C", "F") == 212
                assert convert(32, "F", "C") == 0


            def test_kelvin():
                assert convert(0, "C", "K") == 273.15
                assert convert(0, "K", "C") == -273.15
                assert convert(212, "F", "K") == 373.15


            def test_same_unit():
                assert convert(21.5, "C", "C") == 21.5


            def test_errors():
                with pytest.raises(ValueError):
                    convert(1, "C", "X")
                with pytest.raises(ValueError):
                    convert(-300, "C", "F")
         ''')),
    dict(path="masking.py", what="mask_card()", intro="mask_card(number) in masking.py hides all but the last four digits of a card number.",
         cover=["a 16-digit number becoming twelve '*' plus the last four digits", "spaces and dashes in the input being ignored",
                "numbers of other lengths (masking everything but the last four)", "ValueError for fewer than 4 digits or non-digit characters"],
         src=dd('''
            def mask_card(number):
                digits = number.replace(" ", "").replace("-", "")
                if len(digits) < 4 or not digits.isdigit():
                    raise ValueError("not a card number")
                return "*" * (len(digits) - 4) + digits[-4:]
         '''),
         mutants=[("shows first four", "digits[-4:]", "digits[:4]"), ("dashes kept", '.replace("-", "")', ""), ("fixed 12 stars", '"*" * (len(digits) - 4)', '"*" * 12'),
                  ("short accepted", "len(digits) < 4 or ", ""), ("letters accepted", " or not digits.isdigit()", "")],
         tests=dd('''
            import pytest

            from masking import mask_card


            def test_sixteen_digits():
                assert mask_card("4111222233334444") == "************4444"


            def test_separators():
                assert mask_card("4111 2222-3333 4444") == "************4444"


            def test_other_length():
                assert mask_card("378282246310005") == "***********0005"


            @pytest.mark.parametrize("bad", ["123", "4111abcd33334444", ""])
            def test_invalid(bad):
                with pytest.raises(ValueError):
                    mask_card(bad)
         ''')),
    dict(path="pager.py", what="paginate()", intro="paginate(items, page, per_page) in pager.py returns one page of a list plus the page count.",
         cover=["the first page and a middle page", "a last page that is only partly full", "the total page count (rounding up, and 0 for an empty list)",
                "ValueError for page 0 and for per_page below 1"],
         src=dd('''
            def paginate(items, page, per_page=10):
                if page < 1 or per_page < 1:
                    raise ValueError("page and per_page start at 1")
                pages = -(-len(items) // per_page)
                start = (page - 1) * per_page
                return items[start:start + per_page], pages
         '''),
         mutants=[("zero-based pages", "start = (page - 1) * per_page", "start = page * per_page"), ("count rounds down", "pages = -(-len(items) // per_page)", "pages = len(items) // per_page"),
                  ("page 0 accepted", "page < 1 or ", ""), ("per_page 0 accepted", " or per_page < 1", ""), ("page too long", "start + per_page]", "start + per_page + 1]")],
         tests=dd('''
            import pytest

            from pager import paginate

            DATA = list(range(1, 26))


            def test_first_and_middle():
                assert paginate(DATA, 1, 10) == (list(range(1, 11)), 3)
                assert paginate(DATA, 2, 10)[0] == list(range(11, 21))


            def test_partial_last_page():
                assert paginate(DATA, 3, 10) == ([21, 22, 23, 24, 25], 3)


            def test_empty():
                assert paginate([], 1) == ([], 0)


            @pytest.mark.parametrize("page, per_page", [(0, 10), (1, 0)])
            def test_invalid(page, per_page):
                with pytest.raises(ValueError):
                    paginate(DATA, page, per_page)
         ''')),
    dict(path="pwcheck.py", what="password_problems()", intro="password_problems(pw) in pwcheck.py lists what is wrong with a password.",
         cover=["a good password giving an empty list", "the minimum length of 10 (9 characters fail, 10 pass)", "the rule that a digit is required",
                "the rule that an upper-case letter is required", "several problems reported together, in order"],
         src=dd('''
            def password_problems(pw):
                problems = []
                if len(pw) < 10:
                    problems.append("too short")
                if not any(ch.isdigit() for ch in pw):
                    problems.append("no digit")
                if not any(ch.isupper() for ch in pw):
                    problems.append("no upper-case letter")
                return problems
         '''),
         mutants=[("length off by one", "len(pw) < 10", "len(pw) <= 10"), ("digit rule missing", 'problems.append("no digit")', "pass"),
                  ("upper rule missing", 'problems.append("no upper-case letter")', "pass"), ("only first problem", "return problems", "return problems[:1]"),
                  ("lower instead of upper", "ch.isupper()", "ch.islower()")],
         tests=dd('''
            from pwcheck import password_problems


            def test_good():
                assert password_problems("Abcdefgh12") == []


            def test_length_boundary():
                assert password_problems("Abcdefg12") == ["too short"]


            def test_digit_and_upper():
                assert password_problems("Abcdefghijk") == ["no digit"]
                assert password_problems("abcdefgh12") == ["no upper-case letter"]


            def test_all_problems():
                assert password_problems("abc") == ["too short", "no digit", "no upper-case letter"]
         ''')),
]


def _l3(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _L3)
    path = spec["path"]
    mod = path[:-3]
    test_path = pick(rng, [f"tests/test_{mod}.py", f"test_{mod}.py", f"tests/test_{mod}_behaviour.py"])
    cover = list(spec["cover"])
    rng.shuffle(cover)
    bullets = "\n".join(f"- {c}" for c in cover)
    prose = pick(rng, [
        f"{spec['intro']} Write pytest tests for {spec['what']} in {test_path}. Cover:\n{bullets}\nDon't modify {path}.",
        f"Please add {test_path} with tests of {spec['what']} ({path}): {'; '.join(cover)}. Run them before you finish.",
        f"We are about to refactor {path} and need tests first. {spec['intro']} Put the tests in {test_path}; they have to catch regressions in: {', '.join(cover[:-1])} and {cover[-1]}.",
        f"CI now requires a test module for every source file, and {path} has none. Create {test_path}. Minimum coverage the reviewers will look for:\n{bullets}",
        f"Task for the new team member: get to know {spec['what']} by testing it. Tests go to {test_path} (pytest, do not edit the code). Checklist:\n{bullets}\nRun the suite when done.",
        f"Last release broke {spec['what']} and no test noticed. {spec['intro']} Write {test_path} so that any of these breaking would fail the build: {'; '.join(cover)}.",
    ])
    check = mutation_check(path, spec["src"], test_path, spec["mutants"], min_tests=2)
    steps = [read(path, "Read the code under test."), write(test_path, spec["tests"], "One test per behaviour in the list."),
             run(f"python -m pytest -q {test_path}"), submit(f"Added {test_path} covering: {'; '.join(cover)}.")]
    return draft(prose, {path: spec["src"]}, check, steps, ["python", "pytest", "write-tests"])


def generate(rng: random.Random, level: int) -> TaskDraft:
    return {1: _l1, 2: _l2, 3: _l3}[level](rng)
