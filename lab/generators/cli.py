"""`casebank tasks generate`: build a task set from the family generators (lab.generators.build) and write it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from casebank.console import console, err, progress
from casebank.console import fail as _fail

__all__ = ["generate"]


def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write: <family>/<id>.yaml and manifest.json (a folder written before is replaced).")],
    family: Annotated[list[str], typer.Option("--family", help="A family to generate (repeatable; default: every family with a generator).")] = [],  # noqa: B006
    level: Annotated[list[int], typer.Option("--level", help="A level, 1-3 (repeatable; default: 1 2 3).")] = [],  # noqa: B006
    n: Annotated[int, typer.Option("--n", min=1, help="Tasks kept per family, level and split.")] = 6,
    n_level: Annotated[list[str], typer.Option("--n-level", metavar="LEVEL=N", help="Another --n for one level, e.g. 3=4 (repeatable).")] = [],  # noqa: B006
    split: Annotated[list[str], typer.Option("--split", help="dev, test or pool (repeatable; default: dev and test). pool is never evaluated on.")] = [],  # noqa: B006
    seed_range: Annotated[str | None, typer.Option("--seed-range", metavar="A:B", help="Walk seeds A..B-1 instead of the splits' ranges (inside one split's range).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Replays in parallel.")] = 2,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip the replay of each kept task.")] = False,
    drop_invalid: Annotated[bool, typer.Option("--drop-invalid", help="Drop a task that fails validation instead of failing.")] = False,
) -> None:
    """Generate tasks: walk each split's seeds, drop exact and near duplicates (also of the seeds and the
    hand-written ladder), replay each kept task, write one YAML per task and manifest.json.

    Exit 1 when a generator raises or a task fails validation (nothing written; --drop-invalid drops an
    invalid task instead), or when a group kept fewer than --n tasks (written, the shortfall printed); exit 2
    on bad parameters."""
    from lab.generators import FAMILIES
    from lab.generators.build import BuildError, GeneratorError, build, parse_seed_range, write

    families = family or list(FAMILIES)
    levels = level or [1, 2, 3]
    if bad := [lv for lv in levels if lv not in (1, 2, 3)]:
        raise _fail(f"level must be 1, 2 or 3, not {bad}")
    per_level = dict.fromkeys(levels, n)
    for item in n_level:
        lv, _, k = item.partition("=")
        if not (lv.strip().isdigit() and k.strip().isdigit() and int(k) >= 1):
            raise _fail(f"--n-level {item!r} is not LEVEL=N (N >= 1)")
        if int(lv) not in per_level:
            raise _fail(f"--n-level {item!r}: level {lv} is not built (--level {' --level '.join(map(str, levels))})")
        per_level[int(lv)] = int(k)
    if seed_range is not None and split:
        raise _fail("give --split or --seed-range, not both")
    try:
        walk = parse_seed_range(seed_range) if seed_range is not None else None
        with progress() as bar:
            result = build(families, levels, split or ["dev", "test"], per_level, seed_range=walk, validate=not no_validate,
                           drop_invalid=drop_invalid, jobs=jobs, progress=bar)
    except GeneratorError as e:
        raise _fail(f"{e} (a generator defect)", code=1) from None
    except BuildError as e:
        raise _fail(str(e)) from None

    _print_counts(result)
    for label, near in (("a seed spec", result.nearest_seed), ("a hand-written ladder task", result.nearest_ladder),
                        ("another kept task", result.nearest_kept)):
        if near:
            console.print(f"highest cosine of a kept task to {label}: {near.cosine:.3f} ({near.task} ~ {near.other})")
    console.print(f"dropped {len(result.drops)}; generation {result.generation_s:.1f} s"
                  + (f", replay {result.replay_s:.1f} s" if result.validated else ", not validated"))
    if result.invalid and not drop_invalid:
        for task_id, problems in result.invalid.items():
            for problem in problems:
                err.print(f"[red]INVALID[/red] {escape(problem)}")
        raise _fail(f"{len(result.invalid)} of {len(result.tasks)} tasks fail validation (generator defects); "
                    "nothing written (--drop-invalid drops them)", code=1)
    for task_id, problems in result.invalid.items():
        err.print(f"[yellow]dropped invalid[/yellow] {escape(task_id)}: {escape('; '.join(problems))[:400]}")
    try:
        write(result, out)
    except BuildError as e:
        raise _fail(str(e)) from None
    console.print(f"wrote {len(result.tasks)} tasks and manifest.json to {out}")
    if result.shortfalls:
        for s in result.shortfalls:
            err.print(f"[red]SHORTFALL[/red] {escape(str(s))}")
        raise _fail(f"{len(result.shortfalls)} group(s) kept fewer than the tasks asked for (written anyway)", code=1)


def _print_counts(result) -> None:  # noqa: ANN001: a BuildResult
    counts = result.counts()
    splits = sorted({t.split for t in result.tasks}) or ["-"]
    levels = sorted({t.level for t in result.tasks})
    table = Table(title=f"{len(result.tasks)} tasks: {'/'.join(splits)} per family and level")
    for column in ("family", *(f"level {lv}" for lv in levels), "total"):
        table.add_column(column)
    for family, by_level in counts.items():
        cells = ["/".join(str(by_level.get(str(lv), {}).get(s, 0)) for s in splits) for lv in levels]
        table.add_row(family, *cells, str(sum(sum(v.values()) for v in by_level.values())))
    console.print(table)
