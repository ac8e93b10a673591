"""`casebank curate`: write a seed file of N cases picked from a pool (lab.curate.methods)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from casebank.console import console, fail
from lab.curate.methods import METHODS, describe

__all__ = ["curate_app"]

curate_app = typer.Typer()

_METHODS_HELP = " ".join(f"{name}: {describe(name)}" for name in METHODS)


@curate_app.command("curate")
def curate(
    out: Annotated[Path, typer.Option("--out", help="Seed file to write (casebank JSONL, as seeds/seeds.jsonl).")],
    n: Annotated[int, typer.Option("--n", help="Cases to pick.")] = 78,
    method: Annotated[str, typer.Option("--method", help=_METHODS_HELP)] = "random",
    seed: Annotated[int, typer.Option("--seed", help="The seed of the pick: the same seed, the same file.")] = 0,
    from_: Annotated[Path | None, typer.Option("--from", help="A pool folder (its pool.jsonl) or a case file, e.g. a `casebank export` (default: DATA_DIR/pool; not for human).")] = None,
    usage: Annotated[Path | None, typer.Option("--usage", help="utility: a `casebank export` of an earlier online run's bank, whose usage counters rank the cases (default: the pool's own).")] = None,
) -> None:
    """Pick N cases of a pool by a method and write them as a seed file (`casebank seed --from FILE` loads it);
    deterministic by seed. Exit 2 on bad input (N above the pool's size, an unknown method, a missing file)."""
    import seeds
    from casebank.casefile import CaseFileError, load_cases, write_cases
    from casebank.config import Settings
    from lab.curate.methods import CurateError, curate as pick, group_of, usage_counters
    from lab.pool.build import pool_file

    if method not in METHODS:
        raise fail(f"unknown method {method!r}; methods: {', '.join(METHODS)}")
    if method == "human" and from_ is not None:
        raise fail("method human takes the bundled seeds (seeds/seeds.jsonl); --from is for the other methods")
    source = seeds.SEEDS_FILE if method == "human" else pool_file(from_ or Settings().data_dir / "pool")
    for path in (source, usage):
        if path is not None and not path.is_file():
            hint = " (build one with `casebank pool build`)" if path == source and method != "human" else ""
            raise fail(f"{path}: no such file{hint}")
    try:
        cases = load_cases(source)
        counters = usage_counters(load_cases(usage) if usage else cases) if method == "utility" else None
        chosen = pick(cases, n, method, seed, usage=counters)
    except (CaseFileError, CurateError) as e:
        raise fail(str(e)) from None
    write_cases(chosen, out)
    _print_counts(Counter(group_of(c) for c in chosen), f"{len(chosen)} cases by {method} (seed {seed}) from {source}")
    console.print(f"wrote {out}")


def _print_counts(groups: Counter[tuple[str, int]], title: str) -> None:
    levels = sorted({lv for _, lv in groups})
    table = Table(title=title)
    for column in ("family", *(f"level {lv}" if lv else "no level" for lv in levels), "total"):
        table.add_column(column)
    for family in sorted({f for f, _ in groups}):
        cells = [groups.get((family, lv), 0) for lv in levels]
        table.add_row(family, *map(str, cells), str(sum(cells)))
    console.print(table)
