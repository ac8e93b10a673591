"""Shared helpers of the data-reading families (debug-traceback, extract-json, log-analysis, report,
compare-runs): name pools, phrasing, and checker snippets (stdlib only, they run in the sandbox)."""

from __future__ import annotations

import json
import random
import textwrap
from typing import Any

from casebank.tasks import Step

PEOPLE = ["Ana Lima", "Bruno Costa", "Chen Wei", "Dana Whitfield", "Emeka Obi", "Farah Haddad", "Greta Lind",
          "Hiro Tanaka", "Ines Duarte", "Jonas Berg", "Kavya Rao", "Lars Holm", "Mira Novak", "Nadia Karim",
          "Oscar Reyes", "Priya Shah", "Quinn Murphy", "Rosa Marin", "Sven Ek", "Tara Singh", "Umar Farooq",
          "Vera Kovacs", "Wen Li", "Yusuf Demir", "Zoe Martin"]
COMPANIES = ["Larkspur Analytics", "Northwind Freight", "Bluefin Robotics", "Cedar & Stone", "Quarry Labs",
             "Helix Biotech", "Orchid Media", "Tidewater Energy", "Juniper Health", "Foxglove Games"]
CITIES = ["Lisbon", "Porto", "Leeds", "Bristol", "Oslo", "Utrecht", "Gdansk", "Valencia", "Tampere", "Graz"]
MODELS = ["bert-base", "roberta-large", "deberta-v3", "t5-small", "llama-7b", "mistral-7b", "qwen-1.5b",
          "phi-2", "gpt2-medium", "electra-small", "resnet50", "vit-b16", "convnext-t", "whisper-small"]
BENCHES = ["gsm8k", "mmlu", "arc", "hellaswag", "humaneval", "truthfulqa", "winogrande", "boolq", "piqa",
           "squad", "mbpp", "drop"]
ENDPOINTS = ["/api/items", "/api/cart", "/api/checkout", "/api/search", "/api/login", "/api/orders",
             "/api/users", "/api/invoices", "/health", "/api/reports", "/api/upload", "/api/stock"]
HOSTS = ["web-01", "web-02", "db-01", "cache-01", "worker-03", "worker-07", "edge-02", "batch-05"]


def pick(rng: random.Random, *options: Any) -> Any:
    return options[rng.randrange(len(options))]


def sample(rng: random.Random, pool: list[Any], k: int) -> list[Any]:
    return rng.sample(pool, k)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def para(*parts: str) -> str:
    """Join non-empty instruction fragments with single spaces, ending with a newline."""
    return " ".join(p.strip() for p in parts if p and p.strip()) + "\n"


def step(tool: str, thought: str = "", **args: str) -> Step:
    return Step(thought=thought, tool=tool, args=args)


def submit(summary: str, thought: str = "Done.") -> Step:
    return step("submit", thought, summary=summary)


def r4(x: float) -> float:
    return round(x + 0.0, 4)


# A recursive comparison for JSON outputs: dict keys exactly, lists in order, ints strictly ints,
# floats within a tolerance, strings up to surrounding whitespace.
SAME_SNIPPET = '''
def same(got, want, tol, path="$"):
    if isinstance(want, bool) or want is None:
        assert got is want, (path, got, want)
    elif isinstance(want, int):
        assert type(got) is int and got == want, (path, got, want)
    elif isinstance(want, float):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), (path, got, want)
        assert abs(got - want) <= tol, (path, got, want)
    elif isinstance(want, str):
        assert isinstance(got, str) and got.strip() == want, (path, got, want)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            same(g, w, tol, f"{path}[{i}]")
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (path, sorted(got) if isinstance(got, dict) else got, sorted(want))
        for k in want:
            same(got[k], want[k], tol, f"{path}.{k}")
'''


def json_check(path: str, want: Any, tol: float = 1e-6, extra: str = "") -> str:
    """A checker that loads `path` and compares it with `want` (see SAME_SNIPPET)."""
    return (
        "import json, os\n"
        + SAME_SNIPPET
        + f"\nassert os.path.isfile({path!r}), {path + ' missing'!r}\n"
        + f"with open({path!r}, encoding='utf-8') as f:\n    got = json.load(f)\n"
        + f"WANT = json.loads({json.dumps(json.dumps(want, ensure_ascii=False))})\n"
        + f"same(got, WANT, {tol!r})\n"
        + (extra.rstrip() + "\n" if extra else "")
        + "print('ok')\n"
    )


# Markdown table reading for report checkers: rows of every table in `text`, separator rows dropped.
TABLE_SNIPPET = '''
import re

def tables(text):
    """Every Markdown table in text as a list of rows (lists of cell strings), in order."""
    out, cur = [], []
    for line in text.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|"):
            cells = [c.strip().strip("*`").strip() for c in s.strip("|").split("|")]
            if cells and all(re.fullmatch(r":?-{1,}:?", c) for c in cells):
                continue
            cur.append(cells)
        elif cur:
            out.append(cur)
            cur = []
    return out

def table_with(text, header):
    want = [h.lower() for h in header]
    for t in tables(text):
        if [c.lower() for c in t[0]] == want:
            return t[1:]
    raise AssertionError(f"no table with header {header}: {[t[0] for t in tables(text)]}")

def num(cell):
    return float(cell.replace("%", "").replace("$", "").replace(",", "").replace("+", "").strip())

def section(text, title):
    """The text after the heading whose title contains `title` (case-insensitive) up to the next heading of the same or higher level."""
    m = re.search(r"^(#+)\\s*" + re.escape(title) + r".*$", text, re.I | re.M)
    assert m, f"no section {title!r}"
    rest = text[m.end():]
    n = re.search(r"^#{1,%d}\\s" % len(m.group(1)), rest, re.M)
    return rest[: n.start()] if n else rest
'''


def numbers_snippet() -> str:
    return 'import re\nNUMS = [float(x) for x in re.findall(r"-?\\d+(?:\\.\\d+)?", ANSWER.replace(",", ""))]\n'


def ts(rng: random.Random, day: str, start_s: int, n: int, gap: tuple[int, int] = (1, 90)) -> list[str]:
    """n increasing HH:MM:SS times on `day` from start_s seconds after midnight."""
    t, out = start_s, []
    for _ in range(n):
        t += rng.randint(*gap)
        out.append(f"{day} {t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}")
    return out


def day(rng: random.Random) -> str:
    return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def lines(rows: list[str]) -> str:
    return "\n".join(rows) + "\n"


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    return lines([",".join(header)] + [",".join(str(c) for c in r) for r in rows])


def jsonl_text(records: list[dict[str, Any]]) -> str:
    return lines([json.dumps(r) for r in records])


OPENERS = [
    "", "", "", "Quick one before the standup.", "I'm writing the postmortem and need numbers.", "This feeds our weekly dashboard.",
    "My lead wants this before lunch.", "Context: the jobs ran over the weekend and nobody looked yet.",
    "I'm on call and trying to make sense of what happened.", "We're drafting the appendix of a paper.",
    "A teammate left this half done.", "Small data chore for the retro.", "This is an item on the release checklist.",
]
CLOSERS = [
    "", "", "", "The standard library is enough.", "Don't modify the input files.", "Print the result at the end so I can eyeball it.",
    "Use the exact key names given.", "A short Python script is fine.", "Tell me the headline numbers when you submit.",
    "Double-check your output before finishing.",
]


def frame(rng: random.Random, core: str) -> str:
    """Wrap an instruction in an optional opener and closer sentence."""
    return para(pick(rng, *OPENERS), core, pick(rng, *CLOSERS))


def rename(draft: Any, mapping: dict[str, str]) -> Any:
    """Rename tokens (file names, column and key names, section titles) consistently across a whole draft:
    instruction, files (paths and contents), checker and reference steps. Applied in mapping order."""
    def sub(text: str) -> str:
        for old, new in mapping.items():
            text = text.replace(old, new)
        return text
    draft.instruction = sub(draft.instruction)
    draft.files = {sub(k): sub(v) for k, v in draft.files.items()}
    draft.check = sub(draft.check)
    for st in draft.steps:
        st.args = {k: sub(v) if isinstance(v, str) else v for k, v in st.args.items()}
        st.thought = sub(st.thought)
    return draft


def draw(rng: random.Random, scenarios: list, renames: dict[str, list[dict[str, str]]]) -> Any:
    """Pick a scenario, draw it, maybe rename its vocabulary, and frame the instruction."""
    fn = pick(rng, *scenarios)
    draft = fn(rng)
    maps = renames.get(fn.__name__)
    if maps:  # include {} among the maps to keep the original vocabulary as one option
        m = pick(rng, *maps)
        if m:
            draft = rename(draft, m)
    draft.instruction = frame(rng, draft.instruction)
    return draft
