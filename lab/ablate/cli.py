"""`casebank ablate`: run a grid of configs over a task suite; `casebank report RUN_DIR`: read it out."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from casebank.config import Settings
from casebank.console import fail as _fail
from casebank.llm.endpoints import DEFAULT_LLM_URL
from lab.ablate.plan import DEFAULT_BASELINE_RATE

ablate_app = typer.Typer(help="Ablations.")
console = Console()
err = Console(stderr=True)


@ablate_app.command("ablate")
def ablate(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Grid file (YAML); see lab/ablate/grid.py.")] = None,
    model: Annotated[list[str], typer.Option("--model", help="Served model name (repeatable: an axis).")] = [],  # noqa: B006
    strategy: Annotated[list[str], typer.Option("--strategy", help="none|random|bm25|dense|hybrid|mmr (repeatable: an axis).")] = [],  # noqa: B006
    k: Annotated[list[int], typer.Option("-k", "--k", help="Cases retrieved (repeatable: an axis).")] = [],  # noqa: B006
    case_format: Annotated[list[str], typer.Option("--case-format", help="system|turns (repeatable: an axis).")] = [],  # noqa: B006
    temperature: Annotated[list[float], typer.Option("--temperature", help="Sampling temperature (repeatable).")] = [],  # noqa: B006
    write_back: Annotated[list[str], typer.Option("--write-back", help="off|online (repeatable: an axis).")] = [],  # noqa: B006
    harness: Annotated[list[str], typer.Option("--harness", help="A harness lever as NAME=VALUE, e.g. primer=false (repeatable).")] = [],  # noqa: B006
    repeats: Annotated[int | None, typer.Option("--repeats", help="Episodes per (config, task); seeds seed..seed+R-1.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Base sampling seed.")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Config name the paired differences use.")] = None,
    tasks: Annotated[Path | None, typer.Option("--tasks", help="Task dir or file (default: the bundled held-out ladder).")] = None,
    split: Annotated[list[str], typer.Option("--split", help="Keep tasks of this split (repeatable).")] = [],  # noqa: B006
    family: Annotated[list[str], typer.Option("--family", help="Keep tasks of this family (repeatable).")] = [],  # noqa: B006
    level: Annotated[list[int], typer.Option("--level", help="Keep tasks of this level (repeatable).")] = [],  # noqa: B006
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many tasks (after filters, in id order).")] = None,
    seeds_file: Annotated[Path | None, typer.Option("--seeds", help="Cases the banks are built from (default: the bundled seeds).")] = None,
    llm_url: Annotated[str, typer.Option("--llm-url", help="OpenAI-compatible base URL; several, comma-separated, share the episodes.")] = DEFAULT_LLM_URL,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Episodes in flight (vLLM batches them).")] = 4,
    max_attempts: Annotated[int, typer.Option("--max-attempts", help="Tries per episode on infrastructure errors.")] = 3,
    broken_world_after: Annotated[int | None, typer.Option("--broken-world-after", min=0, help="Stop when the first N episodes all fail the same way (the environment, not the agent; grid default 8; 0: never).")] = None,
    stop_after_errors: Annotated[int, typer.Option("--stop-after-errors", min=0, help="Stop after this many episodes in a row end in infrastructure errors (0: never); rerun to resume.")] = 8,
    request_timeout: Annotated[float, typer.Option("--request-timeout", min=1, help="HTTP timeout of one model call, s (a net against a stuck server).")] = 1800.0,
    out: Annotated[Path | None, typer.Option("--out", help="Run dir (default: DATA_DIR/ablations/<hash of the grid>).")] = None,
    only: Annotated[list[str], typer.Option("--only", help="Run only this config of the grid (repeatable); the run dir stays the whole grid's.")] = [],  # noqa: B006
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the configs and the episode count; run nothing.")] = False,
    plan: Annotated[bool, typer.Option("--plan", help="Print the pending episodes, the expected hours at the throughput of earlier runs and the detectable effect of each comparison; run nothing.")] = False,
    plan_baseline_rate: Annotated[float | None, typer.Option("--plan-baseline-rate", min=0.0, max=1.0, help=f"Baseline success rate (0..1) the --plan MDE assumes (default: the baseline's rate in earlier runs, else {DEFAULT_BASELINE_RATE}).")] = None,
    plan_runs: Annotated[list[Path], typer.Option("--plan-runs", help="Where --plan looks for earlier run dirs (repeatable; default: benchmarks/results and DATA_DIR/ablations).")] = [],  # noqa: B006
) -> None:
    """Run every config of the grid on the same tasks; resumable (rerun the same command to go on)."""
    import seeds
    from casebank.casefile import CaseFileError, load_cases
    from casebank.tasks import TaskFileError, load_tasks
    from lab.ablate.grid import AblationGrid
    from lab.ablate.runner import AblationRun

    try:
        grid = AblationGrid.load(config) if config else AblationGrid()
        levers: dict[str, object] = {}
        for item in harness:
            name, _, value = item.partition("=")
            levers[f"harness.{name.strip()}"] = _scalar(value)
        axes = {"model": model, "strategy": strategy, "k": k, "temperature": temperature, "write_back": write_back,
                "harness.case_format": case_format}
        grid = grid.with_axes(**{key: value for key, value in axes.items() if value})
        updates: dict[str, object] = {}
        if levers:
            updates["defaults"] = _merge_levers(grid.defaults, levers)
        for key, value in {"repeats": repeats, "seed": seed, "baseline": baseline, "tasks": tasks, "broken_world_after": broken_world_after, "only": only or None}.items():
            if value is not None:
                updates[key] = value
        filters = grid.filters.model_copy(update={key: value for key, value in {"split": split, "family": family, "level": level}.items() if value})
        grid = AblationGrid.model_validate({**grid.model_dump(), **updates, "filters": filters.model_dump()})
        if grid.baseline is None and any(c.name == "none" for c in grid.expand()):
            grid = grid.model_copy(update={"baseline": "none"})  # the natural baseline when the grid has it
        configs = grid.expand()
        task_list = [t for t in load_tasks(grid.tasks or seeds.EVAL_DIR) if grid.filters.keep(t)]
        seed_path = seeds_file or seeds.default_seed_file()
        seed_cases = load_cases(seed_path, "casebank")
    except (CaseFileError, TaskFileError) as e:
        raise _fail(str(e)) from None
    except ValueError as e:
        raise _fail(str(e)) from None
    # Easy levels first: a run stopped early then holds the cheapest, most telling episodes.
    task_list = sorted(task_list, key=lambda t: (t.level, t.id))[: limit or None]
    if not task_list:
        raise _fail("no task matches the filters")
    identity = json.dumps({"grid": grid.model_dump(mode="json", exclude={"broken_world_after", "only"}), "tasks": [t.id for t in task_list], "seeds": str(seed_path)}, sort_keys=True)
    run_dir = out or Settings().data_dir / "ablations" / hashlib.sha256(identity.encode()).hexdigest()[:10]
    run = AblationRun(
        grid=grid, tasks=task_list, run_dir=run_dir, llm_url=llm_url, seed_file=seed_path, concurrency=concurrency,
        max_attempts=max_attempts, stop_after_errors=stop_after_errors, request_timeout_s=request_timeout, seed_families=sorted({c.family for c in seed_cases}),
        seed_count=len(seed_cases),
    )
    console.print(f"[bold]{len(configs)} config(s)[/bold] x {len(task_list)} task(s) x {grid.repeats} repeat(s); run dir {run_dir}")
    for c in configs:
        console.print(f"  {c.name} [dim]{c.content_hash} {c.model} {c.strategy} k={c.k} write-back={c.write_back}[/dim]")
    if plan:
        _print_plan(run, grid, task_list, plan_runs, plan_baseline_rate, concurrency)
    if dry_run:
        console.print(f"{len(run.jobs())} episodes, {len(run.pending())} not yet run")
    if plan or dry_run:
        return
    from casebank.doctor import preflight_or_exit
    from lab.ablate.runner import harness_fingerprint

    preflight_or_exit(err)  # before the LLM is contacted and before anything is recorded
    if (earlier := run.earlier_fingerprints()) and earlier != {harness_fingerprint()}:
        err.print(f"[yellow]warning: the agent's code or prompts changed since this run began ({', '.join(sorted(earlier))} -> "
                  f"{harness_fingerprint()}); finished episodes are kept as they are. Use a new --out to start over.[/yellow]")
    _run_with_progress(run, configs)
    console.print(f"done: {run_dir}   report: casebank report {run_dir}")


def _print_plan(run, grid, task_list, roots: list[Path], baseline_rate: float | None, concurrency: int) -> None:  # noqa: ANN001
    """`--plan` (lab/ablate/plan.py): episodes, hours at the measured throughput, the MDE of each comparison."""
    from lab.ablate.plan import default_roots, make_plan

    every = grid.model_copy(update={"only": []}).expand()  # the baseline, even when --only leaves it out
    base = next((c for c in every if c.name == grid.baseline), None) if grid.baseline else None
    result = make_plan(
        episodes=len(run.jobs()), pending=len(run.pending()), task_ids=[t.id for t in task_list], configs=run.configs, baseline=base,
        roots=roots or default_roots(Settings().data_dir), run_dir=run.run_dir, baseline_rate=baseline_rate, concurrency=concurrency,
    )  # fmt: skip
    for line in result.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _run_with_progress(run, configs) -> None:  # noqa: ANN001
    from lab.ablate.runner import BrokenEnvironment, LLMUnavailable, Tally

    tallies = {c.content_hash: Tally() for c in configs}
    names = {c.content_hash: c.name for c in configs}
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
        TimeRemainingColumn(), console=err,
    ) as bar:
        overall = bar.add_task("all", total=None)
        rows = {h: bar.add_task(names[h], total=None) for h in tallies}

        def on_start(todo) -> None:  # noqa: ANN001
            bar.update(overall, total=len(todo))
            for h in tallies:
                tallies[h].total = sum(1 for j in todo if j.config.content_hash == h)
                bar.update(rows[h], total=tallies[h].total)

        def on_record(record) -> None:  # noqa: ANN001
            t = tallies[record.config_hash]
            t.done += 1
            setattr(t, record.status, getattr(t, record.status) + 1)
            bar.update(rows[record.config_hash], advance=1, description=f"{names[record.config_hash]}  [green]{t.success} ok[/green] [red]{t.failure} fail[/red] [yellow]{t.error} err[/yellow]")
            bar.advance(overall)

        run.on_record = on_record
        previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops a run as Ctrl-C does
        try:
            run.run(on_start=on_start)
        except (LLMUnavailable, BrokenEnvironment) as e:
            raise _fail(str(e)) from None
        except KeyboardInterrupt:
            err.print(f"stopped: the episodes that were running are recorded in {run.run_dir}; the same command resumes", soft_wrap=True)
            raise typer.Exit(130) from None
        finally:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _scalar(text: str) -> object:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _merge_levers(defaults: dict, levers: dict[str, object]) -> dict:
    out = dict(defaults)
    harness = dict(out.get("harness", {}))
    for key, value in levers.items():
        harness[key.removeprefix("harness.")] = value
    out["harness"] = harness
    return out
