"""bugfix: a small Python module has a bug; fix it. Level 1 names the wrong line or value, level 2 describes
a symptom (read, one edit, run the script), level 3 is a failing test suite over several files."""

from __future__ import annotations

import random

from lab.generators import TaskDraft
from lab.generators.families._code import PRELUDE, dd, draft, edit, fill, pick, read, run, submit, write

FAMILY = "bugfix"
LEVELS = (1, 2, 3)


def _num(x: float) -> str:
    return repr(round(x, 6))


# ---------------------------------------------------------------- level 1: the wrong line is named

_CONSTANTS = [
    # file, constant, wrong, right, forward fn, backward fn, arg, fact, noun
    ("weights.py", "POUNDS_PER_KG", "2.02462", "2.20462", "kg_to_pounds", "pounds_to_kg", "kg", "one kilogram is 2.20462 pounds", "weight"),
    ("lengths.py", "CM_PER_INCH", "2.45", "2.54", "inches_to_cm", "cm_to_inches", "inches", "an inch is exactly 2.54 centimetres", "length"),
    ("fuel.py", "LITRES_PER_GALLON", "3.875", "3.785", "gallons_to_litres", "litres_to_gallons", "gallons", "a US gallon holds 3.785 litres", "fuel volume"),
    ("durations.py", "SECONDS_PER_HOUR", "360", "3600", "hours_to_seconds", "seconds_to_hours", "hours", "an hour has 3600 seconds", "timer"),
    ("sea.py", "METRES_PER_NAUTICAL_MILE", "1825", "1852", "nm_to_metres", "metres_to_nm", "nm", "a nautical mile is 1852 metres", "navigation"),
    ("recipes.py", "GRAMS_PER_OUNCE", "23.85", "28.35", "ounces_to_grams", "grams_to_ounces", "oz", "an ounce is about 28.35 grams", "recipe scaling"),
    ("nutrition.py", "KJ_PER_KCAL", "4.814", "4.184", "kcal_to_kj", "kj_to_kcal", "kcal", "one kilocalorie equals 4.184 kilojoules", "food label"),
    ("tyres.py", "PSI_PER_BAR", "15.404", "14.504", "bar_to_psi", "psi_to_bar", "bar", "one bar is roughly 14.504 psi", "tyre pressure"),
    ("land.py", "SQ_METRES_PER_ACRE", "4064.86", "4046.86", "acres_to_sq_metres", "sq_metres_to_acres", "acres", "an acre is 4046.86 square metres", "land area"),
    ("wind.py", "KMH_PER_KNOT", "1.582", "1.852", "knots_to_kmh", "kmh_to_knots", "knots", "one knot is 1.852 km/h", "wind speed"),
]


def _l1_constant(rng: random.Random) -> TaskDraft:
    path, const, wrong, right, fwd, back, arg, fact, noun = pick(rng, _CONSTANTS)
    x = rng.choice([2, 3, 5, 10, 12, 25])
    src = fill(dd('''
        """@noun@ conversions."""

        @const@ = @wrong@


        def @fwd@(@arg@):
            return @arg@ * @const@


        def @back@(value):
            return value / @const@
    '''), noun=noun.capitalize(), const=const, wrong=wrong, fwd=fwd, arg=arg, back=back)
    r = float(right)
    prose = pick(rng, [
        f"In {path} the constant {const} is {wrong}, but {fact}. Set it to {right}.",
        f"{fwd}({x}) gives {_num(x * float(wrong))} instead of {_num(x * r)}. The culprit is {const} = {wrong} in {path}; the right value is {right}. Fix the constant.",
        f"Typo report for the {noun} helpers: {path} defines {const} = {wrong}. The correct figure is {right} ({fact}). Please correct only that value.",
        f"Our {noun} numbers are all slightly off because {const} holds {wrong}. Change it to {right} in {path}.",
    ])
    check = PRELUDE + dd(f'''
        import math
        import {path[:-3]} as m
        assert math.isclose(m.{const}, {r}), m.{const}
        for x in (1, {x}, 0.5, 100):
            assert math.isclose(m.{fwd}(x), x * {r}, rel_tol=1e-9), (x, m.{fwd}(x))
            assert math.isclose(m.{back}(x * {r}), x, rel_tol=1e-9), x
        print("ok")
    ''')
    steps = [edit(path, f"{const} = {wrong}", f"{const} = {right}", f"Replace the wrong value of {const}."),
             submit(f"{const} in {path} is now {right}.")]
    return draft(prose, {path: src}, check, steps, ["python", "constant", "units"])


_BOUNDARIES = [
    # file, function, param, buggy, fixed, rule, true cases, false cases
    ("fares.py", "is_child_fare", "age", "age < 12", "age <= 12", "Children aged 12 and under travel at the child fare.", [0, 5, 12], [13, 40]),
    ("exams.py", "passed", "score", "score > 50", "score >= 50", "A score of 50 or more is a pass.", [50, 51, 100], [49, 0]),
    ("delivery.py", "free_delivery", "total", "total > 40", "total >= 40", "Orders of 40.00 or more ship for free.", [40, 40.01, 99], [39.99, 0]),
    ("battery.py", "low_battery", "percent", "percent < 15", "percent <= 15", "The low-battery warning shows at 15 percent or less.", [15, 3], [16, 80]),
    ("parking.py", "overstayed", "minutes", "minutes >= 120", "minutes > 120", "A car may park for two hours; only longer stays are overstays.", [121, 300], [120, 30]),
    ("warehouse.py", "needs_reorder", "stock", "stock < 10", "stock <= 10", "A product is reordered once 10 or fewer units are left.", [10, 2, 0], [11, 50]),
    ("library.py", "is_overdue", "days_out", "days_out >= 21", "days_out > 21", "Loans run for 21 days, so a book is overdue only after day 21.", [22, 40], [21, 3]),
    ("gym.py", "is_senior", "age", "age > 65", "age >= 65", "Members qualify for the senior rate from their 65th birthday.", [65, 80], [64, 30]),
]


def _l1_boundary(rng: random.Random) -> TaskDraft:
    path, func, param, buggy, fixed, rule, yes, no = pick(rng, _BOUNDARIES)
    edge = next(v for v in yes + no if eval(buggy, {param: v}) != eval(fixed, {param: v}))
    want = eval(fixed, {param: edge})
    src = fill(dd('''
        def @func@(@param@):
            """@rule@"""
            return @buggy@
    '''), func=func, param=param, rule=rule, buggy=buggy)
    prose = pick(rng, [
        f"{func}() in {path} gets the edge case wrong. {rule} The comparison `{buggy}` must become `{fixed}`.",
        f"Bug: {func}({edge}) returns {not want}, which contradicts the rule ({rule.rstrip('.').lower()}). Change `{buggy}` to `{fixed}` in {path}.",
        f"{rule} Yet {path} says `return {buggy}`, so the boundary value {edge} lands on the wrong side. Make it `{fixed}`.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func}
        for v in {yes!r}:
            assert {func}(v) is True, (v, {func}(v))
        for v in {no!r}:
            assert {func}(v) is False, (v, {func}(v))
        print("ok")
    ''')
    steps = [edit(path, f"return {buggy}", f"return {fixed}", "Fix the comparison at the boundary."),
             submit(f"{func}() now uses `{fixed}`, so {edge} gives {want}.")]
    return draft(prose, {path: src}, check, steps, ["python", "comparison", "boundary"])


_TYPOS = [
    # file, function, params, f-string body with typo, typo, fixed word, sample args
    ("cart.py", "count_label", "n", 'f"{n} itmes in your cart"', "itmes", "items", [(3,), (0,), (12,)]),
    ("weather.py", "describe", "temp", 'f"Temprature: {temp} C"', "Temprature", "Temperature", [(21,), (-4,)]),
    ("orders.py", "status_line", "order_id", 'f"Order {order_id} recieved"', "recieved", "received", [(7,), (1042,)]),
    ("mailer.py", "subject", "name", 'f"Wellcome aboard, {name}!"', "Wellcome", "Welcome", [("Ann",), ("Raj",)]),
    ("billing.py", "due_notice", "days", 'f"Payment due in {days} dasy"', "dasy", "days", [(5,), (30,)]),
    ("quiz.py", "result", "score, total", 'f"You scored {score} out off {total}"', "out off", "out of", [(7, 10), (0, 3)]),
    ("tickets.py", "seat_label", "row, seat", 'f"Row {row}, seet {seat}"', "seet", "seat", [("F", 12), ("A", 1)]),
]


def _l1_typo(rng: random.Random) -> TaskDraft:
    path, func, params, body, typo, word, samples = pick(rng, _TYPOS)
    src = f"def {func}({params}):\n    return {body}\n"
    fixed_body = body.replace(typo, word)
    names = [p.strip() for p in params.split(",")]
    ex = samples[0]
    ex_call = f"{func}({', '.join(repr(a) for a in ex)})"
    got = eval(body, dict(zip(names, ex)))
    prose = pick(rng, [
        f"{ex_call} in {path} returns {got!r}. The word \"{typo}\" is misspelled; it should read \"{word}\". Fix the text.",
        f"Spelling mistake in the message built by {func}() ({path}): \"{typo}\" should be \"{word}\". Correct it, nothing else.",
        f"A user noticed that our output says \"{typo}\". Please change it to \"{word}\" in the string that {func}() returns ({path}).",
    ])
    cases = [(a, eval(fixed_body, dict(zip(names, a)))) for a in samples]
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func}
        for args, want in {cases!r}:
            got = {func}(*args)
            assert got == want, (args, got, want)
        print("ok")
    ''')
    steps = [edit(path, typo, word, "Fix the misspelled word."), submit(f"{func}() now says \"{word}\".")]
    return draft(prose, {path: src}, check, steps, ["python", "strings", "typo"])


_DEFAULTS = [
    # file, function, params (with @d@ default), body, wrong default, right default, story, calls -> expected via body
    ("pages.py", "first_page", "items, per_page=@d@", "return list(items[:per_page])", "25", "20", "a page should hold 20 entries by default"),
    ("money.py", "round_money", "amount, places=@d@", "return round(amount, places)", "1", "2", "amounts are rounded to whole cents (2 places) unless told otherwise"),
    ("greet.py", "greet", "name, punctuation=@d@", 'return f"Hello, {name}{punctuation}"', '"?"', '"!"', 'the greeting ends in "!" by default'),
    ("cards.py", "mask", "number, visible=@d@", 'return "*" * (len(number) - visible) + number[len(number) - visible:]', "2", "4", "card numbers show their last 4 digits by default"),
    ("csvrow.py", "split_row", "line, sep=@d@", "return [cell.strip() for cell in line.split(sep)]", '";"', '","', "rows are comma separated unless a separator is passed"),
    ("retry.py", "delays", "attempts=@d@, base=1.0", "return [base * 2 ** i for i in range(attempts)]", "5", "3", "three attempts are made by default"),
]
_DEFAULT_CALLS = {
    "first_page": ([list(range(40))], [(list(range(40)), 5)]),
    "round_money": ([2.3456], [(2.3456, 1)]),
    "greet": (["Mia"], [("Mia", ".")]),
    "mask": (["4111222233334444"], [("4111222233334444", 2)]),
    "split_row": (["a, b,c"], [("a;b ; c", ";")]),
    "delays": ([], [(2, 0.5)]),
}


def _l1_default(rng: random.Random) -> TaskDraft:
    path, func, params, body, wrong, right, story = pick(rng, _DEFAULTS)
    src = f"def {func}({fill(params, d=wrong)}):\n    {body}\n"
    good = f"def {func}({fill(params, d=right)}):\n    {body}\n"
    default_args, explicit = _DEFAULT_CALLS[func]
    env: dict = {}
    exec(good, env)
    cases = [(tuple(default_args), env[func](*default_args))] + [(a, env[func](*a)) for a in explicit]
    param = params.split("=@d@")[0].split(",")[-1].strip()
    prose = pick(rng, [
        f"The default of `{param}` in {func}() ({path}) is {wrong}, but {story}. Change the default to {right}.",
        f"In {path}, {func}'s `{param}` parameter defaults to {wrong}. It should default to {right}: {story}.",
        f"Wrong default value: {story}, so `{param}={wrong}` in the signature of {func} ({path}) has to be `{param}={right}`.",
    ])
    check = PRELUDE + dd(f'''
        from {path[:-3]} import {func}
        for args, want in {cases!r}:
            got = {func}(*args)
            assert got == want, (args, got, want)
        print("ok")
    ''')
    steps = [edit(path, f"{param}={wrong}", f"{param}={right}", "Change the default."),
             submit(f"{func}() now defaults {param} to {right}.")]
    return draft(prose, {path: src}, check, steps, ["python", "defaults"])


_OPERATORS = [
    # file, function, params, buggy expr, fixed expr, meaning, sample args
    ("shapes.py", "triangle_area", "base, height", "base * height * 2", "base * height / 2", "half of base times height", [(4, 3), (10, 5), (1, 1)]),
    ("travel.py", "average_speed", "km, hours", "km * hours", "km / hours", "distance divided by time", [(120, 2), (45, 0.5)]),
    ("shop.py", "net_price", "gross, discount", "gross + discount", "gross - discount", "the gross price minus the discount", [(50, 5), (19.5, 2.5)]),
    ("budget.py", "remaining", "budget, spent", "spent - budget", "budget - spent", "what is left of the budget", [(100, 30), (20, 25)]),
    ("temps.py", "to_kelvin", "celsius", "celsius - 273.15", "celsius + 273.15", "the Celsius value plus 273.15", [(0,), (100,), (-273.15,)]),
    ("running.py", "pace", "minutes, km", "km / minutes", "minutes / km", "minutes per kilometre", [(50, 10), (21, 5)]),
    ("fence.py", "square_perimeter", "side", "side + 4", "side * 4", "four times the side", [(3,), (0.5,), (10,)]),
]


def _l1_operator(rng: random.Random) -> TaskDraft:
    path, func, params, buggy, fixed, meaning, samples = pick(rng, _OPERATORS)
    names = [p.strip() for p in params.split(",")]
    src = f"def {func}({params}):\n    return {buggy}\n"
    cases = [(a, eval(fixed, dict(zip(names, a)))) for a in samples]
    a0 = samples[0]
    call = f"{func}({', '.join(map(str, a0))})"
    prose = pick(rng, [
        f"{call} should be {_num(cases[0][1])} ({meaning}) but {path} returns {_num(eval(buggy, dict(zip(names, a0))))}. Its `return {buggy}` uses the wrong operation; fix it.",
        f"{func}() in {path} must return {meaning}. The line `return {buggy}` is wrong: make it `return {fixed}`.",
        f"Wrong arithmetic in {path}: `{buggy}` should read `{fixed}` so that {func} gives {meaning}.",
    ])
    check = PRELUDE + dd(f'''
        import math
        from {path[:-3]} import {func}
        for args, want in {cases!r}:
            got = {func}(*args)
            assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (args, got, want)
        print("ok")
    ''')
    steps = [edit(path, f"return {buggy}", f"return {fixed}", "Fix the operator."),
             submit(f"{func}() now returns {fixed}.")]
    return draft(prose, {path: src}, check, steps, ["python", "arithmetic"])


# ---------------------------------------------------------------- level 2: a symptom; read, edit, run

# Each: file, docstring, buggy function source, old, new, main call, checker cases (args, want), symptom prose.
_L2 = [
    dict(path="series.py", ctx='the maths worksheet generator', func="sum_to", params="n", doc="Sum of the whole numbers 1..n (n included).",
         body="total = 0\nfor k in range(1, n):\n    total += k\nreturn total",
         old="range(1, n)", new="range(1, n + 1)", demo=(10,),
         cases=[((10,), 55), ((1,), 1), ((0,), 0), ((4,), 10)], kind="off-by-one"),
    dict(path="launch.py", ctx='the rocket-launch animation', func="countdown", params="start", doc="The numbers from start down to 1.",
         body="return list(range(start, 1, -1))", old="range(start, 1, -1)", new="range(start, 0, -1)", demo=(5,),
         cases=[((5,), [5, 4, 3, 2, 1]), ((1,), [1]), ((0,), [])], kind="off-by-one"),
    dict(path="paging.py", ctx="the admin table's pager", func="page_count", params="items, per_page", doc="How many pages `items` entries fill (a partly full page counts).",
         body="return items // per_page", old="return items // per_page", new="return -(-items // per_page)", demo=(45, 20),
         cases=[((45, 20), 3), ((40, 20), 2), ((0, 20), 0), ((1, 10), 1)], kind="rounding"),
    dict(path="evens.py", ctx='a homework checker for even numbers', func="evens_up_to", params="n", doc="Even numbers from 0 to n, n included when even.",
         body="return list(range(0, n, 2))", old="range(0, n, 2)", new="range(0, n + 1, 2)", demo=(10,),
         cases=[((10,), [0, 2, 4, 6, 8, 10]), ((7,), [0, 2, 4, 6]), ((0,), [0])], kind="off-by-one"),
    dict(path="sale.py", ctx="the shop's weekend sale banner", func="discounted", params="price, percent", doc="The price after taking `percent` percent off.",
         body="return price - percent", old="return price - percent", new="return price * (1 - percent / 100)", demo=(80, 25),
         cases=[((80, 25), 60.0), ((10, 0), 10.0), ((200, 50), 100.0), ((9.99, 100), 0.0)], kind="formula"),
    dict(path="health.py", ctx="the fitness app's body-mass index screen", func="bmi", params="weight_kg, height_m", doc="Body-mass index: weight divided by height squared.",
         body="return round(weight_kg / height_m * 2, 1)", old="height_m * 2", new="height_m ** 2", demo=(72, 1.8),
         cases=[((72, 1.8), 22.2), ((50, 1.6), 19.5), ((100, 2.0), 25.0)], kind="formula"),
    dict(path="loans.py", ctx='the savings calculator', func="simple_interest", params="principal, rate_percent, years", doc="Interest earned at `rate_percent` percent a year, not compounded.",
         body="return principal * rate_percent * years", old="principal * rate_percent * years", new="principal * rate_percent / 100 * years", demo=(1000, 5, 2),
         cases=[((1000, 5, 2), 100.0), ((500, 4, 1), 20.0), ((0, 7, 9), 0.0)], kind="formula"),
    dict(path="invoices.py", ctx='the accounting export', func="invoice_id", params="n", doc="Invoice numbers look like INV-0042: four digits, zero padded.",
         body='return f"INV-{n}"', old='f"INV-{n}"', new='f"INV-{n:04d}"', demo=(42,),
         cases=[((42,), "INV-0042"), ((7,), "INV-0007"), ((1234,), "INV-1234")], kind="formatting"),
    dict(path="clock.py", ctx='the departure board', func="hhmm", params="hours, minutes", doc="A 24-hour time as HH:MM, both parts two digits.",
         body='return f"{hours}:{minutes}"', old='f"{hours}:{minutes}"', new='f"{hours:02d}:{minutes:02d}"', demo=(7, 5),
         cases=[((7, 5), "07:05"), ((23, 59), "23:59"), ((0, 0), "00:00")], kind="formatting"),
    dict(path="tags.py", ctx='the shelf price labels', func="price_tag", params="cents", doc="Integer cents shown as dollars with two decimals, e.g. $3.05.",
         body='return f"${cents / 100}"', old='f"${cents / 100}"', new='f"${cents / 100:.2f}"', demo=(350,),
         cases=[((350,), "$3.50"), ((305,), "$3.05"), ((1000,), "$10.00"), ((99,), "$0.99")], kind="formatting"),
    dict(path="board.py", ctx="the game's high-score table", func="ranking", params="scores", doc="Player names by score, highest score first.",
         body="return [name for name, _ in sorted(scores.items(), key=lambda kv: kv[1])]", old="key=lambda kv: kv[1])", new="key=lambda kv: -kv[1])", demo=({"ana": 7, "bo": 12, "cy": 3},),
         cases=[(({"ana": 7, "bo": 12, "cy": 3},), ["bo", "ana", "cy"]), (({"x": 1},), ["x"])], kind="sorting"),
    dict(path="catalog.py", ctx='the product listing sorted by price', func="cheapest_first", params="products", doc="(name, price) pairs ordered from the lowest price to the highest.",
         body="return sorted(products, key=lambda p: p[1], reverse=True)", old=", reverse=True)", new=")", demo=([("lamp", 30), ("mug", 8), ("desk", 120)],),
         cases=[(([("lamp", 30), ("mug", 8), ("desk", 120)],), [("mug", 8), ("lamp", 30), ("desk", 120)])], kind="sorting"),
    dict(path="signups.py", ctx='the newsletter sign-up statistics', func="unique_emails", params="emails", doc="How many different addresses there are; case and surrounding spaces do not matter.",
         body="return len(set(emails))", old="set(emails)", new="{e.strip().lower() for e in emails}", demo=(["Ann@x.org", "ann@x.org ", "bo@y.net"],),
         cases=[((["Ann@x.org", "ann@x.org ", "bo@y.net"],), 2), (([],), 0), ((["A@B.C", " a@b.c", "a@b.c"],), 1)], kind="normalisation"),
    dict(path="reviews.py", ctx='the star ratings on product pages', func="average_rating", params="ratings", doc="Mean of the star ratings, as a float.",
         body="return sum(ratings) // len(ratings)", old="sum(ratings) // len(ratings)", new="sum(ratings) / len(ratings)", demo=([4, 5, 5, 3],),
         cases=[(([4, 5, 5, 3],), 4.25), (([1, 2],), 1.5), (([5],), 5.0)], kind="division"),
    dict(path="dinner.py", ctx='the bill-splitting app', func="share", params="total, people", doc="Each person's share of the bill, rounded to cents.",
         body="return total // people", old="return total // people", new="return round(total / people, 2)", demo=(100, 3),
         cases=[((100, 3), 33.33), ((90, 4), 22.5), ((10, 1), 10.0)], kind="division"),
    dict(path="words.py", ctx="the spelling game", func="longest_word", params="text", doc="The longest word of the text; the first one wins a tie.",
         body="best = ''\nfor word in text.split():\n    if len(word) >= len(best):\n        best = word\nreturn best", old="len(word) >= len(best)", new="len(word) > len(best)", demo=("tiny huge vast",),
         cases=[(("tiny huge vast",), "tiny"), (("a bb cc",), "bb"), (("",), ""), (("one three seven",), "three")], kind="tie-breaking"),
    dict(path="inventory_value.py", ctx="the warehouse stock report", func="stock_value", params="items", doc="Total value of the stock: quantity times unit price, summed over all items.",
         body="return sum(qty + price for qty, price in items)", old="qty + price", new="qty * price", demo=([(3, 2.5), (10, 1.0)],),
         cases=[(([(3, 2.5), (10, 1.0)],), 17.5), (([],), 0), (([(0, 99.0), (2, 4.0)],), 8.0)], kind="formula"),
    dict(path="greeting.py", ctx="the reception kiosk", func="initials", params="full_name", doc="Upper-case initials of every part of the name, e.g. 'ada king lovelace' -> 'AKL'.",
         body="return ''.join(part[0] for part in full_name.split())", old="part[0] for part", new="part[0].upper() for part", demo=("ada king lovelace",),
         cases=[(("ada king lovelace",), "AKL"), (("Bo",), "B"), (("  mary   ann  ",), "MA")], kind="normalisation"),
    dict(path="thermo.py", ctx="the greenhouse monitor", func="to_fahrenheit", params="celsius", doc="Celsius converted to Fahrenheit (times 9/5, plus 32).",
         body="return celsius * 5 / 9 + 32", old="celsius * 5 / 9 + 32", new="celsius * 9 / 5 + 32", demo=(100,),
         cases=[((100,), 212.0), ((0,), 32.0), ((-40,), -40.0), ((37,), 98.6)], kind="formula"),
    dict(path="streaks.py", ctx="the habit tracker", func="longest_streak", params="days", doc="Length of the longest run of consecutive True values.",
         body="best = run = 0\nfor done in days:\n    run = run + 1 if done else 0\nbest = max(best, run)\nreturn best", old="else 0\n    best = max(best, run)", new="else 0\n        best = max(best, run)", demo=([True, True, True, False, True],),
         cases=[(([True, True, True, False, True],), 3), (([],), 0), (([False, True, True],), 2), (([True, False],), 1)], kind="indentation"),
    dict(path="playtime.py", ctx="the music player's album screen", func="album_length", params="tracks", doc="Total length of the tracks (seconds) formatted as M:SS.",
         body="total = sum(tracks)\nreturn f'{total // 60}:{total % 60}'", old="{total % 60}", new="{total % 60:02d}", demo=([185, 200],),
         cases=[(([185, 200],), "6:25"), (([61],), "1:01"), (([30, 30],), "1:00"), (([],), "0:00")], kind="formatting"),
    dict(path="vowels.py", ctx="the language-learning app", func="vowel_count", params="text", doc="Number of vowels (a, e, i, o, u) in the text, upper or lower case.",
         body="return sum(1 for ch in text if ch in 'aeiou')", old="if ch in 'aeiou'", new="if ch.lower() in 'aeiou'", demo=("Orange Ice",),
         cases=[(("Orange Ice",), 5), (("",), 0), (("xyz",), 0), (("AEIOU aeiou",), 10)], kind="case-sensitivity"),
]


def _l2(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _L2)
    path, func = spec["path"], spec["func"]
    body = "\n".join("    " + line for line in spec["body"].splitlines())
    src = f'def {func}({spec["params"]}):\n    """{spec["doc"]}"""\n{body}\n\n\nif __name__ == "__main__":\n    print({func}({", ".join(map(repr, spec["demo"]))}))\n'
    env: dict = {}
    exec(src.replace(spec["old"], spec["new"]).split("if __name__")[0], env)
    bad: dict = {}
    exec(src.split("if __name__")[0], bad)
    want = env[func](*spec["demo"])
    got = bad[func](*spec["demo"])
    call = f"{func}({', '.join(map(repr, spec['demo']))})"
    doc = spec["doc"].rstrip(".")
    doc = doc[0].lower() + doc[1:]
    ctx = spec["ctx"]
    prose = pick(rng, [
        f"Bug in {ctx}: python {path} prints {got!r}, but {call} should give {want!r}. Find the mistake in {func}() and fix it, then run python {path} again.",
        f"{func}() in {path} is supposed to return {doc}. It does not: {call} comes out as {got!r} instead of {want!r}. Please fix it and run the script to confirm.",
        f"People using {ctx} see wrong output. The docstring of {func} ({path}) says it returns {doc}, yet for {', '.join(map(repr, spec['demo']))} we get {got!r}, expected {want!r}. Repair it and run `python {path}`.",
        f"I get {got!r} from {call}; the right answer is {want!r}. Could you fix {path} and then execute it with python to show the new output?",
        f"{ctx[0].upper() + ctx[1:]} relies on {path}, which has a {spec['kind']} problem in {func}(). Read it, correct the one faulty line, and run it: it should print {want!r}.",
        f"Ticket: \"{ctx} is broken, {func} returned {got!r}\". Expected {want!r}. Fix {path} and show the output of running it.",
    ])
    check = PRELUDE + dd(f'''
        import math
        from {path[:-3]} import {func}
        def same(a, b):
            if isinstance(a, float) or isinstance(b, float):
                return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            return a == b
        for args, want in {spec["cases"]!r}:
            got = {func}(*args)
            assert same(got, want), (args, got, want)
        print("ok")
    ''')
    steps = [read(path), edit(path, spec["old"], spec["new"], f"The {spec['kind']} bug is in `{spec['old']}`."),
             run(f"python {path}"), submit(f"Fixed {func}() in {path}; python {path} now prints {want!r}.")]
    return draft(prose, {path: src}, check, steps, ["python", spec["kind"]])


# ---------------------------------------------------------------- level 3: tests fail across several files

def _tests_cmd(rng: random.Random) -> str:
    return pick(rng, ["python -m pytest -q", "python -m pytest -q tests", "python -m pytest -x -q"])


_EMPTY = [
    # package-ish names: module, function, params, list param, expression over the list, the empty result, domain words
    ("shop_stats", "average_order_value", "orders", "sum(o['total'] for o in orders) / len(orders)", "0.0", "order", "orders",
     "[{'total': 10.0}, {'total': 30.0}]", 20.0, "[{'total': 5.5}]", 5.5),
    ("latency", "mean_latency_ms", "samples", "sum(s['ms'] for s in samples) / len(samples)", "0.0", "sample", "samples",
     "[{'ms': 120}, {'ms': 80}, {'ms': 100}]", 100.0, "[{'ms': 7}]", 7.0),
    ("progress", "completion_ratio", "tasks", "sum(1 for t in tasks if t['done']) / len(tasks)", "0.0", "task", "tasks",
     "[{'done': True}, {'done': False}, {'done': True}, {'done': True}]", 0.75, "[{'done': False}]", 0.0),
    ("grades", "class_average", "students", "sum(s['score'] for s in students) / len(students)", "0.0", "student", "students",
     "[{'score': 70}, {'score': 90}]", 80.0, "[{'score': 64}]", 64.0),
]


def _l3_empty(rng: random.Random) -> TaskDraft:
    mod, func, param, expr, empty, noun, plural, ex1, want1, ex2, want2 = pick(rng, _EMPTY)
    report = pick(rng, ["report", "dashboard", "summary"])
    src = f"def {func}({param}):\n    return {expr}\n"
    rep = dd(f'''
        from {mod} import {func}


        def {report}_line(label, {param}):
            return f"{{label}}: {{{func}({param}):.2f}}"
    ''')
    tests = dd(f'''
        from {mod} import {func}
        from {report} import {report}_line


        def test_several():
            assert {func}({ex1}) == {want1!r}


        def test_single():
            assert {func}({ex2}) == {want2!r}


        def test_no_{plural}():
            assert {func}([]) == {empty}
            assert {report}_line("today", []) == "today: 0.00"
    ''')
    files = {f"{mod}.py": src, f"{report}.py": rep, f"tests/test_{mod}.py": tests}
    cmd = _tests_cmd(rng)
    prose = pick(rng, [
        f"The {report} crashes with ZeroDivisionError on a day with no {plural}. When the list is empty, {func}() should return {empty} instead. The suite under tests/ shows the failure; make it pass without changing the tests.",
        f"{func}([]) raises instead of returning {empty}. Please fix it (the {report}_line helper in {report}.py calls it) and get `{cmd}` green.",
        f"Edge case bug: with zero {plural} the {report} blows up. Run the tests, fix the root cause in the right module, and run them again.",
    ])
    check = PRELUDE + dd(f'''
        import subprocess
        from {mod} import {func}
        from {report} import {report}_line
        assert {func}({ex1}) == {want1!r}
        assert {func}({ex2}) == {want2!r}
        got = {func}([])
        assert got == {empty} and not isinstance(got, bool), got
        assert {report}_line("x", []) == "x: 0.00"
        assert {report}_line("y", {ex1}) == "y: {want1:.2f}"
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        assert "def test_no_{plural}" in open("tests/test_{mod}.py").read(), "tests removed"
        print("ok")
    ''')
    steps = [run(cmd, "Run the tests to see the failure."),
             edit(f"{mod}.py", f"    return {expr}\n", f"    if not {param}:\n        return {empty}\n    return {expr}\n", "Guard the empty list."),
             run(cmd, "Rerun."), submit(f"{func}() returns {empty} for an empty list; the tests pass.")]
    return draft(prose, files, check, steps, ["python", "pytest", "edge-case", "multi-file"])


_MUTABLE = [
    ("playlists", "new_playlist", "name", "songs", "song", "add_song"),
    ("orders", "make_order", "customer", "lines", "line", "add_line"),
    ("sessions", "start_session", "user", "events", "event", "record"),
    ("trips", "plan_trip", "destination", "stops", "stop", "add_stop"),
]


def _l3_mutable(rng: random.Random) -> TaskDraft:
    mod, maker, key, field, item, adder = pick(rng, _MUTABLE)
    src = dd(f'''
        def {maker}({key}, {field}=[]):
            """A new {mod[:-1]} record; `{field}` starts empty unless given."""
            return {{"{key}": {key}, "{field}": {field}}}


        def {adder}(record, {item}):
            record["{field}"].append({item})
            return record
    ''')
    tests = dd(f'''
        from {mod} import {adder}, {maker}


        def test_given_{field}():
            r = {maker}("a", ["x"])
            assert r["{field}"] == ["x"]


        def test_add():
            r = {maker}("b")
            {adder}(r, "y")
            assert r["{field}"] == ["y"]
    ''')
    files = {f"{mod}.py": src, f"test_{mod}.py": tests}
    prose = pick(rng, [
        f"Strange bug in {mod}.py: after calling {adder}() on one record made with {maker}(), other records made without explicit {field} contain that {item} too. Fix it and add a regression test to test_{mod}.py that would have caught it.",
        f"Records created by {maker}() seem to share their `{field}` list: adding a {item} to one shows up in the next one. Find the cause, fix it, and write a test in test_{mod}.py proving two fresh records are independent. Run the tests.",
        f"Please fix the shared-state problem in {mod}.py ({maker} / {adder}) and cover it with a new pytest test in test_{mod}.py; the current tests do not notice it.",
    ])
    check = PRELUDE + dd(f'''
        import os, shutil, subprocess, tempfile
        from pathlib import Path
        import {mod} as m
        a = m.{maker}("one")
        m.{adder}(a, "p")
        b = m.{maker}("two")
        assert b["{field}"] == [], b
        assert a["{field}"] == ["p"] and a["{key}"] == "one"
        c = m.{maker}("three", ["q"])
        m.{adder}(c, "r")
        assert c["{field}"] == ["q", "r"]
        d = m.{maker}("four")
        assert d["{field}"] == [] and isinstance(d["{field}"], list)
        BUGGY = {src!r}
        def pytest_in(source):
            tmp = Path(tempfile.mkdtemp())
            try:
                shutil.copy("test_{mod}.py", tmp)
                (tmp / "{mod}.py").write_text(source)
                return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_{mod}.py"], cwd=tmp,
                                      capture_output=True, text=True, env={{**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}})
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_{mod}.py"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        assert pytest_in(BUGGY).returncode != 0, "the tests do not catch the shared default list"
        print("ok")
    ''')
    fixed_src = src.replace(f"{field}=[]):", f"{field}=None):").replace(
        f'    return {{"{key}": {key}, "{field}": {field}}}',
        f'    return {{"{key}": {key}, "{field}": [] if {field} is None else {field}}}')
    steps = [read(f"{mod}.py"),
             write(f"{mod}.py", fixed_src, "The default list is created once and shared; use None."),
             edit(f"test_{mod}.py", "def test_add():", dd(f'''
                def test_fresh_records_do_not_share_{field}():
                    first = {maker}("c")
                    {adder}(first, "z")
                    assert {maker}("d")["{field}"] == []


                def test_add():'''), "Add the regression test."),
             run("python -m pytest -q"), submit(f"{maker}() no longer shares a default list; added a regression test.")]
    return draft(prose, files, check, steps, ["python", "pytest", "mutable-default", "regression-test"])


_PAGES = [
    ("search", "results_page", "results", "hits"),
    ("comments", "comment_page", "comments", "comments"),
    ("shop", "product_page", "products", "products"),
    ("logs", "log_page", "lines", "log lines"),
]


def _l3_paging(rng: random.Random) -> TaskDraft:
    mod, func, param, noun = pick(rng, _PAGES)
    size = rng.choice([5, 10, 20])
    src = dd(f'''
        PAGE_SIZE = {size}


        def {func}({param}, number, size=PAGE_SIZE):
            """Page `number` of {param} (pages are numbered from 1)."""
            if number < 1:
                raise ValueError("pages start at 1")
            start = number * size
            return {param}[start:start + size]


        def page_total({param}, size=PAGE_SIZE):
            return len({param}) // size
    ''')
    view = dd(f'''
        from {mod} import {func}, page_total


        def render({param}, number):
            items = {func}({param}, number)
            return f"page {{number}}/{{page_total({param})}}: " + ", ".join(map(str, items))
    ''')
    tests = dd(f'''
        import pytest

        from {mod} import {func}, page_total
        from view import render

        DATA = list(range(1, 24))


        def test_first_page():
            assert {func}(DATA, 1, 5) == [1, 2, 3, 4, 5]


        def test_last_partial_page():
            assert {func}(DATA, 5, 5) == [21, 22, 23]
            assert page_total(DATA, 5) == 5


        def test_render():
            assert render(list(range(3)), 1).startswith("page 1/1: 0, 1, 2")


        def test_bad_page():
            with pytest.raises(ValueError):
                {func}(DATA, 0)
    ''')
    files = {f"{mod}.py": src, "view.py": view, f"tests/test_{mod}.py": tests}
    prose = pick(rng, [
        f"Paging of {noun} is broken: page 1 skips the first {size} {noun} and the page count ignores a final partial page. Fix {mod}.py so the tests in tests/ pass (pages are numbered from 1).",
        f"Users report that the first page of {noun} is missing and that view.render() says there is one page too few. Two bugs in {mod}.py; fix both and run the test suite.",
        f"{func}() and page_total() in {mod}.py disagree with the 1-based page numbers used everywhere else. Run the tests, correct both functions, confirm everything passes.",
    ])
    check = PRELUDE + dd(f'''
        import subprocess
        import {mod} as m
        for n in range(0, 31):
            data = list(range(n))
            for size in (1, 3, 5, 7):
                total = -(-n // size)
                assert m.page_total(data, size) == total, (n, size, m.page_total(data, size))
                for p in range(1, total + 2):
                    assert m.{func}(data, p, size) == data[(p - 1) * size:p * size], (n, size, p)
        assert m.{func}(list(range(50)), 1) == list(range({size}))
        try:
            m.{func}([1], 0)
        except ValueError:
            pass
        else:
            sys.exit("page 0 accepted")
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        print("ok")
    ''')
    steps = [run("python -m pytest -q", "Run the tests."), read(f"{mod}.py"),
             edit(f"{mod}.py", "start = number * size", "start = (number - 1) * size", "Pages are 1-based."),
             edit(f"{mod}.py", f"return len({param}) // size", f"return -(-len({param}) // size)", "Round the page count up."),
             run("python -m pytest -q", "Rerun."), submit(f"{func}() now starts at (number - 1) * size and page_total() rounds up.")]
    return draft(prose, files, check, steps, ["python", "pytest", "off-by-one", "multi-file"])


_HELPER = [
    # helper module, function, buggy body, fixed body, caller module, caller fn, story
    ("money", "parse_amount", 'return float(text.strip().lstrip("$"))', 'return float(text.strip().lstrip("$").replace(",", ""))',
     "expenses", "total_spent", "amounts with thousands separators like \"$1,250.00\"",
     [("$1,250.00", 1250.0), (" 12.5 ", 12.5), ("$3", 3.0), ("1,000,000", 1000000.0)]),
    ("names", "normalize_name", "return text.strip().title()", 'return " ".join(text.split()).title()',
     "roster", "unique_people", "names with doubled spaces inside, like \"ada  lovelace\"",
     [("ada  lovelace", "Ada Lovelace"), ("  grace hopper ", "Grace Hopper"), ("alan\tturing", "Alan Turing")]),
    ("durations", "to_minutes", 'hours, _, minutes = text.partition(":")\n    return int(hours) * 60 + int(minutes or 0) * 60', 'hours, _, minutes = text.partition(":")\n    return int(hours) * 60 + int(minutes or 0)',
     "timesheet", "total_minutes", "entries with minutes, like \"1:30\"",
     [("1:30", 90), ("2", 120), ("0:45", 45), ("10:05", 605)]),
]


def _l3_helper(rng: random.Random) -> TaskDraft:
    helper, hfunc, buggy, fixed, caller, cfunc, story, cases = pick(rng, _HELPER)
    src = f"def {hfunc}(text):\n    {buggy}\n"
    agg = "len({%s(t) for t in texts})" % hfunc if hfunc == "normalize_name" else "sum(%s(t) for t in texts)" % hfunc
    caller_src = dd(f'''
        from utils.{helper} import {hfunc}


        def {cfunc}(texts):
            return {agg}
    ''')
    first, firstwant = cases[0]
    if hfunc == "normalize_name":
        test_body = f"assert {cfunc}([{first!r}, {firstwant!r}]) == 1"
        ccheck = f"assert c.{cfunc}({[a for a, _ in cases] + [w for _, w in cases]!r}) == {len(cases)}"
    else:
        test_body = f"assert {cfunc}([{first!r}, {first!r}]) == {firstwant * 2!r}"
        ccheck = f"assert c.{cfunc}({[a for a, _ in cases]!r}) == {sum(w for _, w in cases)!r}"
    tests = dd(f'''
        from {caller} import {cfunc}


        def test_simple():
            assert {cfunc}([]) == 0


        def test_reported_case():
            {test_body}
    ''')
    files = {"utils/__init__.py": "", f"utils/{helper}.py": src, f"{caller}.py": caller_src, f"tests/test_{caller}.py": tests}
    prose = pick(rng, [
        f"{cfunc}() in {caller}.py gives wrong results for {story}. tests/test_{caller}.py has a failing test. The bug may not be in {caller}.py itself; find it and fix it.",
        f"Our {caller} numbers are off for {story}. Please track the problem down (look at what {caller}.py imports), fix it at its source, and make the tests pass.",
        f"Failing test in tests/test_{caller}.py. Run it, trace the wrong value into the utils package, and fix the helper there rather than patching {caller}.py.",
    ])
    check = PRELUDE + dd(f'''
        import subprocess
        from utils.{helper} import {hfunc}
        import {caller} as c
        for text, want in {cases!r}:
            assert {hfunc}(text) == want, (text, {hfunc}(text))
        {ccheck}
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        print("ok")
    ''')
    steps = [run("python -m pytest -q", "Run the failing test."), read(f"{caller}.py"), read(f"utils/{helper}.py", "The caller delegates to the helper."),
             edit(f"utils/{helper}.py", buggy, fixed, "Fix the helper."), run("python -m pytest -q", "Rerun."),
             submit(f"Fixed {hfunc}() in utils/{helper}.py; tests pass.")]
    return draft(prose, files, check, steps, ["python", "pytest", "multi-file", "parsing"])


_SHARED = [
    ("tally", "Tally", "votes", "vote", "option", "count"),
    ("inventory", "Inventory", "stock", "add", "sku", "quantity"),
    ("scoreboard", "Scoreboard", "points", "award", "team", "total"),
    ("wishlist", "Wishlist", "wanted", "want", "gift", "size"),
]


def _l3_shared(rng: random.Random) -> TaskDraft:
    mod, cls, attr, method, key, reader = pick(rng, _SHARED)
    src = dd(f'''
        class {cls}:
            {attr} = {{}}

            def {method}(self, {key}, n=1):
                self.{attr}[{key}] = self.{attr}.get({key}, 0) + n

            def {reader}(self, {key}=None):
                if {key} is None:
                    return sum(self.{attr}.values())
                return self.{attr}.get({key}, 0)
    ''')
    tests = dd(f'''
        from {mod} import {cls}


        def test_counts():
            t = {cls}()
            t.{method}("a")
            t.{method}("a", 2)
            assert t.{reader}("a") == 3


        def test_fresh_instance_is_empty():
            assert {cls}().{reader}() == 0
    ''')
    files = {f"{mod}.py": src, f"test_{mod}.py": tests}
    prose = pick(rng, [
        f"Two separate {cls} objects influence each other: what one records shows up in the other. test_{mod}.py fails when run as a whole. Fix the class so every instance has its own data.",
        f"`python -m pytest -q` fails in test_fresh_instance_is_empty, but only after another test ran. Figure out why {cls} instances are not independent and fix {mod}.py.",
        f"Bug in {mod}.py: a brand-new {cls}() already reports a non-zero {reader}() if any other {cls} was used before. Please fix it and run the tests.",
    ])
    check = PRELUDE + dd(f'''
        import subprocess
        from {mod} import {cls}
        a, b = {cls}(), {cls}()
        a.{method}("x", 4)
        a.{method}("y")
        assert b.{reader}() == 0 and b.{reader}("x") == 0
        assert a.{reader}("x") == 4 and a.{reader}() == 5
        b.{method}("x")
        assert a.{reader}("x") == 4 and b.{reader}("x") == 1
        assert {cls}().{reader}() == 0
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_{mod}.py"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        print("ok")
    ''')
    steps = [run("python -m pytest -q"), read(f"{mod}.py"),
             edit(f"{mod}.py", f"    {attr} = {{}}\n", f"    def __init__(self):\n        self.{attr} = {{}}\n", "The dict is a class attribute shared by all instances."),
             run("python -m pytest -q"), submit(f"{cls}.{attr} is now created per instance in __init__.")]
    return draft(prose, files, check, steps, ["python", "pytest", "classes", "shared-state"])


_BANDS = [
    ("shipping", "band", "weight_kg", [(2, "small"), (10, "medium")], "large", "up to and including"),
    ("tax", "bracket", "income", [(12000, "zero"), (50000, "basic")], "higher", "up to and including"),
    ("tickets", "price_group", "age", [(15, "child"), (64, "adult")], "senior", "up to and including"),
]


def _l3_bands(rng: random.Random) -> TaskDraft:
    mod, func, param, cuts, top, phr = pick(rng, _BANDS)
    (c1, n1), (c2, n2) = cuts
    src = dd(f'''
        def {func}({param}):
            if {param} < {c1}:
                return "{n1}"
            if {param} < {c2}:
                return "{n2}"
            return "{top}"


        def describe({param}):
            return f"{{{param}}} -> {{{func}({param})}}"
    ''')
    tests = dd(f'''
        from {mod} import describe, {func}


        def test_inside_bands():
            assert {func}({c1 - 1}) == "{n1}"
            assert {func}({c2 - 1}) == "{n2}"
            assert {func}({c2 + 5}) == "{top}"


        def test_edges():
            assert {func}({c1}) == "{n1}"
            assert {func}({c2}) == "{n2}"
    ''')
    files = {f"{mod}.py": src, f"test_{mod}.py": tests}
    prose = pick(rng, [
        f"The {func} rules are \"{n1}\" {phr} {c1}, \"{n2}\" {phr} {c2}, and \"{top}\" above that. {mod}.py puts the exact limits {c1} and {c2} in the next group up. Fix it; test_{mod}.py must pass.",
        f"{func}({c1}) returns \"{n2}\" and {func}({c2}) returns \"{top}\", but a value equal to a limit belongs to the lower group. Repair both comparisons in {mod}.py and run the tests.",
        f"Edge values are misclassified by {mod}.{func}(): the limits ({c1}, {c2}) are inclusive. Make the failing tests in test_{mod}.py pass.",
    ])
    check = PRELUDE + dd(f'''
        import subprocess
        from {mod} import {func}, describe
        def want(v):
            return "{n1}" if v <= {c1} else "{n2}" if v <= {c2} else "{top}"
        for v in [0, {c1} - 1, {c1} - 0.5, {c1}, {c1} + 0.5, {c1} + 1, {c2} - 1, {c2}, {c2} + 0.01, {c2} + 1, {c2} * 3]:
            assert {func}(v) == want(v), (v, {func}(v))
        assert describe({c2}) == "{c2} -> {n2}"
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_{mod}.py"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1500:]
        print("ok")
    ''')
    steps = [run("python -m pytest -q"), read(f"{mod}.py"),
             edit(f"{mod}.py", f"if {param} < {c1}:", f"if {param} <= {c1}:", "First limit is inclusive."),
             edit(f"{mod}.py", f"if {param} < {c2}:", f"if {param} <= {c2}:", "So is the second."),
             run("python -m pytest -q"), submit(f"{func}() treats {c1} and {c2} as inclusive upper limits; tests pass.")]
    return draft(prose, files, check, steps, ["python", "pytest", "boundary"])


_SCENARIOS = {
    1: [_l1_constant, _l1_boundary, _l1_typo, _l1_default, _l1_operator],
    2: [_l2],
    3: [_l3_empty, _l3_mutable, _l3_paging, _l3_helper, _l3_shared, _l3_bands],
}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return pick(rng, _SCENARIOS[level])(rng)
