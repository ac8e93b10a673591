"""data-cleaning (out of distribution: no seed demonstration): tidy messy text and CSV data.

Level 1: one command over a line-per-record text file (case, whitespace, blank lines, duplicates, comments).
Level 2: one script or one edit over a CSV (filter rows, fill a missing column, dedupe on a key, make a crashing
cleaner skip bad rows). Level 3: several cleaning rules at once (trim + normalise + dedupe, date formats, unit
conversion, missing-value placeholders with a side report, price parsing with last-wins); most level-3 checkers
also run the script on other data."""

from __future__ import annotations

import csv
import datetime
import io
import random

from lab.generators import TaskDraft
from lab.generators.families._ops import (
    CITIES, FIRST_NAMES, LAST_NAMES, RUN_IN_TMP, check, dd, intro, one, some, step, submit, wrap,
)

FAMILY = "data-cleaning"
LEVELS = (1, 2, 3)


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


_ROWS = '''
import csv, io, os
def rows_of(text):
    return [r for r in csv.reader(io.StringIO(text)) if r]
def load(path):
    assert os.path.isfile(path), f"{path} missing"
    with open(path, newline="", encoding="utf-8") as f:
        return rows_of(f.read())
'''

_OPENERS = [
    "", "", "Before tonight's import into the warehouse, this needs tidying.", "The file came from a legacy system nobody maintains.",
    "A colleague merged exports from three offices by hand, so expect inconsistencies.", "Quick data job for you.",
    "Finance re-imports the result on Monday, so be exact.", "The dashboard refuses to load the raw file as it is.",
    "Our intern typed part of this in manually.", "This is a one-off cleanup, but do it properly.",
]


def _intro(rng: random.Random, text: str) -> str:
    return intro(rng, _OPENERS, text)


# ----------------------------------------------------------------------------------------------- level 1


def _emails(rng, n):
    out = []
    for f, l in zip(some(rng, FIRST_NAMES, n), some(rng, LAST_NAMES, n)):
        out.append(f"{f}.{l}@{one(rng, ['Example.com', 'mail.example.org', 'EXAMPLE.NET', 'corp.example.com'])}")
    return out


def _l1_text_fix(rng: random.Random) -> TaskDraft:
    op = one(rng, ["lower_trim", "drop_blank", "dedupe", "drop_comments", "upper_trim", "squeeze"])
    if op == "lower_trim":
        path = one(rng, ["emails.txt", "subscribers.txt", "mailing_list.txt"])
        clean = [e.lower() for e in _emails(rng, rng.randint(5, 8))]
        raw = [one(rng, ["", " ", "  ", "\t"]) + one(rng, [c, c.upper(), c.title(), c.capitalize()]) + one(rng, ["", " ", "  "]) for c in clean]
        q = one(rng, [f"Our mail tool treats Ann@X.com and ann@x.com as different people. Fix {path} in place: small letters only, no padding around entries, order kept.",
                      f"The addresses in {path} have random capitals and stray whitespace. Normalise them in place: lower case, trimmed, same order.",
                      f"Tidy {path} with one command: each entry trimmed and converted to lowercase, still one per line, sequence unchanged."])
        raw[0] = " " + clean[0].upper()
        code = "lines = [l.strip().lower() for l in open(P) if l.strip()]"
    elif op == "upper_trim":
        path = one(rng, ["skus.txt", "codes.txt", "airports.txt"])
        clean = ["".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3)) + "-" + str(rng.randint(100, 999)) for _ in range(rng.randint(5, 9))]
        raw = [one(rng, ["", " ", "   "]) + one(rng, [c, c.lower(), c.capitalize()]) + one(rng, ["", "  ", "\t"]) for c in clean]
        q = one(rng, [f"{path} holds product codes typed in by hand. Make every code upper case without surrounding spaces, one per line, order unchanged.",
                      f"Fix the codes in {path} in place: trimmed and in capitals (e.g. `abc-123 ` -> `ABC-123`)."])
        raw[0] = clean[0].lower() + " "
        code = "lines = [l.strip().upper() for l in open(P) if l.strip()]"
    elif op == "drop_blank":
        path = one(rng, ["guests.txt", "attendees.txt", "volunteers.txt"])
        clean = [f"{f} {l}" for f, l in zip(some(rng, FIRST_NAMES, 7), some(rng, LAST_NAMES, 7))]
        raw = []
        for c in clean:
            raw += [""] * rng.randint(0, 2) + [c]
        raw.insert(1, "  ")
        q = one(rng, [f"Remove the empty lines (including ones with only spaces) from {path}. The names keep their order.",
                      f"{path} has gaps between the names from a copy-paste. Delete every blank or whitespace-only line, nothing else."])
        code = "lines = [l.rstrip('\\n') for l in open(P) if l.strip()]"
    elif op == "dedupe":
        path = one(rng, ["tags.txt", "keywords.txt", "cities.txt"])
        pool = CITIES if path == "cities.txt" else ["python", "sql", "etl", "pandas", "cloud", "docker", "ml", "dashboards", "api", "linux"]
        clean = some(rng, pool, rng.randint(5, 8))
        raw = list(clean)
        for dup in some(rng, clean, 3):
            raw.insert(rng.randint(raw.index(dup) + 1, len(raw)), dup)
        q = one(rng, [f"{path} has repeated lines. Remove the repeats so that each entry appears once, keeping the first occurrence and the original order (don't sort).",
                      f"De-duplicate {path} in place: the first time a line appears it stays, later copies go. The order of first appearances must not change."])
        code = "lines = list(dict.fromkeys(l.rstrip('\\n') for l in open(P) if l.strip()))"
    elif op == "drop_comments":
        path = one(rng, ["hosts.txt", "allowlist.txt", "servers.txt"])
        clean = [f"{one(rng, ['web', 'db', 'cache', 'queue', 'auth'])}{i}.{one(rng, ['internal', 'lan', 'example.net'])}" for i in range(rng.randint(4, 7))]
        raw = ["# hosts we trust"]
        for c in clean:
            if rng.random() < 0.4:
                raw.append(one(rng, ["# retired: old1.internal", "#temp", "# TODO check this one"]))
            raw.append(c)
        q = one(rng, [f"Strip every comment line (lines starting with #) from {path}, keeping the host names in order.",
                      f"{path} should contain only the host names. Delete the lines that begin with `#`; leave the rest as it is."])
        code = "lines = [l.rstrip('\\n') for l in open(P) if l.strip() and not l.lstrip().startswith('#')]"
    else:
        path = one(rng, ["addresses.txt", "titles.txt", "products.txt"])
        words = ["red", "oak", "table", "lamp", "blue", "steel", "chair", "wool", "rug", "glass", "vase", "linen", "desk"]
        clean = [" ".join(some(rng, words, rng.randint(2, 4))) for _ in range(rng.randint(4, 7))]
        raw = [" " * rng.randint(0, 2) + (" " * rng.randint(2, 4)).join(c.split()) + " " * rng.randint(0, 3) for c in clean]
        raw[0] = "  " + "   ".join(clean[0].split())
        q = one(rng, [f"In {path}, collapse runs of spaces inside each line to a single space and trim both ends. One entry per line, order unchanged.",
                      f"The lines of {path} are full of doubled spaces. Normalise the spacing in place: single spaces between words, none at the start or end."])
        code = "lines = [' '.join(l.split()) for l in open(P) if l.strip()]"
    files = {path: "\n".join(raw) + "\n"}
    chk = check(f'''
        import pathlib
        p = pathlib.Path({path!r})
        assert p.is_file(), "{path} missing"
        lines = p.read_text().splitlines()
        if {op != "drop_blank"!r}:
            lines = [l for l in lines if l.strip()]
        assert lines == {clean!r}, lines
        ''')
    cmd = f"python - <<'EOF'\nP = {path!r}\n{code}\nopen(P, 'w').write(''.join(l + '\\n' for l in lines))\nEOF\ncat {path}"
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["text", "one-file", op], steps=[
        step("run", "One small Python pass over the file, then show it.", command=cmd),
        submit(f"{path} cleaned: {len(clean)} lines."),
    ])


def _l1_csv_fix(rng: random.Random) -> TaskDraft:
    op = one(rng, ["tsv", "semicolon", "repeated_header", "total_row", "crlf"])
    header = one(rng, [["date", "store", "units"], ["id", "title", "pages"], ["sensor", "reading", "unit"], ["sku", "qty", "bin"]])
    rows = []
    for i in range(rng.randint(5, 8)):
        rows.append([f"2024-07-{i + 1:02d}" if header[0] == "date" else f"{header[0][:1]}{i + 1}",
                     one(rng, ["north", "Dune", "roof", "A-17", "south", "Emma", "shed", "B-02"]), str(rng.randint(1, 400))])
    path = one(rng, ["export.csv", "data.csv", f"{header[1]}s.csv"])
    want = [header] + rows
    if op == "tsv":
        path = path[:-4] + ".tsv"
        dst = path[:-4] + ".csv"
        raw = "".join("\t".join(r) + "\n" for r in want)
        q = one(rng, [f"{path} is tab-separated. Convert it to a normal comma-separated file {dst} (same rows and columns).",
                      f"Make a CSV version of the tab-separated {path}, saved as {dst}."])
        cmd = f"tr '\\t' ',' < {path} > {dst} && cat {dst}"
    elif op == "semicolon":
        dst = path
        raw = "".join(";".join(r) + "\n" for r in want)
        q = one(rng, [f"{path} uses semicolons as separators but our tools expect commas. Rewrite it in place with commas.",
                      f"Switch the delimiter of {path} from ; to , (in place). No field contains a comma or semicolon."])
        cmd = f"sed -i 's/;/,/g' {path} && cat {path}"
    elif op == "repeated_header":
        dst = path
        parts = [rows[: len(rows) // 2], rows[len(rows) // 2:]]
        raw = _csv([header] + parts[0] + [header] + parts[1] + ([header] if rng.random() < 0.5 else []))
        q = one(rng, [f"{path} was made by concatenating exports, so the header line shows up again in the middle. Keep only the first header line and all data rows, in place.",
                      f"Remove the repeated header rows from {path}: the header must appear exactly once, at the top."])
        cmd = f"awk 'NR == 1 || $0 != first {{ print }} NR == 1 {{ first = $0 }}' {path} > tmp.csv && mv tmp.csv {path} && cat {path}"
    elif op == "total_row":
        dst = path
        raw = _csv(want + [["TOTAL", "", str(sum(int(r[2]) for r in rows))]])
        q = one(rng, [f"The last line of {path} is a TOTAL row from the spreadsheet. Delete it so only the header and data rows remain.",
                      f"Strip the trailing summary (TOTAL) line off {path}; everything else stays."])
        cmd = f"sed -i '/^TOTAL,/d' {path} && cat {path}"
    else:
        dst = path
        raw = "".join(",".join(r) + "\r\n" for r in want) + "\r\n"
        q = one(rng, [f"{path} has Windows line endings (CRLF) and a blank line at the end. Convert it in place to Unix line endings and drop the empty line.",
                      f"Normalise {path}: LF line endings instead of CRLF, and no trailing empty line."])
        cmd = f"tr -d '\\r' < {path} | sed '/^$/d' > tmp.csv && mv tmp.csv {path} && cat -A {path}"
    chk = check(f'''
        import os
        assert os.path.isfile({dst!r}), "{dst} missing"
        data = open({dst!r}, newline="", encoding="utf-8").read()
        lines = data.split("\\n")
        if lines and lines[-1] == "":
            lines.pop()
        assert all("\\r" not in l for l in lines) or {op != "crlf"!r}, "CR characters left"
        assert [l.rstrip("\\r").split(",") for l in lines] == {want!r}, lines
        ''')
    return TaskDraft(instruction=wrap(q), files={path: raw}, check=chk, tags=["csv", "one-command", op], steps=[
        step("run", "One shell command.", command=cmd),
        submit(f"{dst} fixed ({op}): header plus {len(rows)} rows."),
    ])


# ----------------------------------------------------------------------------------------------- level 2


def _l2_filter_rows(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["qa_orders", "zero_amount", "cancelled", "country", "short_sessions"])
    if kind == "qa_orders":
        src, dst, header = "purchases.csv", one(rng, ["purchases_public.csv", "customer_purchases.csv"]), ["purchase", "buyer", "total", "day"]
        rows = [[str(1000 + i), e.lower(), f"{rng.randint(1, 200)}.{rng.randint(0, 99):02d}", f"2024-06-{1 + i:02d}"] for i, e in enumerate(_emails(rng, 7))]
        for i in some(rng, range(7), 2):
            rows[i][1] = f"staff{i}@shop.example"
        rows[rng.randrange(7)][1] = "lee@shop.example.org"
        keep = lambda r: not r[1].endswith("@shop.example")
        rule = "whose buyer address is not on the staff domain @shop.example (a longer domain such as shop.example.org is a customer)"
        cond, code_keep = "employee purchases (buyer @shop.example)", 'not row[1].endswith("@shop.example")'
    elif kind == "zero_amount":
        src, dst, header = "payments.csv", one(rng, ["payments_nonzero.csv", "payments_clean.csv"]), ["id", "payer", "amount"]
        rows = [[f"P{i:03d}", one(rng, FIRST_NAMES), one(rng, ["0", "0.00", str(rng.randint(1, 90)), f"{rng.randint(1, 90)}.50"])] for i in range(8)]
        rows[2][2] = "0.00"
        keep = lambda r: float(r[2]) != 0
        rule = "with a non-zero amount (note that 0 and 0.00 are both zero)"
        cond, code_keep = "zero-amount payments", "float(row[2]) != 0"
    elif kind == "cancelled":
        src, dst, header = "bookings.csv", one(rng, ["bookings_active.csv", "active.csv"]), ["booking", "guest", "status", "nights"]
        rows = [[f"B{i + 1}", one(rng, FIRST_NAMES), one(rng, ["confirmed", "cancelled", "CANCELLED", "pending", "Cancelled "]), str(rng.randint(1, 9))] for i in range(8)]
        rows[0][2] = "cancelled"
        rows[1][2] = "confirmed"
        keep = lambda r: r[2].strip().lower() != "cancelled"
        rule = "that are not cancelled (the status column is inconsistent: compare it case-insensitively and ignoring spaces)"
        cond, code_keep = "cancelled bookings", 'row[2].strip().lower() != "cancelled"'
    elif kind == "country":
        src, dst, header = "signups.csv", one(rng, ["signups_eu.csv", "eu_only.csv"]), ["user", "country", "plan"]
        eu = ["DE", "FR", "ES", "IT", "NL", "PL"]
        rows = [[f"u{rng.randint(100, 999)}", one(rng, eu + ["US", "BR", "JP", "CA"]), one(rng, ["free", "pro"])] for _ in range(9)]
        rows[0][1], rows[1][1] = "US", "DE"
        keep = lambda r: r[1] in eu
        rule = f"whose country code is one of {', '.join(eu)}"
        cond, code_keep = "non-EU sign-ups", f"row[1] in {eu!r}"
    else:
        src, dst, header = "sessions.csv", one(rng, ["sessions_real.csv", "sessions_long.csv"]), ["session", "user", "seconds"]
        rows = [[f"s{i}", one(rng, FIRST_NAMES).lower(), str(one(rng, [1, 2, 3, 4, 30, 95, 240, 600, 12]))] for i in range(9)]
        rows[0][2], rows[1][2] = "3", "5"
        keep = lambda r: int(r[2]) >= 5
        rule = "that lasted at least 5 seconds (shorter ones are bounces)"
        cond, code_keep = "bounce sessions under 5 seconds", "int(row[2]) >= 5"
    text = _csv([header] + rows)
    want = [header] + [r for r in rows if keep(r)]
    script = one(rng, ["filter.py", "drop_rows.py", f"make_{dst[:-4]}.py"])
    q = one(rng, [
        f"For the analysis we must exclude the {cond} from {src}. Save the remaining data as {dst}: header first, then each row {rule}, order as before; {src} itself stays intact.",
        f"Create {dst} from {src}: keep the header plus every row {rule}; rows stay in input order and {src} is not modified.",
        f"I need a filtered copy of {src} named {dst}, without the {cond}. Keep only rows {rule}. Don't edit the original file.",
    ])
    code = dd(f"""
        import csv

        with open({src!r}, newline="") as f_in, open({dst!r}, "w", newline="") as f_out:
            reader = csv.reader(f_in)
            writer = csv.writer(f_out)
            writer.writerow(next(reader))
            for row in reader:
                if row and {code_keep}:
                    writer.writerow(row)
        """)
    chk = check(_ROWS, f'''
        assert open({src!r}, encoding="utf-8").read() == {text!r}, "{src} was changed"
        got = load({dst!r})
        assert got == {want!r}, got
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: text}, check=chk, tags=["csv", "filter", "script"], steps=[
        step("read_file", path=src),
        step("write_file", path=script, content=code),
        step("run", command=f"python {script} && cat {dst}"),
        submit(f"{dst} keeps {len(want) - 1} of {len(rows)} rows ({cond} dropped)."),
    ])


def _l2_skip_bad(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["pounds", "miles", "cents"])
    col, newcol, conv, fmt, name = {
        "fahrenheit": ("temp_f", "temp_c", "(float(row[\"temp_f\"]) - 32) * 5 / 9", "{:.1f}", "readings"),
        "pounds": ("weight_lb", "weight_kg", "float(row[\"weight_lb\"]) * 0.45359237", "{:.2f}", "parcels"),
        "miles": ("miles", "km", "float(row[\"miles\"]) * 1.609344", "{:.1f}", "trips"),
        "cents": ("price_cents", "price", "int(row[\"price_cents\"]) / 100", "{:.2f}", "items"),
    }[kind]
    pyconv = {"fahrenheit": lambda v: (v - 32) * 5 / 9, "pounds": lambda v: v * 0.45359237,
              "miles": lambda v: v * 1.609344, "cents": lambda v: int(v) / 100}[kind]
    bad = one(rng, [("empty", [""]), ("placeholder", ["N/A", "n/a", "-"]), ("mixed", ["", "N/A"])])
    script = one(rng, ["convert.py", f"{name}_convert.py", "to_metric.py"])
    src, dst = f"{name}.csv", f"{name}_clean.csv"

    def make():
        rows = []
        for i in range(rng.randint(5, 8)):
            v = str(rng.randint(1, 250)) if kind == "cents" or rng.random() < 0.5 else f"{rng.randint(1, 250)}.{rng.randint(1, 9)}"
            rows.append([one(rng, ["north", "south", "roof", "shed", "dock"]), f"{8 + i:02d}:00", v])
        for i in some(rng, range(len(rows)), 2):
            rows[i][2] = one(rng, bad[1])
        return rows

    def expect(rows):
        out = [["id", "time", newcol]]
        for r in rows:
            if r[2].strip() in ("", "N/A", "n/a", "-"):
                continue
            out.append([r[0], r[1], fmt.format(pyconv(float(r[2]) if kind != "cents" else int(r[2])))])
        return out

    rows = make()
    code = dd(f'''
        """Copy {src} to {dst}, converting {col} to {newcol}."""
        import csv
        import sys


        def clean(src, dst):
            with open(src, newline="") as f_in, open(dst, "w", newline="") as f_out:
                reader = csv.DictReader(f_in)
                writer = csv.DictWriter(f_out, fieldnames=["id", "time", {newcol!r}])
                writer.writeheader()
                for row in reader:
                    value = {conv}
                    writer.writerow({{"id": row["id"], "time": row["time"], {newcol!r}: f"{{value:{fmt[2:-1]}}}"}})


        if __name__ == "__main__":
            if len(sys.argv) == 3:
                clean(sys.argv[1], sys.argv[2])
            else:
                clean({src!r}, {dst!r})
        ''')
    what = {"empty": "an empty " + col, "placeholder": f"a placeholder such as N/A or - instead of a {col} value",
            "mixed": f"an empty or N/A {col}"}[bad[0]]
    q = one(rng, [
        f"The conversion job {script} stops with a traceback when it reaches rows of {src} that have {what}. Teach it to pass over such rows, then execute it so {dst} gets written.",
        f"{script} dies with a ValueError halfway through {src}: a few rows have {what}. Make it leave such rows out (the others convert as before) and run it to produce {dst}.",
        f"Fix {script} so bad rows in {src} ({what}) are skipped instead of crashing the conversion. Run it afterwards so {dst} exists.",
    ])
    others = [make(), make()]
    chk = check(_ROWS, f'''
        import sys, tempfile
        sys.path.insert(0, ".")
        assert load({dst!r}) == {expect(rows)!r}, load({dst!r})
        from {script[:-3]} import clean
        for rows, want in {[(r, expect(r)) for r in others]!r}:
            with tempfile.TemporaryDirectory() as tmp:
                src, dst = os.path.join(tmp, "in.csv"), os.path.join(tmp, "out.csv")
                with open(src, "w", newline="") as f:
                    csv.writer(f).writerows([["id", "time", {col!r}]] + rows)
                clean(src, dst)
                assert load(dst) == want, (rows, load(dst))
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={script: code, src: _csv([["id", "time", col]] + rows)}, check=chk,
                     tags=["csv", "python", "crash", "one-edit"], steps=[
        step("run", "See the crash.", command=f"python {script}"),
        step("edit_file", "Skip rows whose value is empty or a placeholder before converting.", path=script,
             old="        for row in reader:\n",
             new=f"        for row in reader:\n            if row[{col!r}].strip() in (\"\", \"N/A\", \"n/a\", \"-\"):\n                continue\n"),
        step("run", command=f"python {script} && cat {dst}"),
        submit(f"{script} now skips rows with a missing {col}; {dst} has {len(expect(rows)) - 1} rows."),
    ])


def _l2_fill_missing(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["department", "country", "quantity", "status"])
    header, col, default, gen = {
        "department": (["employee", "name", "department"], "department", "unknown",
                       lambda i: [f"E{i:02d}", one(rng, FIRST_NAMES), one(rng, ["Sales", "Support", "Ops"])]),
        "country": (["customer", "city", "country"], "country", "XX",
                    lambda i: [f"C{100 + i}", one(rng, CITIES), one(rng, ["FR", "PT", "PL", "JP"])]),
        "quantity": (["sku", "description", "quantity"], "quantity", "0",
                     lambda i: [f"SKU-{i:03d}", one(rng, ["bolt", "nut", "washer", "hinge"]), str(rng.randint(1, 90))]),
        "status": (["ticket", "title", "status"], "status", "open",
                   lambda i: [f"T-{i}", one(rng, ["login fails", "slow page", "typo", "crash on save"]), one(rng, ["closed", "in progress"])]),
    }[kind]
    path = one(rng, [{"department": "staff.csv", "country": "customers.csv", "quantity": "stock.csv", "status": "tickets.csv"}[kind],
                     "export.csv", "data.csv"])
    in_place = rng.random() < 0.5
    dst = path if in_place else path.replace(".csv", "_filled.csv")
    rows = [gen(i) for i in range(1, rng.randint(7, 10))]
    for i in some(rng, range(len(rows)), 3):
        rows[i][2] = one(rng, ["", " ", "  "])
    want = [header] + [[r[0], r[1], r[2] if r[2].strip() else default] for r in rows]
    script = one(rng, ["fill.py", "fill_missing.py"])
    where = "in place" if in_place else f"into a new file {dst} (leave {path} as it is)"
    q = one(rng, [
        f"Some rows of {path} have an empty {col} (blank or only spaces). Fill those with `{default}` and write the result {where}. Other cells and the row order stay the same.",
        f"Fill the gaps in the {col} column of {path}: every empty or whitespace-only cell becomes {default}. Save it {where}.",
        f"The importer rejects blank {col} values. Replace each missing one in {path} (empty, or just spaces) with the default `{default}` and write it {where}; nothing else changes.",
    ])
    code = dd(f"""
        import csv

        with open({path!r}, newline="") as f:
            rows = list(csv.reader(f))
        column = rows[0].index({col!r})
        for row in rows[1:]:
            if not row[column].strip():
                row[column] = {default!r}
        with open({dst!r}, "w", newline="") as f:
            csv.writer(f).writerows(rows)
        """)
    text = _csv([header] + rows)
    chk = check(_ROWS, f'''
        got = [[c.strip() for c in r] for r in load({dst!r})]
        assert got == {want!r}, got
        ''', "" if in_place else f'assert open({path!r}, encoding="utf-8").read() == {text!r}, "{path} was changed"')
    return TaskDraft(instruction=_intro(rng, q), files={path: text}, check=chk, tags=["csv", "missing-values", "script"], steps=[
        step("read_file", path=path),
        step("write_file", path=script, content=code),
        step("run", command=f"python {script} && cat {dst}"),
        submit(f"Filled {sum(1 for r in rows if not r[2].strip())} empty {col} cells with {default} ({dst})."),
    ])


def _l2_dedupe_key(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["invoices", "members", "devices"])
    header, key_col, gen = {
        "invoices": (["invoice", "client", "total"], 0, lambda: [f"INV-{rng.randint(100, 130)}", one(rng, ["acme", "globex", "initech"]), str(rng.randint(10, 900))]),
        "members": (["member_id", "name", "city"], 0, lambda: [f"M{rng.randint(1, 14)}", one(rng, FIRST_NAMES), one(rng, CITIES)]),
        "devices": (["serial", "model", "owner"], 0, lambda: [f"SN{rng.randint(40, 55)}", one(rng, ["X1", "T14", "M2"]), one(rng, FIRST_NAMES)]),
    }[kind]
    keep_last = rng.random() < 0.5
    rows = [gen() for _ in range(rng.randint(8, 12))]
    while len({r[0] for r in rows}) > len(rows) - 2 or len({r[0] for r in rows}) < 3:
        rows = [gen() for _ in range(rng.randint(8, 12))]
    if keep_last:
        last = {}
        for r in rows:
            last[r[0]] = r
        order = list(dict.fromkeys(r[0] for r in rows))
        want = [last[k] for k in order]
        rule = f"keep the LAST row for each {header[0]} (later rows are corrections), positioned where that {header[0]} first appeared"
        code_body = "latest = {}\nfor row in rows:\n    latest[row[0]] = row\nkept = list(latest.values())"
    else:
        seen, want = set(), []
        for r in rows:
            if r[0] not in seen:
                seen.add(r[0])
                want.append(r)
        rule = f"keep only the first row for each {header[0]} and drop later ones"
        code_body = "seen, kept = set(), []\nfor row in rows:\n    if row[0] not in seen:\n        seen.add(row[0])\n        kept.append(row)"
    path = f"{kind}.csv"
    dst = one(rng, [f"{kind}_unique.csv", f"{kind}_dedup.csv"])
    q = one(rng, [
        f"{path} contains repeated {header[0]} values. Write {dst} with the header and one row per {header[0]}: {rule}. Keep {path} unchanged.",
        f"De-duplicate {path} on the {header[0]} column into {dst}; {rule}. The original file must not change.",
        f"Each {header[0]} should occur once, but {path} repeats some. Write a cleaned copy {dst} (header included) where you {rule}. Don't touch {path}.",
    ])
    code = dd("""
        import csv

        with open(SRC, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = [row for row in reader if row]
        """).replace("SRC", repr(path)) + code_body + f"\nwith open({dst!r}, \"w\", newline=\"\") as f:\n    writer = csv.writer(f)\n    writer.writerow(header)\n    writer.writerows(kept)\n"
    text = _csv([header] + rows)
    chk = check(_ROWS, f'''
        assert open({path!r}, encoding="utf-8").read() == {text!r}, "{path} was changed"
        assert load({dst!r}) == {[header] + want!r}, load({dst!r})
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={path: text}, check=chk, tags=["csv", "dedupe", "script"], steps=[
        step("read_file", path=path),
        step("write_file", path="dedupe.py", content=code),
        step("run", command=f"python dedupe.py && cat {dst}"),
        submit(f"{dst}: {len(want)} unique {header[0]} rows out of {len(rows)}."),
    ])


# ----------------------------------------------------------------------------------------------- level 3


def _l3_trim_dedupe(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["patrons", "newsletter", "vendors"])
    header = {"patrons": ["id", "name", "email", "city"], "newsletter": ["id", "email", "name", "joined"],
              "vendors": ["id", "company", "email", "country"]}[kind]
    email_col = header.index("email")
    n = rng.randint(6, 9)
    base = []
    for i, e in enumerate(_emails(rng, n)):
        row = {"id": str(i + 1), "email": e, "name": f"{one(rng, FIRST_NAMES)} {one(rng, LAST_NAMES)}", "city": one(rng, CITIES),
               "joined": f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", "company": one(rng, ["Acme", "Globex", "Initech", "Umbrella"]) + " Ltd",
               "country": one(rng, ["FR", "DE", "PT"])}
        base.append([row[h] for h in header])
    rows = [list(r) for r in base]
    for d in some(rng, range(n), rng.randint(2, 3)):
        dup = list(base[d])
        dup[0] = str(len(rows) + 1)
        dup[email_col] = one(rng, [dup[email_col].upper(), dup[email_col].lower(), " " + dup[email_col]])
        rows.append(dup)
    # messy whitespace
    messy = []
    for r in rows:
        messy.append([c if i == 0 else one(rng, ["", " ", "  "]) + c + one(rng, ["", " "]) for i, c in enumerate(r)])
    seen, want = set(), []
    for r in messy:
        c = [x.strip() for x in r]
        c[email_col] = c[email_col].lower()
        if c[email_col] in seen:
            continue
        seen.add(c[email_col])
        want.append(c)
    src = f"{kind}.csv"
    dst = one(rng, [f"{kind}_clean.csv", f"clean_{kind}.csv"])
    q = one(rng, [
        f"""A sign-up form wrote {src} and people registered more than once. Build {dst}: same columns and header, cells
        without padding, addresses lowercased, and for each address only its earliest row (compare after lowercasing; that
        row keeps its id). The input file is not to be edited.""",
        f"""Clean up {src} into {dst}: all fields stripped of surrounding spaces, emails in lower case, and duplicate people
        removed: two rows are the same person when their emails match after lowercasing; the earlier row wins. Same header,
        same order otherwise, and don't modify {src}.""",
        f"""Some contacts in {src} were entered twice with the address typed differently (capitals, spaces). Write the
        de-duplicated list to {dst}:
        - every cell trimmed;
        - the email column in lower case;
        - of the rows sharing an email (compared after lowercasing) only the first survives, original id included.
        Header and relative order unchanged; {src} stays untouched.""",
        f"""We send mail to everyone in {src} and people complain about getting it twice. Make {dst}, a copy where the
        whitespace around values is gone, emails are lowercase, and a row is dropped if its lowercased email was already
        seen further up. Keep the original file, the header and the order of the surviving rows.""",
    ])
    code = dd(f"""
        import csv

        with open({src!r}, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = [[cell.strip() for cell in row] for row in reader if row]

        email = header.index("email")
        seen, kept = set(), []
        for row in rows:
            row[email] = row[email].lower()
            if row[email] in seen:
                continue
            seen.add(row[email])
            kept.append(row)

        with open({dst!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(kept)
        """)
    text = _csv([header] + messy)
    chk = check(_ROWS, f'''
        assert open({src!r}, encoding="utf-8").read() == {text!r}, "{src} was modified"
        got = load({dst!r})
        assert [c.strip() for c in got[0]] == {header!r}, got[0]
        assert got[1:] == {want!r}, got[1:]
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: text}, check=chk, tags=["csv", "dedupe", "whitespace"], steps=[
        step("read_file", path=src),
        step("write_file", path="clean.py", content=code),
        step("run", command=f"python clean.py && cat {dst}"),
        submit(f"{dst}: trimmed, emails lowercased, duplicates dropped; {len(want)} of {len(messy)} rows remain."),
    ])


_DATE_FORMATS = [
    ("%Y-%m-%d", "already fine: 2023-11-30"),
    ("%d/%m/%Y", "30/11/2023 (the UK office: day, then month)"),
    ("%m/%d/%Y", "11/30/2023 (the US office: month, then day)"),
    ("%d %b %Y", "30 Nov 2023"),
    ("%B %d, %Y", "November 30, 2023"),
    ("%Y%m%d", "20231130 (no separators)"),
    ("%d.%m.%Y", "30.11.2023 (German style)"),
]


def _l3_dates(rng: random.Random) -> TaskDraft:
    fmts = [_DATE_FORMATS[0]] + some(rng, [f for f in _DATE_FORMATS[1:] if True], 3)
    if any(f[0] == "%d/%m/%Y" for f in fmts) and any(f[0] == "%m/%d/%Y" for f in fmts):
        fmts = [f for f in fmts if f[0] != "%m/%d/%Y"]
    kind = one(rng, [("invoices", "issued", ["invoice_no", "client", "issued", "amount"]),
                     ("visits", "visit_date", ["visit", "patient", "visit_date", "ward"]),
                     ("shipments", "shipped_on", ["tracking", "shipped_on", "carrier", "weight_kg"])])
    name, col, header = kind
    ci = header.index(col)
    script = one(rng, ["normalize_dates.py", "fix_dates.py", "iso_dates.py"])

    def make(k):
        rows = []
        for i in range(k):
            d = datetime.date(2023, 1, 1) + datetime.timedelta(days=rng.randint(0, 700))
            f = fmts[i][0] if i < len(fmts) else one(rng, fmts)[0]
            rest = [f"{name[0].upper()}{100 + i}", one(rng, ["acme", "Smith, Jones & Co", "globex", "north"]), str(rng.randint(1, 500))]
            r = rest[:ci] + [d.strftime(f)] + rest[ci:]
            rows.append((r, d.isoformat()))
        return rows

    rows = make(rng.randint(6, 9))
    src, dst = f"{name}.csv", f"{name}_clean.csv"
    listed = "\n".join(f"  - {desc}" for _, desc in fmts)
    q = dd(f"""
        Three offices filled in {src} and each wrote the {col} its own way. Provide a converter {script},
        invoked as `python {script} IN.csv OUT.csv`, whose output is IN with that column in year-month-day form
        (2024-03-05); no other cell may change. You'll meet these spellings:
        {{listed}}
        Then run it to produce {dst} from {src}.
        """).replace("{listed}", listed) if rng.random() < 0.5 else dd(f"""
        Sorting {src} by {col} gives nonsense because the values are free text. Please write {script}, used as
        `python {script} IN OUT`, copying IN to OUT with {col} turned into YYYY-MM-DD (so it sorts as text) while the other
        fields, quoted ones included, stay byte-identical. Spellings to parse:
        {{listed}}
        Use it to create {dst}.
        """).replace("{listed}", listed) if rng.random() < 0.5 else dd(f"""
        The reporting tool chokes on {src}: it accepts only ISO 8601 days in {col}, and we have several notations.
        Create {script} (usage: `python {script} SOURCE TARGET`) that rewrites that one column to YYYY-MM-DD and copies
        everything else through untouched. It has to understand:
        {{listed}}
        Run it on {src} so that {dst} is created.
        """).replace("{listed}", listed)
    code = dd(f"""
        import csv
        import sys
        from datetime import datetime

        FORMATS = {[f for f, _ in fmts]!r}


        def to_iso(text):
            text = text.strip()
            for fmt in FORMATS:
                try:
                    return datetime.strptime(text, fmt).date().isoformat()
                except ValueError:
                    pass
            raise ValueError(f"unrecognised date: {{text!r}}")


        def main(src, dst):
            with open(src, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                fields = reader.fieldnames
                rows = list(reader)
            for row in rows:
                row[{col!r}] = to_iso(row[{col!r}])
            with open(dst, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)


        if __name__ == "__main__":
            main(sys.argv[1], sys.argv[2])
        """)
    text = _csv([header] + [r for r, _ in rows])
    want = [header] + [r[:ci] + [iso] + r[ci + 1:] for r, iso in rows]
    other = make(len(fmts) + 2)
    other_text = _csv([header] + [r for r, _ in other])
    other_want = [header] + [r[:ci] + [iso] + r[ci + 1:] for r, iso in other]
    chk = check(_ROWS, RUN_IN_TMP, f'''
        assert load({dst!r}) == {want!r}, load({dst!r})
        proc, got = run_in_tmp([{script!r}], {{"in.csv": {other_text!r}}}, ["python", {script!r}, "in.csv", "out.csv"], read=["out.csv"])
        assert proc.returncode == 0, proc.stderr
        assert got["out.csv"] is not None and rows_of(got["out.csv"]) == {other_want!r}, got
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: text}, check=chk, tags=["csv", "dates", "script"], steps=[
        step("read_file", path=src),
        step("write_file", "Try each listed format with strptime.", path=script, content=code),
        step("run", command=f"python {script} {src} {dst} && cat {dst}"),
        submit(f"{script} rewrites {col} as YYYY-MM-DD; {dst} produced."),
    ])


def _l3_units(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["temperature", "weight", "distance"])
    src, out_col, units, target, decimals = {
        "temperature": ("readings.csv", "temp_c", {"C": lambda v: v, "F": lambda v: (v - 32) * 5 / 9, "K": lambda v: v - 273.15}, "degrees Celsius", 1),
        "weight": ("parcels.csv", "weight_kg", {"kg": lambda v: v, "g": lambda v: v / 1000, "lb": lambda v: v * 0.45359237}, "kilograms", 2),
        "distance": ("runs.csv", "km", {"km": lambda v: v, "mi": lambda v: v * 1.609344, "m": lambda v: v / 1000}, "kilometres", 2),
    }[kind]
    dst = one(rng, [f"{src[:-4]}_{out_col}.csv", f"{src[:-4]}_normalised.csv"])
    ids = some(rng, ["s1", "s2", "s3", "p7", "p9", "r2", "r4"], 3)
    rows, want = [], []
    names = list(units)
    for i in range(rng.randint(8, 11)):
        u = names[i % 3]
        if kind == "temperature":
            base = rng.randint(150, 300) / 10
            v = {"C": base, "F": base * 9 / 5 + 32, "K": base + 273.15}[u]
        elif kind == "weight":
            base = rng.randint(100, 9000) / 1000
            v = {"kg": base, "g": base * 1000, "lb": base / 0.45359237}[u]
        else:
            base = rng.randint(1000, 42000) / 1000
            v = {"km": base, "mi": base / 1.609344, "m": base * 1000}[u]
        v = round(v, 2)
        sep = one(rng, ["", " "])
        unit_txt = one(rng, [u, u.lower(), u.upper()]) if kind != "temperature" else one(rng, [u, u.lower(), "°" + u])
        raw = f"{_num(v)}{sep}{unit_txt}"
        if rng.random() < 0.2:
            raw = one(rng, ["", "err", "n/a"])
        ts = f"2024-05-0{1 + i // 4}T{8 + i % 4:02d}:00"
        rows.append([ids[i % 3], ts, one(rng, ["", " "]) + raw])
        conv = units.get(u)
        want.append((ids[i % 3], ts, None if raw in ("", "err", "n/a") else round(conv(v), decimals)))
    in_col = {"temperature": "temperature", "weight": "weight", "distance": "distance"}[kind]
    q = one(rng, [
        f"""The {in_col} values in {src} come in different units ({', '.join(names)}), glued onto the number, sometimes with
        a space{', a degree sign' if kind == 'temperature' else ''} or different letter case. Create {dst} with the columns
        id,timestamp,{out_col} where {out_col} is the value in {target} rounded to {decimals} decimal place{'s' if decimals > 1 else ''}.
        If a value is empty or can't be parsed, keep the row but leave {out_col} empty. Same row order as the input.""",
        f"""Normalise {src}: every {in_col} should end up in {target}. Write {dst} (header id,timestamp,{out_col}), one row per
        input row in the same order, the converted value rounded to {decimals} decimals. Units seen: {', '.join(names)} (any
        case{', optional °' if kind == 'temperature' else ''}, optional space). Unreadable or missing values give an empty
        {out_col} cell, not a dropped row.""",
        f"""Our {kind} data in {src} is unit soup: the {in_col} column mixes {', '.join(names)} with the unit written right after
        the number. I need {dst} with header id,timestamp,{out_col}, holding each value converted to {target} and rounded to
        {decimals} decimals; blank or garbage values stay in the output as an empty {out_col}. Don't reorder the rows.""",
    ])
    conv_code = {"temperature": '{"C": lambda v: v, "F": lambda v: (v - 32) * 5 / 9, "K": lambda v: v - 273.15}',
                 "weight": '{"KG": lambda v: v, "G": lambda v: v / 1000, "LB": lambda v: v * 0.45359237}',
                 "distance": '{"KM": lambda v: v, "MI": lambda v: v * 1.609344, "M": lambda v: v / 1000}'}[kind]
    if kind == "temperature":
        conv_code = conv_code.replace('"C"', '"C"')
    code = dd(f"""
        import csv
        import re

        PATTERN = re.compile(r"^\\s*(-?\\d+(?:\\.\\d+)?)\\s*°?\\s*([A-Za-z]+)\\s*$")
        CONVERT = {conv_code}


        def convert(raw):
            m = PATTERN.match(raw)
            if not m or m.group(2).upper() not in CONVERT:
                return ""
            return f"{{CONVERT[m.group(2).upper()](float(m.group(1))):.{decimals}f}}"


        with open({src!r}, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        with open({dst!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "timestamp", {out_col!r}])
            for row in rows:
                writer.writerow([row["id"], row["timestamp"], convert(row[{in_col!r}])])
        """)
    tol = 0.51 * 10 ** -decimals
    chk = check(_ROWS, f'''
        rows = load({dst!r})
        assert [c.strip() for c in rows[0]] == ["id", "timestamp", {out_col!r}], rows[0]
        want = {want!r}
        body = rows[1:]
        assert len(body) == len(want), f"{{len(body)}} rows, expected {{len(want)}}"
        for row, (i, ts, value) in zip(body, want):
            assert row[0].strip() == i and row[1].strip() == ts, row
            cell = row[2].strip()
            if value is None:
                assert cell == "", f"expected an empty cell for {{i}} {{ts}}, got {{cell!r}}"
            else:
                assert abs(float(cell) - value) < {tol!r}, f"{{i}} {{ts}}: {{cell}} != {{value}}"
                assert "." not in cell or len(cell.split(".")[1]) <= {decimals}, f"not rounded: {{cell}}"
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: _csv([["id", "timestamp", in_col]] + rows)}, check=chk,
                     tags=["csv", "units", "missing-values"], steps=[
        step("read_file", path=src),
        step("write_file", path="convert_units.py", content=code),
        step("run", command=f"python convert_units.py && cat {dst}"),
        submit(f"{dst}: every value converted to {target} ({decimals} dp); unparseable ones left empty."),
    ])


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _l3_placeholders(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["rota", "survey", "inventory"])
    header, key, fill_col, fill_val, num_col = {
        "rota": (["shift_id", "volunteer", "site", "minutes"], "shift_id", "site", "unassigned", "minutes"),
        "survey": (["response_id", "country", "age_group", "score"], "response_id", "age_group", "not given", "score"),
        "inventory": (["sku", "location", "supplier", "count"], "sku", "supplier", "n/a-supplier", "count"),
    }[kind]
    placeholders = some(rng, ["N/A", "-", "null", "none", "?", "NA"], 3)
    report = one(rng, ["filled.txt", f"filled_{num_col}.txt", "imputed_ids.txt"])
    path = f"{kind}.csv"
    rows = []
    for i in range(rng.randint(8, 11)):
        r = [f"{key[0].upper()}{i + 1:02d}", one(rng, FIRST_NAMES + CITIES), one(rng, ["Sales", "Ops", "18-25", "acme", "40-60", "globex"]),
             one(rng, ["38", "40", "7.5", "12", "41.5", "3"])]
        rows.append(r)
    for i in some(rng, range(len(rows)), 2):
        rows[i][0] = one(rng, ["", placeholders[0]])
    for i in some(rng, range(len(rows)), 3):
        rows[i][2] = one(rng, ["", " " + one(rng, placeholders).upper() + " ", one(rng, placeholders)])
    for i in some(rng, range(len(rows)), 3):
        rows[i][3] = one(rng, ["", one(rng, placeholders).lower(), " " + one(rng, placeholders) + " "])
    missing = lambda v: v.strip().lower() in [""] + [p.lower() for p in placeholders]
    want, filled = [], []
    for r in rows:
        if missing(r[0]):
            continue
        w = [c.strip() for c in r]
        if missing(r[2]):
            w[2] = fill_val
        if missing(r[3]):
            w[3] = "0"
            filled.append(w[0])
        want.append(w)
    ph = ", ".join(f'"{p}"' for p in placeholders)
    q = one(rng, [
        f"""Gaps in {path} are marked inconsistently: blank cells, or the tokens {ph} in whatever case, sometimes padded
        with spaces. Overwrite the file applying:
        - no {key} means the row is useless: remove it;
        - {fill_col} left open: write "{fill_val}";
        - {num_col} left open: write 0, and remember that row's {key}.
        Header and row order as before. The remembered {key}s go into {report}, one per line.""",
        f"""The {kind} sheet {path} can't be loaded while values are missing. Count as missing: empty cells and {ph}
        (any case, optional spaces around). Edit the file so that rows lacking a {key} disappear, {fill_col} gaps read
        "{fill_val}", {num_col} gaps read 0, and the surviving rows stay in order; note in {report} which {key}s had their
        {num_col} defaulted (one per line).""",
        f"""Imputation job on {path}, written back to the same file. Missing means blank or one of {ph} regardless of
        case or surrounding spaces. A row without {key} is discarded; {fill_col} defaults to "{fill_val}"; {num_col}
        defaults to 0. Header and order unchanged. Put the {key} of every row whose {num_col} was defaulted into {report},
        one per line.""",
    ])
    code = dd(f"""
        import csv

        MISSING = {[''] + [p.lower() for p in placeholders]!r}


        def missing(value):
            return value.strip().lower() in MISSING


        with open({path!r}, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames
            rows = list(reader)

        kept, filled = [], []
        for row in rows:
            if missing(row[{key!r}]):
                continue
            row = {{k: v.strip() for k, v in row.items()}}
            if missing(row[{fill_col!r}]):
                row[{fill_col!r}] = {fill_val!r}
            if missing(row[{num_col!r}]):
                row[{num_col!r}] = "0"
                filled.append(row[{key!r}])
            kept.append(row)

        with open({path!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
        with open({report!r}, "w", encoding="utf-8") as f:
            f.write("".join(k + "\\n" for k in filled))
        """)
    chk = check(_ROWS, f'''
        rows = load({path!r})
        assert [c.strip() for c in rows[0]] == {header!r}, rows[0]
        want = {want!r}
        body = rows[1:]
        assert [r[0].strip() for r in body] == [w[0] for w in want], [r[0] for r in body]
        for row, w in zip(body, want):
            assert [c.strip() for c in row[:3]] == w[:3], row
            assert float(row[3]) == float(w[3]), row
        assert os.path.isfile({report!r}), "{report} missing"
        ids = [l.strip() for l in open({report!r}).read().splitlines() if l.strip()]
        assert sorted(ids) == {sorted(filled)!r}, ids
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={path: _csv([header] + rows)}, check=chk, tags=["csv", "missing-values", "in-place"], steps=[
        step("read_file", path=path),
        step("write_file", path="fix_missing.py", content=code),
        step("run", command=f"python fix_missing.py && cat {path} {report}"),
        submit(f"{path} cleaned in place; {report} lists {', '.join(filled) or 'no ids'}."),
    ])


def _l3_prices(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["garden", "menu", "parts"])
    header = {"garden": ["code", "plant", "kind", "price"], "menu": ["code", "dish", "section", "price"],
              "parts": ["part", "label", "group", "price"]}[kind]
    cats = {"garden": ["shrubs", "bulbs", "herbs"], "menu": ["starters", "mains", "desserts"],
            "parts": ["brakes", "lighting", "drivetrain"]}[kind]
    cur = one(rng, [("$", "USD"), ("€", "EUR"), ("£", "GBP")])
    names = ["Cable", "Desk", "Notebook", "Lamp", "Soup", "Tart", "Chain", "Bulb", "Pedal", "Salad", "Pens", "Arm"]
    keys = [f"{header[0][0].upper()}-{n:03d}" for n in some(rng, range(1, 40), rng.randint(5, 7))]
    rows, latest = [], {}
    for k in keys + some(rng, keys, 2):
        price = rng.randint(100, 250000) / 100
        cat = one(rng, cats)
        name = one(rng, names)
        p_txt = one(rng, [f"{cur[0]}{price:,.2f}", f"{price:.2f} {cur[1]}", f"{cur[1]} {price:g}", f"{price:g}", f" {cur[0]}{price:.1f}"])
        rows.append([k, one(rng, ["", " "]) + name + one(rng, ["", " "]), one(rng, [cat, cat.upper(), " " + cat.capitalize()]), p_txt])
        shown = float(p_txt.replace(cur[0], "").replace(cur[1], "").replace(",", "").strip())
        latest[k] = [k, name, cat.title(), f"{shown:.2f}"]
    want = [latest[k] for k in sorted(latest)]
    src, dst = f"{kind}.csv", f"{kind}_clean.csv"
    q = one(rng, [
        f"""{src} grew by appending, so a {header[0]} shows up again whenever its price changed; the newest line (lowest
        in the file) is the valid one. Write {dst} ({','.join(header)}) holding one line per {header[0]} in {header[0]} order,
        with padding removed, the {header[2]} spelled like a title ({cats[1].upper()} -> {cats[1].title()}), and the price
        as digits with two decimals only: "{cur[0]}2,100.5" turns into 2100.50 and "{cur[1]} 7" into 7.00.""",
        f"""Turn {src} into a clean {dst}. Same four columns. Every field trimmed; the {header[2]} column in Title Case; prices
        as bare numbers with two decimals (drop {cur[0]}, {cur[1]} and thousands commas); when a {header[0]} repeats, the
        last occurrence is the current one and the only one kept; rows ordered by {header[0]}.""",
        f"""Our till software imports {dst}, which you build from {src}: columns {','.join(header)}, ordered by
        {header[0]}, each {header[0]} once (its final line in {src} counts, earlier ones are outdated), no surrounding blanks,
        {header[2]} words capitalised, and prices written as 1234.50, i.e. two decimals without {cur[0]}, {cur[1]} or
        digit-group commas.""",
    ])
    code = dd(f"""
        import csv
        import re

        with open({src!r}, newline="", encoding="utf-8") as f:
            rows = [{{k: v.strip() for k, v in row.items()}} for row in csv.DictReader(f)]

        latest = {{}}
        for row in rows:
            row[{header[2]!r}] = row[{header[2]!r}].title()
            amount = re.sub(r"[^0-9.]", "", row["price"])
            row["price"] = f"{{float(amount):.2f}}"
            latest[row[{header[0]!r}]] = row

        with open({dst!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames={header!r})
            writer.writeheader()
            for key in sorted(latest):
                writer.writerow(latest[key])
        """)
    chk = check(_ROWS, f'''
        rows = load({dst!r})
        assert [c.strip() for c in rows[0]] == {header!r}, rows[0]
        got = [[c.strip() for c in r] for r in rows[1:]]
        assert got == {want!r}, got
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: _csv([header] + rows)}, check=chk, tags=["csv", "dedupe", "prices"], steps=[
        step("read_file", path=src),
        step("write_file", path="clean_prices.py", content=code),
        step("run", command=f"python clean_prices.py && cat {dst}"),
        submit(f"{dst}: trimmed, Title Case {header[2]}, plain 2-decimal prices, last line per {header[0]}, sorted."),
    ])


def _l3_euro_export(rng: random.Random) -> TaskDraft:
    src = one(rng, ["partner_feed.csv", "bank_export.csv", "members_dump.csv"])
    dst = one(rng, ["accounts.csv", "clean.csv", "converted.csv"])
    rejects = one(rng, ["rejects.txt", "bad_lines.txt"])
    header = one(rng, [["account", "active", "newsletter", "balance"], ["member", "paid", "opt_in", "credit"]])
    yes, no = one(rng, [("ja", "nein"), ("oui", "non"), ("si", "no")])
    rows, want, bad = [], [], []
    for i in range(rng.randint(6, 9)):
        acc = f"{header[0][:2].upper()}-{rng.randint(1000, 9999)}"
        b1, b2 = rng.random() < 0.5, rng.random() < 0.5
        euros, cents = rng.randint(0, 25000), rng.randint(0, 99)
        bal = f"{euros:,}".replace(",", ".") + f",{cents:02d}"
        neg = rng.random() < 0.2
        rows.append(";".join([" " + acc if rng.random() < 0.3 else acc, one(rng, [yes, yes.upper()]) if b1 else no,
                              yes if b2 else one(rng, [no, no.capitalize()]), ("-" if neg else "") + bal]))
        want.append([acc, "true" if b1 else "false", "true" if b2 else "false", f"{'-' if neg else ''}{euros}.{cents:02d}"])
    for _ in range(2):
        at = rng.randrange(len(rows) + 1)
        line = one(rng, [f"XX-{rng.randint(1000, 9999)};{yes}", f"broken line;;;;{no}", f"ZZ-{rng.randint(10, 99)};{yes};{no};1,00;extra"])
        rows.insert(at, line)
        want.insert(at, None)
        bad.append(line)
    bad = [r for r, w in zip(rows, want) if w is None]
    want = [w for w in want if w is not None]
    q = one(rng, [
        f"""{src} arrives from a subsidiary with ; between fields, {yes}/{no} flags (any capitalisation), and
        continental number formatting (1.234,50). Our importer wants {dst}: commas as separators, the same header, true or
        false for the flags, amounts like 1234.50, no padding. A line with a field count other than {len(header)} is broken;
        such lines go, exactly as they were, into {rejects} (one per line) rather than into {dst}.""",
        f"""Please turn the semicolon export {src} into a standard CSV {dst}. Rules: {yes} -> true, {no} -> false (case
        doesn't matter); numbers such as -12.345,67 become -12345.67; strip spaces around values; keep the header. Any line whose
        field count is not {len(header)} goes verbatim into {rejects} instead.""",
    ])
    code = dd(f"""
        import csv


        def boolean(text):
            return "true" if text.strip().lower() == {yes!r} else "false"


        def number(text):
            return text.strip().replace(".", "").replace(",", ".")


        with open({src!r}, encoding="utf-8") as f:
            lines = f.read().splitlines()

        header = lines[0].split(";")
        good, rejects = [], []
        for line in lines[1:]:
            fields = line.split(";")
            if len(fields) != len(header):
                rejects.append(line)
                continue
            acc, b1, b2, amount = fields
            good.append([acc.strip(), boolean(b1), boolean(b2), number(amount)])

        with open({dst!r}, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(good)
        with open({rejects!r}, "w", encoding="utf-8") as f:
            f.write("".join(line + "\\n" for line in rejects))
        """)
    chk = check(_ROWS, f'''
        got = [[c.strip() for c in r] for r in load({dst!r})]
        assert got[0] == {header!r}, got[0]
        want = {want!r}
        assert len(got) - 1 == len(want), got
        for g, w in zip(got[1:], want):
            assert g[:3] == w[:3], (g, w)
            assert abs(float(g[3]) - float(w[3])) < 0.001, (g, w)
        assert os.path.isfile({rejects!r}), "{rejects} missing"
        lines = [l for l in open({rejects!r}, encoding="utf-8").read().splitlines() if l.strip()]
        assert lines == {bad!r}, lines
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: ";".join(header) + "\n" + "".join(r + "\n" for r in rows)}, check=chk,
                     tags=["csv", "delimiter", "locale", "rejects"], steps=[
        step("read_file", path=src),
        step("write_file", path="convert.py", content=code),
        step("run", command=f"python convert.py && cat {dst} && echo --- && cat {rejects}"),
        submit(f"{dst} written (comma CSV, true/false, dot decimals); {len(bad)} malformed lines in {rejects}."),
    ])


def _l3_split_names(rng: random.Random) -> TaskDraft:
    src = one(rng, ["people.csv", "staff.csv", "speakers.csv"])
    dst = one(rng, [src[:-4] + "_split.csv", "names_clean.csv"])
    script = one(rng, ["split_names.py", "fix_names.py"])
    extra = one(rng, ["team", "room", "badge"])

    def make():
        rows, want = [], []
        for i in range(rng.randint(5, 8)):
            first, last = one(rng, FIRST_NAMES), one(rng, LAST_NAMES)
            style = rng.randrange(4)
            full = [f"{first} {last}", f"{last}, {first}", f"  {first.lower()}   {last.upper()} ", f"{last.upper()},{first}"][style]
            x = one(rng, ["blue", "red", "B12", "A3", "gold"])
            rows.append([str(i + 1), full, x])
            want.append([str(i + 1), first, last, x])
        return rows, want

    rows, want = make()
    q = one(rng, [
        f"""The full_name column of {src} is inconsistent: some rows are "First Last", others "Last, First", with random
        capitalisation and spacing. Write {script}, run as `python {script} IN OUT`, that writes OUT with the columns
        id,first_name,last_name,{extra}: names split correctly, each capitalised (first letter upper, rest lower) and
        trimmed; id and {extra} copied unchanged. Run it on {src} to create {dst}.""",
        f"""I need first and last names as separate, tidy columns. {src} has id,full_name,{extra}, where full_name may be
        "Ada Lovelace" or "LOVELACE, ada" (a comma means last name first), with stray spaces. Create a script {script}
        (`python {script} IN OUT`) producing id,first_name,last_name,{extra} with properly capitalised names, and use it to
        make {dst} from {src}.""",
    ])
    code = dd(f"""
        import csv
        import sys


        def split(full):
            if "," in full:
                last, first = full.split(",", 1)
            else:
                first, last = full.split(None, 1)
            return first.strip().capitalize(), " ".join(last.split()).capitalize()


        def main(src, dst):
            with open(src, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            with open(dst, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["id", "first_name", "last_name", {extra!r}])
                for row in rows:
                    first, last = split(row["full_name"])
                    writer.writerow([row["id"], first, last, row[{extra!r}]])


        if __name__ == "__main__":
            main(sys.argv[1], sys.argv[2])
        """)
    head = ["id", "full_name", extra]
    other, other_want = make()
    chk = check(_ROWS, RUN_IN_TMP, f'''
        out_head = ["id", "first_name", "last_name", {extra!r}]
        assert [[c.strip() for c in r] for r in load({dst!r})] == [out_head] + {want!r}, load({dst!r})
        proc, got = run_in_tmp([{script!r}], {{"in.csv": {_csv([head] + other)!r}}}, ["python", {script!r}, "in.csv", "out.csv"], read=["out.csv"])
        assert proc.returncode == 0, proc.stderr
        assert got["out.csv"] is not None and [[c.strip() for c in r] for r in rows_of(got["out.csv"])] == [out_head] + {other_want!r}, got
        ''')
    return TaskDraft(instruction=_intro(rng, q), files={src: _csv([head] + rows)}, check=chk, tags=["csv", "names", "script"], steps=[
        step("read_file", path=src),
        step("write_file", path=script, content=code),
        step("run", command=f"python {script} {src} {dst} && cat {dst}"),
        submit(f"{script} splits and capitalises the names; {dst} created."),
    ])


_SCENARIOS = {
    1: [_l1_text_fix, _l1_text_fix, _l1_csv_fix],
    2: [_l2_filter_rows, _l2_skip_bad, _l2_fill_missing, _l2_dedupe_key],
    3: [_l3_trim_dedupe, _l3_dates, _l3_units, _l3_placeholders, _l3_prices, _l3_euro_export, _l3_split_names],
}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return one(rng, _SCENARIOS[level])(rng)
