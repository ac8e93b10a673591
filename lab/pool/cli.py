"""`casebank pool build`: the pool of verified trajectories (lab.pool.build), with a progress bar and a closing note."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from casebank.console import console, err, fail, progress
from lab.generators import SEED_RANGES

__all__ = ["pool_app"]

pool_app = typer.Typer(no_args_is_help=True)


@pool_app.command("build")
def build(
    n: Annotated[int, typer.Option("--n", min=1, help="Cases in the pool; a pool built before with fewer grows to N.")] = 10_000,
    out: Annotated[Path | None, typer.Option("--out", help="Pool folder: pool.jsonl and manifest.json (default: DATA_DIR/pool).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Replays in parallel (threads).")] = 2,
    seed_start: Annotated[int, typer.Option("--seed-start", help="The first seed each (family, level) walks up from (in the pool range).")] = SEED_RANGES["pool"].start,
    family: Annotated[list[str], typer.Option("--family", help="A family (repeatable; default: every family with a generator).")] = [],  # noqa: B006
    level: Annotated[list[int], typer.Option("--level", help="A level, 1-3 (repeatable; default: 1 2 3).")] = [],  # noqa: B006
    threshold: Annotated[float | None, typer.Option("--threshold", min=0.0, max=1.0, help="Drop a task whose instruction is this cosine-close to an eval task (default: casebank.leakage's 0.8).")] = None,
    evals: Annotated[list[Path], typer.Option("--eval", help="A task folder or file the pool must not leak (repeatable; default: seeds/tasks/generated and seeds/tasks/eval).")] = [],  # noqa: B006
) -> None:
    """Build the pool: walk the generators' pool seeds round-robin over family x level, drop twins and near-twins
    of the eval tasks and duplicates, replay each reference in the sandbox and keep the verified successes.

    Resumable: run the same command again after a kill. Exit 1 when the generators ran out of distinct tasks
    before N cases (the pool is written), 2 on bad parameters, 130 when interrupted."""
    from casebank.config import Settings
    from casebank.doctor import preflight_or_exit
    from casebank.leakage import LEAKAGE_THRESHOLD
    from casebank.tasks import TaskFileError
    from lab.pool.build import POOL_FILE, PoolError, eval_tasks, open_pool

    out = out or Settings().data_dir / "pool"
    try:
        pool = open_pool(out, n, families=family or None, levels=level or (1, 2, 3), seed_start=seed_start,
                         threshold=LEAKAGE_THRESHOLD if threshold is None else threshold, jobs=jobs,
                         evals=eval_tasks(evals))
    except (TaskFileError, PoolError) as e:
        raise fail(str(e)) from None
    preflight_or_exit(err)
    started, added = time.perf_counter(), []
    try:
        with progress() as bar:
            row = bar.add_task("pool", total=n, completed=pool.manifest.cases)

            def advance(cases: int, dropped: int) -> None:
                added.append(cases)
                bar.update(row, completed=cases, description=f"pool ({dropped} dropped)")

            manifest = pool.run(advance)
    except PoolError as e:
        raise fail(str(e)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; `casebank pool build --n {n} --out {out}` goes on from the last chunk written",
                   code=130) from None
    seconds = time.perf_counter() - started
    size = (out / POOL_FILE).stat().st_size
    console.print(f"pool: {manifest.cases} cases in {out / POOL_FILE} ({size / 1e6:.1f} MB); this run added {len(added)} "
                  f"in {seconds:.0f} s ({len(added) / max(seconds, 1e-9):.2f} cases/s)")
    kinds = ", ".join(f"{kind} {count}" for kind, count in manifest.dropped.items()) or "none"
    console.print(f"dropped {sum(manifest.dropped.values())} ({kinds}); leaks of the {manifest.params.eval_tasks} eval "
                  f"tasks: {manifest.dropped.get('twin', 0) + manifest.dropped.get('near', 0)}")
    if manifest.nearest:
        console.print(f"closest kept case to an eval task: {manifest.nearest.task} ~ {manifest.nearest.eval_task}, "
                      f"cosine {manifest.nearest.cosine:.3f}")
    for group, cases in manifest.exhausted.items():
        err.print(f"[yellow]ran out[/yellow] {group}: no new distinct task in {manifest.params.patience} seeds after {cases} cases")
    if manifest.cases < n:
        raise fail(f"every family x level ran out of distinct tasks at {manifest.cases} of {n} cases (written)", code=1)
