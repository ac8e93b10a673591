"""Case bank timings: seeding, and query latency per strategy at two bank sizes, side by side.

    .venv/bin/python benchmarks/bank_bench.py [--sizes 78 1000] [--queries 30] [--png out.png]

Prints a table (median and p95 ms per strategy and size) and writes a bar chart.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

import seeds
from casebank.bank import CaseBank
from casebank.casefile import load_cases
from casebank.config import Settings
from casebank.models import Case

STRATEGIES = ["random", "bm25", "dense", "hybrid", "mmr"]
QUERIES = [
    "fix the failing test in the date parser", "compute mean accuracy per run from the csv",
    "add a --json flag to the cli", "extract the authors into json", "write a markdown report table",
    "refactor duplicated code into a helper", "the script crashes with a KeyError", "write pytest tests",
]


def synthetic(base: list[Case], size: int) -> list[Case]:
    """The real cases, then re-worded copies (new task text, so a new id) up to `size`."""
    out = []
    for i in range(size):
        src = base[i % len(base)]
        out.append(src if i < len(base) else Case.model_validate(src.model_dump() | {"task": f"{src.task} (variant {i})", "id": ""}))
    return out


def build_bank(size: int, base: list[Case]) -> tuple[CaseBank, float]:
    bank = CaseBank(Settings(data_dir=Path(tempfile.mkdtemp())))
    cases = synthetic(base, size)
    started = time.perf_counter()
    bank.upsert(cases)
    return bank, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[78, 1000])
    parser.add_argument("--queries", type=int, default=24)
    parser.add_argument("--png", type=Path, default=Path("benchmarks/bank_latency.png"))
    args = parser.parse_args()
    console = Console()
    base = load_cases(seeds.default_seed_file())
    CaseBank(Settings(data_dir=Path(tempfile.mkdtemp()))).embedder.embed(["warm up the embedder"])
    results: dict[tuple[int, str], list[float]] = {}
    seed_times = {}
    for size in args.sizes:
        bank, seconds = build_bank(size, base)
        seed_times[size] = seconds
        for strategy in STRATEGIES:
            timings = []
            for i in track(range(args.queries), description=f"{size} cases, {strategy}", console=console):
                started = time.perf_counter()
                bank.retrieve(QUERIES[i % len(QUERIES)], 4, strategy)  # type: ignore[arg-type]
                timings.append((time.perf_counter() - started) * 1000)
            results[(size, strategy)] = timings
    table = Table(title="case bank query latency (ms), k=4")
    table.add_column("strategy")
    for size in args.sizes:
        table.add_column(f"{size}: median")
        table.add_column(f"{size}: p95")
    for strategy in STRATEGIES:
        row = [strategy]
        for size in args.sizes:
            t = sorted(results[(size, strategy)])
            row += [f"{statistics.median(t):.1f}", f"{t[int(0.95 * (len(t) - 1))]:.1f}"]
        table.add_row(*row)
    console.print(table)
    for size, seconds in seed_times.items():
        console.print(f"seeding {size} cases (embed + one upsert): {seconds:.2f}s ({seconds / size * 1000:.1f} ms/case)")
    if len(args.sizes) > 1:
        small, large = args.sizes[0], args.sizes[-1]
        for strategy in STRATEGIES:
            ratio = statistics.median(results[(large, strategy)]) / statistics.median(results[(small, strategy)])
            console.print(f"{strategy}: {large} vs {small} cases: x{ratio:.2f} median latency")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(args.sizes)
    for j, size in enumerate(args.sizes):
        ax.bar([i + j * width for i in range(len(STRATEGIES))],
               [statistics.median(results[(size, s)]) for s in STRATEGIES], width, label=f"{size} cases")
    ax.set_xticks([i + width * (len(args.sizes) - 1) / 2 for i in range(len(STRATEGIES))], STRATEGIES)
    ax.set_ylabel("median query latency (ms)")
    ax.set_title("casebank retrieval latency (k=4, 2 CPU cores)")
    ax.legend()
    fig.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=120)
    console.print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
