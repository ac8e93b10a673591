"""cli-feature: command-line scripts built on argparse. Level 1 asks a question the --help output answers,
level 2 adds one flag (read, rewrite, run), level 3 adds a subcommand or an option with validation, files and
exit codes."""

from __future__ import annotations

import random

from lab.generators import TaskDraft
from lab.generators.families._code import cli_prelude, dd, draft, pick, read, run, submit, write

FAMILY = "cli-feature"
LEVELS = (1, 2, 3)

# ---------------------------------------------------------------- level 1: read the help, answer

_TOOLS = [
    # script, description, options: (flag, default or None, help, how a user would ask for it; "flag" = store_true)
    ("backup.py", "Copy a folder into a dated backup archive.", [
        ("--dest", "'backups'", "folder that receives the archive", "where the archives end up"),
        ("--keep", "7", "how many old archives to retain", "how many previous backups survive"),
        ("--level", "6", "gzip compression level, 1-9", "how strongly the archive is compressed"),
        ("--exclude", None, "glob pattern of files to leave out", "how to skip some files")]),
    ("fetch.py", "Download a URL to a local file.", [
        ("--retries", "3", "attempts before giving up", "how often a failed download is tried again"),
        ("--timeout", "30", "seconds to wait for the server", "how long it waits for a slow server"),
        ("--output", "'download.bin'", "file the body is saved to", "the name of the saved file"),
        ("--user-agent", "'fetch/1.0'", "value of the User-Agent header", "what the tool calls itself in requests")]),
    ("serve.py", "Serve a folder over HTTP.", [
        ("--port", "8000", "TCP port to listen on", "which port the server uses"),
        ("--workers", "4", "number of worker processes", "how many processes handle requests"),
        ("--bind", "'127.0.0.1'", "address of the interface to listen on", "which network address it listens on"),
        ("--reload", "flag", "restart when the code changes", "automatic restarts on code edits")]),
    ("report.py", "Summarise sales from the orders database.", [
        ("--since", None, "first date to include, YYYY-MM-DD", "the start of the period covered"),
        ("--top", "10", "how many rows the table shows", "how many lines of the ranking are printed"),
        ("--currency", "'EUR'", "currency the amounts are converted to", "the money unit of the totals"),
        ("--title", "'Sales'", "heading printed above the table", "the heading of the report")]),
    ("mailer.py", "Send a templated e-mail to a list of people.", [
        ("--to", None, "file with one recipient address per line", "who receives the mail"),
        ("--subject", "'Hello'", "subject line of the message", "the subject of the mail"),
        ("--attach", None, "file to attach to every message", "adding an attachment"),
        ("--dry-run", "flag", "print the messages instead of sending them", "previewing without sending anything")]),
    ("trim.py", "Cut a clip out of a video file.", [
        ("--start", "0", "start of the clip in seconds", "where the clip begins"),
        ("--duration", "10", "length of the clip in seconds", "how long the clip is"),
        ("--fps", "25", "frames per second of the output", "the frame rate of the result"),
        ("--mute", "flag", "drop the audio track", "removing the sound")]),
    ("crawl.py", "Crawl a website and list the pages found.", [
        ("--depth", "2", "how many links deep to follow", "how far it follows links"),
        ("--delay", "1.5", "pause between requests, in seconds", "how long it waits between two requests"),
        ("--max-pages", "100", "stop after this many pages", "the cap on the number of pages visited"),
        ("--same-domain", "flag", "never leave the starting site", "staying on one website")]),
    ("quiz.py", "Run a trivia quiz in the terminal.", [
        ("--questions", "10", "number of questions in a round", "how many questions a round has"),
        ("--time-limit", "30", "seconds allowed per question", "how long players get to answer"),
        ("--topic", "'general'", "subject the questions are drawn from", "which subject is asked about"),
        ("--hard", "flag", "include the difficult questions", "turning on the tough questions")]),
]


def _tool_source(description: str, options: list) -> str:
    lines = ["import argparse", "", "", "def main(argv=None):",
             f"    parser = argparse.ArgumentParser(description={description!r})"]
    for flag, default, help_, _ in options:
        if default == "flag":
            lines.append(f"    parser.add_argument({flag!r}, action=\"store_true\", help={help_!r})")
        elif default is None:
            lines.append(f"    parser.add_argument({flag!r}, help={help_!r})")
        else:
            kind = "float" if "." in default else "int" if default.isdigit() else "str"
            lines.append(f"    parser.add_argument({flag!r}, type={kind}, default={default}, help={help_ + ' (default: %(default)s)'!r})")
    lines += ["    args = parser.parse_args(argv)", "    print(vars(args))", "", "", 'if __name__ == "__main__":', "    main()", ""]
    return "\n".join(lines)


def _l1_option(rng: random.Random) -> TaskDraft:
    script, description, options = pick(rng, _TOOLS)
    options = list(options)
    rng.shuffle(options)
    flag, default, help_, ask = pick(rng, options)
    others = [o[0] for o in options if o[0] != flag]
    prose = pick(rng, [
        f"Run python {script} --help and tell me which option controls {ask}.",
        f"Which command-line option of {script} is about {ask}? Check its help output.",
        f"I forgot the flag for {ask} in {script}. Look it up (python {script} --help) and tell me.",
        f"{script}: what do I pass to change {ask}?",
    ])
    name = flag.lstrip("-")
    check = dd(f'''
        import re
        assert re.search(r"(?<![\\w-])(--)?{re_escape(name)}(?![\\w-])", ANSWER, re.I), f"expected {flag} in the answer, got {{ANSWER!r}}"
        for other in {others!r}:
            assert not re.search(re.escape(other) + r"(?![\\w-])", ANSWER), f"the answer names another option: {{ANSWER!r}}"
        print("ok")
    ''')
    steps = [run(f"python {script} --help", "Read the help text."), submit(f"{flag}: {help_}.", f"The help lists {flag} for that.")]
    return draft(prose, {script: _tool_source(description, options)}, check, steps, ["python", "argparse", "question"])


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def _l1_default(rng: random.Random) -> TaskDraft:
    script, description, options = pick(rng, [t for t in _TOOLS if any(o[1] not in (None, "flag") and o[1][0].isdigit() for o in t[2])])
    numeric = [o for o in options if o[1] not in (None, "flag") and o[1][0].isdigit()]
    flag, default, help_, ask = pick(rng, numeric)
    prose = pick(rng, [
        f"What is the default value of {flag} in {script}? (python {script} --help shows it.)",
        f"If I run {script} without {flag}, what value does it use for {ask}?",
        f"Look at the help of {script} and tell me the default for {ask}.",
        f"Quick question about {script}: the built-in default of the {flag} option, please.",
    ])
    check = dd(f'''
        import re
        nums = re.findall(r"\\d+(?:\\.\\d+)?", ANSWER)
        assert {default!r} in nums or any(float(n) == {float(default)} for n in nums), f"expected {default} in the answer, got {{ANSWER!r}}"
        print("ok")
    ''')
    steps = [run(f"python {script} --help", "The help shows the defaults."), submit(f"{flag} defaults to {default}.")]
    return draft(prose, {script: _tool_source(description, options)}, check, steps, ["python", "argparse", "question", "defaults"])


_SUBTOOLS = [
    ("notes.py", "Keep short notes in a local file.", ["add", "list", "search", "remove"], "note"),
    ("deploy.py", "Roll out the web service.", ["plan", "apply", "rollback", "status"], "deployment"),
    ("dbtool.py", "Maintain the application database.", ["migrate", "seed", "dump", "restore"], "database"),
    ("pkg.py", "Manage the plugins of the editor.", ["install", "uninstall", "upgrade", "freeze"], "plugin"),
    ("timer.py", "Track time spent on projects.", ["start", "stop", "report", "reset"], "time tracking"),
]


def _l1_subcommands(rng: random.Random) -> TaskDraft:
    script, description, subs, noun = pick(rng, _SUBTOOLS)
    subs = list(subs)
    rng.shuffle(subs)
    lines = ["import argparse", "", "", "def main(argv=None):",
             f"    parser = argparse.ArgumentParser(description={description!r})",
             '    sub = parser.add_subparsers(dest="cmd", required=True)']
    for s in subs:
        lines.append(f"    sub.add_parser({s!r}, help={f'{s} ({noun})'!r})")
    lines += ["    args = parser.parse_args(argv)", "    print(args.cmd)", "", "", 'if __name__ == "__main__":', "    main()", ""]
    prose = pick(rng, [
        f"Which subcommands does {script} offer? Run it with --help and list them all.",
        f"List every command of the {noun} tool {script} (its --help output shows them).",
        f"I want an overview of {script}: what sub-commands can I run?",
    ])
    check = dd(f'''
        import re
        missing = [s for s in {sorted(subs)!r} if not re.search(r"\\b" + s + r"\\b", ANSWER)]
        assert not missing, f"subcommands missing from the answer: {{missing}} ({{ANSWER!r}})"
        print("ok")
    ''')
    steps = [run(f"python {script} --help", "The help lists the subcommands."), submit(f"{script} has: {', '.join(subs)}.")]
    return draft(prose, {script: "\n".join(lines)}, check, steps, ["python", "argparse", "question", "subcommands"])


# ---------------------------------------------------------------- level 2: one flag

_HEAD = (
    "import argparse\n"
    "\n"
    "\n"
    "def main(argv=None):\n"
    "    parser = argparse.ArgumentParser(description=@DESC@)\n"
    '    parser.add_argument("path")\n'
    "@ARGS@"
    "    args = parser.parse_args(argv)\n"
    "    with open(args.path) as f:\n"
    '        lines = [line.rstrip("\\n") for line in f if line.strip()]\n'
    "@BODY@"
    "\n"
    "\n"
    'if __name__ == "__main__":\n'
    "    main()\n"
)


def _script(desc: str, body: str, args: str = "") -> str:
    ind = lambda code: "".join("    " + l + "\n" for l in code.splitlines())
    return _HEAD.replace("@DESC@", repr(desc)).replace("@ARGS@", ind(args)).replace("@BODY@", ind(body))


_FLAGS = [
    dict(script="show.py", data="poem.txt", text="roses are red\nviolets are blue\nsugar is sweet\n", desc="Print the lines of a text file.",
         body="for line in lines:\n    print(line)", flag="--number", arg='parser.add_argument("-n", "--number", action="store_true", help="number the lines")',
         new="for i, line in enumerate(lines, start=1):\n    print(f\"{i}: {line}\" if args.number else line)",
         want="each line prefixed with its line number and a colon, like \"1: roses are red\"", alias="-n",
         expect=lambda ls: [f"{i}: {l}" for i, l in enumerate(ls, 1)]),
    dict(script="words.py", data="words.txt", text="pear\napple\nfig\ncherry\n", desc="Print the words of a file in alphabetical order.",
         body="for word in sorted(lines):\n    print(word)", flag="--reverse", arg='parser.add_argument("-r", "--reverse", action="store_true", help="reverse order")',
         new="for word in sorted(lines, reverse=args.reverse):\n    print(word)", want="the words in reverse alphabetical order (Z to A)", alias="-r",
         expect=lambda ls: sorted(ls, reverse=True)),
    dict(script="errors.py", data="app.log", text="INFO start\nERROR disk full\nINFO retry\nERROR disk full\nWARN slow\n", desc="Print the ERROR lines of a log.",
         body="hits = [l for l in lines if \"ERROR\" in l]\nfor line in hits:\n    print(line)", flag="--count", arg='parser.add_argument("-c", "--count", action="store_true", help="print only the number of matches")',
         new="hits = [l for l in lines if \"ERROR\" in l]\nif args.count:\n    print(len(hits))\n    return\nfor line in hits:\n    print(line)",
         want="only the number of ERROR lines instead of the lines themselves", alias="-c", expect=lambda ls: [str(sum("ERROR" in l for l in ls))]),
    dict(script="table.py", data="people.csv", text="name,age\nana,31\nbo,27\ncy,45\n", desc="Print a CSV file as aligned columns.",
         body="for line in lines:\n    print(\"  \".join(f\"{cell:<8}\" for cell in line.split(\",\")).rstrip())", flag="--no-header",
         arg='parser.add_argument("--no-header", action="store_true", help="skip the first row")',
         new="rows = lines[1:] if args.no_header else lines\nfor line in rows:\n    print(\"  \".join(f\"{cell:<8}\" for cell in line.split(\",\")).rstrip())",
         want="the same table without its first (header) row", alias=None,
         expect=lambda ls: ["  ".join(f"{c:<8}" for c in l.split(",")).rstrip() for l in ls[1:]]),
    dict(script="dedupe.py", data="visitors.txt", text="ana\nbo\nana\ncy\nbo\nana\n", desc="Print the visitors in the order they came.",
         body="for name in lines:\n    print(name)", flag="--unique", arg='parser.add_argument("-u", "--unique", action="store_true", help="drop repeats")',
         new="seen = set()\nfor name in lines:\n    if args.unique and name in seen:\n        continue\n    seen.add(name)\n    print(name)",
         want="each visitor only once, at the place of their first visit", alias="-u", expect=lambda ls: list(dict.fromkeys(ls))),
    dict(script="amounts.py", data="expenses.txt", text="12.50\n3\n40.25\n", desc="Print each amount of an expenses file.",
         body="for line in lines:\n    print(f\"{float(line):.2f}\")", flag="--total", arg='parser.add_argument("-t", "--total", action="store_true", help="add a total line")',
         new="for line in lines:\n    print(f\"{float(line):.2f}\")\nif args.total:\n    print(f\"total: {sum(float(l) for l in lines):.2f}\")",
         want="the amounts as now, followed by one last line \"total: X\" with the sum (two decimals)", alias="-t",
         expect=lambda ls: [f"{float(l):.2f}" for l in ls] + [f"total: {sum(float(l) for l in ls):.2f}"]),
    dict(script="headline.py", data="titles.txt", text="Quarterly report\nNext steps\n", desc="Print headings from a file.",
         body="for title in lines:\n    print(title)", flag="--underline", arg='parser.add_argument("--underline", action="store_true", help="underline each heading")',
         new="for title in lines:\n    print(title)\n    if args.underline:\n        print(\"=\" * len(title))",
         want="each heading followed by a line of '=' characters exactly as long as the heading", alias=None,
         expect=lambda ls: [x for l in ls for x in (l, "=" * len(l))]),
    dict(script="shout.py", data="notes.txt", text="buy milk\ncall Ana\n", desc="Print notes.",
         body="for note in lines:\n    print(note)", flag="--upper", arg='parser.add_argument("-U", "--upper", action="store_true", help="upper-case output")',
         new="for note in lines:\n    print(note.upper() if args.upper else note)", want="every note in capital letters", alias="-U",
         expect=lambda ls: [l.upper() for l in ls]),
    dict(script="longest.py", data="clues.txt", text="cat\nelephant\nox\ngiraffe\n", desc="Print words from a file.",
         body="for word in lines:\n    print(word)", flag="--by-length", arg='parser.add_argument("-l", "--by-length", action="store_true", help="longest first")',
         new="ordered = sorted(lines, key=len, reverse=True) if args.by_length else lines\nfor word in ordered:\n    print(word)",
         want="the words ordered from longest to shortest (equal lengths keep their file order)", alias="-l",
         expect=lambda ls: sorted(ls, key=len, reverse=True)),
    dict(script="grep_ci.py", data="tickets.txt", text="Printer jammed\nlogin fails\nPRINTER offline\nwifi slow\n", desc="Print the lines containing 'printer'.",
         body="for line in lines:\n    if \"printer\" in line:\n        print(line)", flag="--ignore-case", arg='parser.add_argument("-i", "--ignore-case", action="store_true", help="match regardless of case")',
         new="for line in lines:\n    hay = line.lower() if args.ignore_case else line\n    if \"printer\" in hay:\n        print(line)",
         want="every line mentioning printer in any mix of upper and lower case", alias="-i",
         expect=lambda ls: [l for l in ls if "printer" in l.lower()]),
    dict(script="prices.py", data="groceries.csv", text="bread,2.40\nmilk,1.10\ncheese,6.75\n", desc="Print a price list.",
         body="for line in lines:\n    name, price = line.split(\",\")\n    print(f\"{name}: {price}\")", flag="--euro", arg='parser.add_argument("--euro", action="store_true", help="show a euro sign")',
         new="for line in lines:\n    name, price = line.split(\",\")\n    print(f\"{name}: \u20ac{price}\" if args.euro else f\"{name}: {price}\")",
         want="each price with a euro sign in front, like \"bread: \u20ac2.40\"", alias=None,
         expect=lambda ls: [f"{l.split(',')[0]}: \u20ac{l.split(',')[1]}" for l in ls]),
    dict(script="tasks.py", data="chores.txt", text="dishes\nlaundry\nvacuum\n", desc="Print the chores.",
         body="for chore in lines:\n    print(chore)", flag="--checkbox", arg='parser.add_argument("--checkbox", action="store_true", help="print as a checklist")',
         new="for chore in lines:\n    print(f\"[ ] {chore}\" if args.checkbox else chore)", want="every chore as a checklist item, \"[ ] dishes\"", alias=None,
         expect=lambda ls: [f"[ ] {l}" for l in ls]),
]


_CTX = {"show.py": "the poetry club's file viewer", "words.py": "the spelling-bee word list printer", "errors.py": "the on-call log triage script",
        "table.py": "the HR export viewer", "dedupe.py": "the museum visitor log", "amounts.py": "the household expenses tracker",
        "headline.py": "the slide-title printer", "shout.py": "the sticky-notes tool", "longest.py": "the crossword helper",
        "grep_ci.py": "the support-ticket search", "prices.py": "the grocery price list", "tasks.py": "the chores list"}


def _l2(rng: random.Random) -> TaskDraft:
    spec = pick(rng, _FLAGS)
    script, data, flag, alias = spec["script"], spec["data"], spec["flag"], spec["alias"]
    ctx = _CTX[script]
    sample = "\n".join("    " + l for l in spec["text"].splitlines())
    example = "\n".join("    " + l for l in spec["expect"]([l for l in spec["text"].splitlines() if l.strip()]))
    src = _script(spec["desc"], spec["body"])
    new = _script(spec["desc"], spec["new"], spec["arg"])
    flags = f"{flag}" + (f" (short form {alias})" if alias else "")
    prose = pick(rng, [
        f"Add a {flags} flag to {script}: with it the script prints {spec['want']}; without it the output stays the same. Then run python {script} {data} {flag}.",
        f"{script} needs a new option {flags}. When given, output {spec['want']}. Default behaviour must not change. Try it on {data}.",
        f"Feature request from the users of {ctx}: \"{flag} should print {spec['want']}\". Implement it in {script} with argparse and show the result for {data}.",
        f"Please extend {ctx} ({script}) with {flags}, which makes it print {spec['want']}. Run it afterwards ({data} is a sample input).",
        f"{ctx[0].upper() + ctx[1:]} always prints its input as is. Give {script} an opt-in switch, {flags}, for {spec['want']}, and demonstrate it on {data}.",
        f"Small CLI change in {script}: new boolean option {flag}. Off: today's output. On: {spec['want']}. Check with `python {script} {data} {flag}`.",
        f"Expected session after your change to {script}:\n$ python {script} {data} {flag}\n{example}\nWithout {flag} nothing changes.",
        f"Here is {data}:\n{sample}\nWith a new {flags} option, {script} should turn it into:\n{example}\nPlease implement that (argparse) and run it.",
    ])
    lines = [l for l in spec["text"].splitlines() if l.strip()]
    other = {"poem.txt": "a\nbb\n\nccc\n", "words.txt": "kiwi\nbanana\nzucchini\nbanana\n", "app.log": "ERROR a\nINFO b\n",
             "people.csv": "id,city\n1,Oslo\n2,Rome\n", "visitors.txt": "x\nx\nx\ny\n", "expenses.txt": "1\n2.005\n",
             "titles.txt": "Intro\nA longer heading here\n", "notes.txt": "mixed Case\n", "clues.txt": "aa\nb\ncccc\ndd\n",
             "tickets.txt": "no match\nPrInTeR x\nprinter y\n", "groceries.csv": "tea,3\n", "chores.txt": "mow lawn\n"}[data]
    other_lines = [l for l in other.splitlines() if l.strip()]
    plain = {"poem.txt": lambda ls: ls, "words.txt": sorted, "app.log": lambda ls: [l for l in ls if "ERROR" in l],
             "people.csv": lambda ls: ["  ".join(f"{c:<8}" for c in l.split(",")).rstrip() for l in ls],
             "visitors.txt": lambda ls: ls, "expenses.txt": lambda ls: [f"{float(l):.2f}" for l in ls],
             "titles.txt": lambda ls: ls, "notes.txt": lambda ls: ls, "clues.txt": lambda ls: ls,
             "tickets.txt": lambda ls: [l for l in ls if "printer" in l],
             "groceries.csv": lambda ls: [f"{l.split(',')[0]}: {l.split(',')[1]}" for l in ls], "chores.txt": lambda ls: ls}[data]
    cases = [([], plain(lines), data), ([flag], spec["expect"](lines), data), ([flag], spec["expect"](other_lines), "other.txt"),
             ([], plain(other_lines), "other.txt")]
    if alias:
        cases.append(([alias], spec["expect"](other_lines), "other.txt"))
    check = cli_prelude(script, {data: spec["text"], "other.txt": other}) + dd(f'''
        for extra, want, path in {cases!r}:
            got = out(path, *extra).splitlines()
            assert [l.rstrip() for l in got] == want, (extra, path, got, want)
        got = out({flag!r}, "other.txt").splitlines()
        assert [l.rstrip() for l in got] == {spec["expect"](other_lines)!r}, "flag before the path"
        print("ok")
    ''')
    shown = "\n".join(spec["expect"](lines))
    steps = [read(script), write(script, new, f"Add {flag} and branch on it."), run(f"python {script} {data} {flag}"),
             submit(f"Added {flag} to {script}; python {script} {data} {flag} prints:\n{shown}")]
    return draft(prose, {script: src, data: spec["text"]}, check, steps, ["python", "argparse", "flag"])


# ---------------------------------------------------------------- level 3

_LISTS = [("bookmarks.py", "bookmarks.json", "url", "bookmark", ["https://python.org", "https://example.com/docs", "https://news.site/a"]),
          ("shopping.py", "shopping.json", "item", "item", ["milk", "rye bread", "green tea"]),
          ("reading.py", "reading.json", "title", "book", ["Dune", "The Hobbit", "Middlemarch"])]


def _l3_remove(rng: random.Random) -> TaskDraft:
    script, store, field, noun, examples = pick(rng, _LISTS)
    src = dd(f'''
        import argparse
        import json
        import os
        import sys

        STORE = {store!r}


        def load():
            if not os.path.exists(STORE):
                return []
            with open(STORE) as f:
                return json.load(f)


        def save(entries):
            with open(STORE, "w") as f:
                json.dump(entries, f)


        def main(argv=None):
            parser = argparse.ArgumentParser(description="Keep a list of {noun}s.")
            sub = parser.add_subparsers(dest="cmd", required=True)
            p_add = sub.add_parser("add")
            p_add.add_argument("{field}")
            sub.add_parser("list")
            args = parser.parse_args(argv)
            entries = load()
            if args.cmd == "add":
                entries.append(args.{field})
                save(entries)
            elif args.cmd == "list":
                for i, entry in enumerate(entries, start=1):
                    print(f"{{i}}. {{entry}}")
            return 0


        if __name__ == "__main__":
            sys.exit(main())
    ''')
    new = src.replace('''    sub.add_parser("list")
    args = parser.parse_args(argv)''', '''    p_list = sub.add_parser("list")
    p_list.add_argument("--grep")
    p_rm = sub.add_parser("remove")
    p_rm.add_argument("number", type=int)
    args = parser.parse_args(argv)''').replace('''        for i, entry in enumerate(entries, start=1):
            print(f"{i}. {entry}")''', f'''        for i, entry in enumerate(entries, start=1):
            if args.grep is None or args.grep.lower() in entry.lower():
                print(f"{{i}}. {{entry}}")
    elif args.cmd == "remove":
        if not 1 <= args.number <= len(entries):
            print(f"error: no {noun} number {{args.number}}", file=sys.stderr)
            return 1
        entries.pop(args.number - 1)
        save(entries)''')
    assert new.count("remove") == 2 and "--grep" in new, "remove not added"
    prose = pick(rng, [
        f"{script} keeps a list of {noun}s (`add` and `list`). Add a `remove N` subcommand that deletes the {noun} numbered N in `list` (numbering starts at 1); for a number that doesn't exist print an error to stderr and exit with status 1, changing nothing. Also give `list` a `--grep TEXT` option that shows only entries containing TEXT (case-insensitive), keeping their original numbers.",
        f"Two features for {script}: (1) `python {script} remove 2` removes the second {noun}, and an out-of-range number is an error (message on stderr, exit code 1, store untouched); (2) `list --grep WORD` filters the listing case-insensitively while each line keeps its usual number.",
        f"Users of the {noun} list tool want to delete entries and search them. Implement `remove N` (1-based, error + exit 1 when N is not in the list) and `list --grep TEXT` in {script}. Other behaviour stays as it is.",
        f"My {noun} list in {store} has grown too long and I can't delete anything from it. Teach {script} two things: a `remove` subcommand taking the position shown by `list` (bad positions: complain on stderr, exit 1, keep the file as is), and a case-insensitive `--grep` filter for `list` that keeps the original numbering.",
        f"Subcommand work in {script} (argparse subparsers): new `remove <number>`, with exit code 1 and a stderr message for numbers outside 1..len; plus `list --grep <text>`, a substring filter ignoring case that prints matching lines with their normal index.",
    ])
    check = cli_prelude(script) + dd(f'''
        EX = {examples!r}
        STORE = os.path.join(D, {store!r})
        for e in EX:
            out("add", e)
        assert out("list").splitlines() == [f"{{i}}. {{e}}" for i, e in enumerate(EX, 1)]
        word = EX[1].split()[0][3:] if EX[1].startswith("https") else EX[1].split()[0][1:]
        lines = out("list", "--grep", word.upper()).splitlines()
        assert lines and all(word.lower() in l.lower() for l in lines), lines
        assert f"2. {{EX[1]}}" in lines and not any(l.startswith("1. ") for l in lines if word.lower() not in EX[0].lower()), lines
        assert out("list", "--grep", "zzzqqq") == ""
        before = open(STORE).read()
        for bad in ("0", "4", "-1", "99"):
            r = run("remove", bad)
            assert r.returncode == 1 and r.stderr.strip() and "Traceback" not in r.stderr, (bad, r.returncode, r.stderr)
            assert open(STORE).read() == before, "store changed by a failed remove"
        assert out("remove", "2") == ""
        assert out("list").splitlines() == ["1. " + EX[0], "2. " + EX[2]]
        assert out("remove", "1") == "" and out("list").splitlines() == ["1. " + EX[2]]
        r = run("remove", "x")
        assert r.returncode == 2, r.returncode
        print("ok")
    ''')
    steps = [read(script), write(script, new, "Add the remove subparser and the --grep option."),
             run(f"python {script} add one && python {script} add two && python {script} add three && python {script} remove 2 && python {script} list && python {script} list --grep T; python {script} remove 9; echo status $?"),
             submit(f"Added `remove N` (exit 1 on a bad number) and `list --grep` to {script}.")]
    return draft(prose, {script: src}, check, steps, ["python", "argparse", "subcommand", "exit-codes"])


_FORMATS = [
    ("numstats.py", "readings.txt", "12\n7.5\n30\n", "the numbers in a file", "numbers"),
    ("wordstats.py", "essay.txt", "four\nsix\nseventeen\n", "the word lengths of a file (one word per line)", "words"),
    ("orderstats.py", "orders.txt", "19.99\n5\n120.5\n7.25\n", "order amounts, one per line", "orders"),
]


def _l3_format(rng: random.Random) -> TaskDraft:
    script, data, text, what, kind = pick(rng, _FORMATS)
    value = "len(line)" if kind == "words" else "float(line)"
    src = dd(f'''
        import argparse


        def summary(values):
            return {{"count": len(values), "mean": round(sum(values) / len(values), 2), "max": max(values)}}


        def main(argv=None):
            parser = argparse.ArgumentParser(description="Summarise {what}.")
            parser.add_argument("path")
            args = parser.parse_args(argv)
            with open(args.path) as f:
                values = [{value} for line in (l.strip() for l in f) if line]
            s = summary(values)
            for key in ("count", "mean", "max"):
                print(f"{{key}}: {{s[key]}}")


        if __name__ == "__main__":
            main()
    ''')
    new = src.replace('    parser.add_argument("path")\n', '    parser.add_argument("path")\n    parser.add_argument("--format", choices=["text", "json", "csv"], default="text")\n').replace(
        '''    for key in ("count", "mean", "max"):
        print(f"{key}: {s[key]}")''', '''    if args.format == "json":
        print(json.dumps(s))
    elif args.format == "csv":
        print("count,mean,max")
        print(f"{s['count']},{s['mean']},{s['max']}")
    else:
        for key in ("count", "mean", "max"):
            print(f"{key}: {s[key]}")''').replace("import argparse\n", "import argparse\nimport json\n")
    prose = pick(rng, [
        f"{script} prints a count/mean/max summary of {what}. Add a `--format` option with the choices text (the current output, and the default), json (one JSON object with the keys count, mean and max) and csv (a header line `count,mean,max` and one line of values). Any other format must be rejected by argparse (exit status 2).",
        f"Make the output of {script} machine-readable on request: `--format json` prints {{\"count\": ..., \"mean\": ..., \"max\": ...}}, `--format csv` prints two lines (header count,mean,max, then the values), `--format text` or no option keeps today's output. Unknown formats: usage error, exit code 2.",
        f"We want to feed the {kind} summary from {script} into other tools. Add --format {{text,json,csv}} (default text). JSON: an object with count, mean, max. CSV: header row then data row. Invalid values must fail with argparse's usual error.",
        f"A dashboard will scrape {script}. Give the script an output-format switch: `--format json` for a JSON object (count, mean, max), `--format csv` for a two-line CSV with the header count,mean,max, and `--format text` (also the default) for what it prints today. Use argparse choices so that e.g. `--format xml` exits with status 2.",
        f"Spreadsheet people want CSV, the web team wants JSON: extend {script} (summary of {what}) with a --format option offering text, json and csv. Keep the text output byte-for-byte; reject unsupported formats as a usage error.",
    ])
    lines = [l for l in text.splitlines() if l.strip()]
    vals = [len(l) if kind == "words" else float(l) for l in lines]
    s = {"count": len(vals), "mean": round(sum(vals) / len(vals), 2), "max": max(vals)}
    other = "3\n4\n" if kind != "words" else "ab\nabcd\n"
    ovals = [len(l) if kind == "words" else float(l) for l in other.split()]
    o = {"count": len(ovals), "mean": round(sum(ovals) / len(ovals), 2), "max": max(ovals)}
    check = cli_prelude(script, {data: text, "other.txt": other}) + dd(f'''
        for path, s in (({data!r}, {s!r}), ("other.txt", {o!r})):
            assert out(path).splitlines() == [f"{{k}}: {{s[k]}}" for k in ("count", "mean", "max")]
            assert out(path, "--format", "text") == out(path)
            got = json.loads(out(path, "--format", "json"))
            assert got == s, (got, s)
            rows = [l.strip() for l in out("--format", "csv", path).splitlines()]
            assert rows[0].replace(" ", "") == "count,mean,max" and len(rows) == 2, rows
            vals = rows[1].split(",")
            assert int(float(vals[0])) == s["count"] and float(vals[1]) == s["mean"] and float(vals[2]) == s["max"], rows
        r = run({data!r}, "--format", "xml")
        assert r.returncode == 2 and "Traceback" not in r.stderr, (r.returncode, r.stderr)
        print("ok")
    ''')
    steps = [read(script), write(script, new, "Add --format with choices and the two new renderings."),
             run(f"python {script} {data} --format json && python {script} {data} --format csv && python {script} {data}; python {script} {data} --format xml; echo status $?"),
             submit(f"{script} has --format text/json/csv now.")]
    return draft(prose, {script: src, data: text}, check, steps, ["python", "argparse", "json", "csv", "choices"])


_RANGES = [
    ("products.py", "products.csv", "name,price\nlamp,30\nmug,8.5\ndesk,120\npen,1.25\n", "price", "products"),
    ("staff.py", "staff.csv", "name,age\nana,31\nbo,58\ncy,22\ndee,45\n", "age", "employees"),
    ("files.py", "files.csv", "name,size\na.log,1200\nb.iso,700000\nc.txt,35\nd.db,54000\n", "size", "files"),
]


def _l3_range(rng: random.Random) -> TaskDraft:
    script, data, text, col, noun = pick(rng, _RANGES)
    src = dd(f'''
        import argparse
        import csv


        def main(argv=None):
            parser = argparse.ArgumentParser(description="List {noun} from a CSV file.")
            parser.add_argument("path")
            args = parser.parse_args(argv)
            with open(args.path, newline="") as f:
                for row in csv.DictReader(f):
                    print(f"{{row['name']}} {{row['{col}']}}")


        if __name__ == "__main__":
            main()
    ''')
    new = src.replace('    args = parser.parse_args(argv)\n', f'''    parser.add_argument("--min", type=float, dest="low")
    parser.add_argument("--max", type=float, dest="high")
    args = parser.parse_args(argv)
    if args.low is not None and args.high is not None and args.low > args.high:
        parser.error("--min must not be greater than --max")
''').replace(f'''            print(f"{{row['name']}} {{row['{col}']}}")''', f'''            value = float(row["{col}"])
            if args.low is not None and value < args.low:
                continue
            if args.high is not None and value > args.high:
                continue
            print(f"{{row['name']}} {{row['{col}']}}")''')
    prose = pick(rng, [
        f"Add `--min X` and `--max Y` options to {script} that keep only the {noun} whose {col} is within the bounds (inclusive; either option may be used alone, values may be decimals). If both are given and --min is greater than --max, fail with an argparse usage error (exit status 2). Output lines stay as they are.",
        f"{script} lists every row of a CSV of {noun}. I need filtering by {col}: --min and --max, inclusive, independent of each other, accepting numbers like 2.5. A minimum above the maximum is a usage error (exit 2, no traceback). Non-numeric bounds are also rejected by argparse.",
        f"Filtering feature: `python {script} {data} --min 10 --max 100` should show only {noun} with {col} between 10 and 100 inclusive. Implement --min/--max, treat min > max as a command-line error (status 2), keep the current line format.",
        f"Searching through {data} by eye is slow. Let {script} narrow the list down by {col}: lower bound --min, upper bound --max, both optional and inclusive, floats allowed. Contradictory bounds (min above max) should end in parser.error, i.e. exit code 2.",
        f"Range filter for the {noun} listing: implement two numeric options on {script}, --min and --max, applied to the {col} column (keep rows with min <= {col} <= max). Reject a reversed range and non-numbers through argparse (status 2); unfiltered output must not change.",
    ])
    rows = [l.split(",") for l in text.splitlines()[1:]]
    def sel(lo=None, hi=None):
        return [f"{n} {v}" for n, v in rows if (lo is None or float(v) >= lo) and (hi is None or float(v) <= hi)]
    vals = sorted(float(v) for _, v in rows)
    a, b = vals[1], vals[2]
    cases = [([], sel()), (["--min", str(a)], sel(a)), (["--max", str(b)], sel(None, b)), (["--min", str(a), "--max", str(b)], sel(a, b)),
             (["--max", str(vals[0] - 1)], []), (["--min", str(a), "--max", str(a)], sel(a, a))]
    check = cli_prelude(script, {data: text}) + dd(f'''
        for extra, want in {cases!r}:
            got = out({data!r}, *extra).splitlines()
            assert got == want, (extra, got, want)
        for bad in (["--min", "{b}", "--max", "{a}"], ["--min", "abc"]):
            r = run({data!r}, *bad)
            assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == "", (bad, r.returncode, r.stderr)
        print("ok")
    ''')
    steps = [read(script), write(script, new, "Two float options, parser.error for a reversed range, filter the rows."),
             run(f"python {script} {data} --min {a} --max {b}; python {script} {data} --min {b} --max {a}; echo status $?"),
             submit(f"Added inclusive --min/--max filters on {col} to {script}; min > max is a usage error.")]
    return draft(prose, {script: src, data: text}, check, steps, ["python", "argparse", "validation", "csv"])


_OUTPUTS = [("invoice.py", "Render an invoice.", "INVOICE 17\nwidget x2  9.98\ntotal      9.98", "invoice"),
            ("calendar_export.py", "Export the week's events.", "MON standup 09:00\nWED review 14:00", "calendar"),
            ("badge.py", "Print a conference badge.", "+--------+\n| HELLO  |\n| ANA    |\n+--------+", "badge")]


def _l3_output(rng: random.Random) -> TaskDraft:
    script, desc, text, noun = pick(rng, _OUTPUTS)
    src = dd(f'''
        import argparse
        import sys

        CONTENT = {text!r}


        def main(argv=None):
            parser = argparse.ArgumentParser(description={desc!r})
            args = parser.parse_args(argv)
            print(CONTENT)
            return 0


        if __name__ == "__main__":
            sys.exit(main())
    ''')
    new = src.replace('    args = parser.parse_args(argv)\n    print(CONTENT)\n', '''    parser.add_argument("-o", "--output")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if args.output is None:
        print(CONTENT)
        return 0
    if os.path.exists(args.output) and not args.force:
        print(f"error: {args.output} exists (use --force)", file=sys.stderr)
        return 1
    with open(args.output, "w") as f:
        f.write(CONTENT + "\\n")
    print(f"wrote {args.output}")
''').replace("import argparse\n", "import argparse\nimport os\n")
    assert "--force" in new
    prose = pick(rng, [
        f"{script} prints the {noun} to stdout. Add `-o/--output FILE` to write it to FILE instead (same text plus a final newline) and print `wrote FILE`. If FILE already exists, refuse: message on stderr, exit status 1, file untouched, unless `--force` is given, which overwrites it. Without -o the behaviour is unchanged.",
        f"Let {script} save the {noun} to a file: --output PATH (short -o) writes the content there and reports \"wrote PATH\". Never clobber an existing file silently; that needs --force, otherwise print an error to stderr and return 1.",
        f"Feature for {script}: an -o/--output option plus a --force switch. Writing to a new path works directly; writing over an existing file only with --force (else stderr message, exit code 1). Default: print to the terminal like now.",
        f"People keep redirecting {script} into files and overwriting old {noun}s by accident. Add a proper --output/-o FILE option that writes the {noun} (plus a trailing newline) and prints 'wrote FILE'; if the file exists it must stop with an error on stderr and exit code 1 unless --force is passed.",
        f"Safe file output for the {noun} generator {script}: -o PATH saves instead of printing, confirms with `wrote PATH`, and protects existing files (stderr message, return code 1) unless the user adds --force. Running without -o stays exactly as before.",
    ])
    check = cli_prelude(script) + dd(f'''
        TEXT = {text!r}
        assert out() == TEXT
        r = run("-o", "a.txt")
        assert r.returncode == 0 and "wrote a.txt" in r.stdout, (r.returncode, r.stdout, r.stderr)
        assert open(os.path.join(D, "a.txt")).read().rstrip("\\n") == TEXT
        with open(os.path.join(D, "keep.txt"), "w") as f:
            f.write("precious")
        r = run("--output", "keep.txt")
        assert r.returncode == 1 and r.stderr.strip() and "Traceback" not in r.stderr, (r.returncode, r.stderr)
        assert open(os.path.join(D, "keep.txt")).read() == "precious"
        r = run("--output", "keep.txt", "--force")
        assert r.returncode == 0 and open(os.path.join(D, "keep.txt")).read().rstrip("\\n") == TEXT, (r.returncode, r.stderr)
        r = run("--force", "-o", "b.txt")
        assert r.returncode == 0 and os.path.exists(os.path.join(D, "b.txt"))
        print("ok")
    ''')
    steps = [read(script), write(script, new, "Add -o/--output and --force."),
             run(f"python {script} -o out.txt && cat out.txt && python {script} -o out.txt; echo status $?; python {script} -o out.txt --force; echo status $?"),
             submit(f"{script} has -o/--output (refuses to overwrite without --force, exit 1).")]
    return draft(prose, {script: src}, check, steps, ["python", "argparse", "files", "exit-codes"])


_SCENARIOS = {1: [_l1_option, _l1_default, _l1_subcommands], 2: [_l2], 3: [_l3_remove, _l3_format, _l3_range, _l3_output]}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return pick(rng, _SCENARIOS[level])(rng)
