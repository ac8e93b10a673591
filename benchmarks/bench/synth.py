"""Realistic synthetic cases, generated reproducibly, and their embeddings cached on disk.

The bank of size N is always the first N cases of one stream: the 78 real seeds, then variants of them.
A variant takes a seed as its template (so families, tags, tools and trajectory shapes follow the real
mix) and changes what a real bank would vary: the file names and numbers of the task, a lead-in and a
closing remark, an extra exploring step or an extra re-run, longer or shorter observations. Case `i`
depends only on the seed and `i` (and on the texts before it, which it must not repeat), so a 100k
bank starts with the 10k one and one embedding cache serves every size.

Embeddings are cached per (generator version, seed, embedder) as `vectors.npy` plus `ids.txt` under the
bench dir; a larger size embeds only the cases it adds. Rerunning a size re-embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from casebank.casefile import load_cases
from casebank.models import Case

VERSION = 1  # bump when the generator changes: the cache key includes it
FILE = re.compile(
    r"\b([A-Za-z_][\w-]*)\.(py|csv|jsonl|json|log|txt|md|sh|toml|yaml|yml|cfg|ini)\b"
)
NUMBER = re.compile(r"(?<![\w.])\d{1,4}(?![\w.])")
STEMS = [
    "orders",
    "invoices",
    "metrics",
    "sensor",
    "users",
    "accounts",
    "billing",
    "inventory",
    "payments",
    "events",
    "sessions",
    "clicks",
    "weather",
    "traffic",
    "grades",
    "scores",
    "survey",
    "tickets",
    "builds",
    "deploys",
    "commits",
    "releases",
    "pages",
    "visits",
    "carts",
    "shipments",
    "stock",
    "prices",
    "ledger",
    "budget",
    "expenses",
    "payroll",
    "emails",
    "contacts",
    "leads",
    "churn",
    "signups",
    "latency",
    "uptime",
    "errors",
    "alerts",
    "jobs",
    "queue",
    "worker",
    "scheduler",
    "cache",
    "tokens",
    "parser",
    "lexer",
    "config",
    "settings",
    "runner",
    "loader",
    "exporter",
    "importer",
    "report",
    "summary",
    "stats",
    "trends",
    "matrix",
    "vector",
    "graph",
    "nodes",
    "edges",
    "routes",
]
LEADS = (
    "",
    "",
    "",
    "Please ",
    "Quick one: ",
    "In this repo, ",
    "For the nightly job, ",
    "Before the release, ",
    "A user reports a problem. ",
    "Small task: ",
    "Our CI is red. ",
    "Follow-up from the review: ",
)
TAILS = (
    "",
    "",
    "",
    " Keep the output format as it is.",
    " Do not touch the other files.",
    " The CI runs this on every push.",
    " Print the result at the end.",
    " Keep it short.",
    " Explain the change in one line.",
    " The data comes from last week's export.",
    " Make sure the tests pass afterwards.",
    " Use only the standard library.",
)
LOG_LINES = (
    "INFO worker started",
    "DEBUG cache hit ratio 0.93",
    "WARN retrying request",
    "INFO batch done",
    "ERROR timeout talking to upstream",
    "INFO flushed 128 rows",
    "DEBUG gc pause 12ms",
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def seed_cases() -> list[Case]:
    import seeds

    return load_cases(seeds.default_seed_file())


class CaseStream:
    """Case `i` of the stream, for any i: the seeds first, then variants (generated in order, cached)."""

    def __init__(self, seed: int = 0, base: list[Case] | None = None):
        self.seed = seed
        self.base = base if base is not None else seed_cases()
        self._templates = [c.model_dump(mode="json") for c in self.base]
        self._texts: list[str] = [c.task for c in self.base]
        self._seen = set(self._texts)
        self._plans: list[
            tuple[int, dict[str, str], str]
        ] = []  # per variant: template, renames, task text

    def _plan(self, i: int) -> tuple[int, dict[str, str], str]:
        """Template, file renames and task text of variant i, drawn until the text is new."""
        for attempt in range(100):
            rng = random.Random(f"{self.seed}:{i}:{attempt}")
            t = rng.randrange(len(self.base))
            task = self.base[t].task.strip()
            renames: dict[str, str] = {}
            for stem, ext in FILE.findall(task):
                if f"{stem}.{ext}" not in renames:
                    new = rng.choice(STEMS) + (
                        rng.choice(("", "_v2", "_old", "s", "_util"))
                        if rng.random() < 0.4
                        else ""
                    )
                    renames[f"{stem}.{ext}"] = (
                        f"test_{new}" if stem.startswith("test_") else new
                    ) + f".{ext}"
            text = FILE.sub(lambda m, r=renames: r.get(m.group(0), m.group(0)), task)
            text = NUMBER.sub(
                lambda m, r=rng: (
                    str(r.randint(2, 999)) if r.random() < 0.5 else m.group(0)
                ),
                text,
            )
            text = rng.choice(LEADS) + text + rng.choice(TAILS)
            if text not in self._seen:
                self._seen.add(text)
                return t, renames, text
        raise RuntimeError(f"could not draw a new task text for case {i}")

    def text(self, i: int) -> str:
        while len(self._texts) <= i:
            plan = self._plan(len(self._texts))
            self._plans.append(plan)
            self._texts.append(plan[2])
        return self._texts[i]

    def texts(self, n: int) -> list[str]:
        if n:
            self.text(n - 1)
        return self._texts[:n]

    def case(self, i: int) -> Case:
        if i < len(self.base):
            return self.base[i]
        self.text(i)
        t, renames, text = self._plans[i - len(self.base)]
        return Case.model_validate(self._variant(i, t, renames, text))

    def cases(self, start: int, stop: int) -> Iterator[Case]:
        for i in range(start, stop):
            yield self.case(i)

    def _variant(
        self, i: int, t: int, renames: dict[str, str], text: str
    ) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{i}:shape")
        d = json.loads(json.dumps(self._templates[t]))

        def rename(s: str) -> str:
            for old, new in renames.items():
                s = s.replace(old, new)
            return s

        messages = []
        for m in d["messages"]:
            if m.get("content"):
                m["content"] = text if m["role"] == "user" else rename(m["content"])
            for call in m.get("tool_calls") or []:
                args = call["function"]["arguments"]
                call["function"]["arguments"] = (
                    json.loads(rename(json.dumps(args)))
                    if isinstance(args, dict)
                    else rename(args)
                )
            if (
                m["role"] == "tool" and rng.random() < 0.25
            ):  # longer observations, as real logs are
                m["content"] += "\n" + "\n".join(
                    rng.choice(LOG_LINES) for _ in range(rng.randint(3, 40))
                )
            messages.append(m)
        user = next(j for j, m in enumerate(messages) if m["role"] == "user")
        if rng.random() < 0.3:  # an extra look around before the work
            messages[user + 1 : user + 1] = _step(
                f"x{i}a",
                "Look at the files first.",
                "list_files",
                {},
                "\n".join(renames.values()) or ".",
            )
        if rng.random() < 0.2:  # an extra re-run before submitting
            last = max(j for j, m in enumerate(messages) if m["role"] == "assistant")
            messages[last:last] = _step(
                f"x{i}b",
                "Run it once more to be sure.",
                "run",
                {"command": "ls -la"},
                "exit code: 0\ntotal 8",
            )
        d.update(
            id="",
            task=text,
            messages=messages,
            source=rng.choice(("writeback", "import")),
            merged_from=[],
            created_at=(START + timedelta(minutes=i)).isoformat(),
            usage={"retrieved": 0, "retrieved_in_success": 0},
        )
        return d


def _step(
    cid: str, thought: str, tool: str, args: dict[str, Any], observation: str
) -> list[dict[str, Any]]:
    call = {
        "id": f"call_{cid}",
        "type": "function",
        "function": {"name": tool, "arguments": args},
    }
    return [
        {"role": "assistant", "content": thought, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": call["id"],
            "name": tool,
            "content": observation,
        },
    ]


class VectorCache:
    """The embeddings of the stream's first N task texts, computed once and grown on demand."""

    SAVE_EVERY = 20  # chunks between saves while growing

    def __init__(self, root: Path, stream: CaseStream, embedder_path: str):
        key = hashlib.sha256(
            f"{VERSION}:{stream.seed}:{embedder_path}:{len(stream.base)}".encode()
        ).hexdigest()[:12]
        self.dir = root / f"vectors-{key}"
        self.stream = stream
        self.computed_now = 0  # how many vectors this process had to embed

    def vectors(
        self,
        n: int,
        embed: Callable[[list[str]], np.ndarray],
        on_progress: Callable[[int], None] | None = None,
        chunk: int = 512,
    ) -> np.ndarray:
        path = self.dir / "vectors.npy"
        have = np.load(path) if path.is_file() else np.zeros((0, 0), dtype=np.float32)
        if len(have) < n:
            texts, before = self.stream.texts(n), len(have)
            parts = [have] if before else []
            for i, start in enumerate(range(len(have), n, chunk), start=1):
                parts.append(embed(texts[start : min(n, start + chunk)]))
                if on_progress:
                    on_progress(min(n, start + chunk) - start)
                if i % self.SAVE_EVERY == 0:  # 100k cases take about half an hour: a stopped run keeps its part
                    parts = [self._save(np.concatenate(parts).astype(np.float32))]
            have = self._save(np.concatenate(parts).astype(np.float32))
            self.computed_now += n - before
        return have[:n]

    def _save(self, vectors: np.ndarray) -> np.ndarray:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "vectors.tmp.npy"
        np.save(tmp, vectors)
        tmp.replace(self.dir / "vectors.npy")
        return vectors

    def lookup(self, n: int, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """Task text -> its cached vector, for the first n cases."""
        return dict(zip(self.stream.texts(n), vectors[:n]))
