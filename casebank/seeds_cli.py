"""`casebank seeds ...` and `casebank tasks ...`: build, verify and inspect demonstrations and task suites."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

import seeds
from casebank import envs
from casebank.casefile import load_cases, sft_record, write_cases
from casebank.console import console, err, progress
from casebank.demos import ReplayResult, normalise_observation, replay, shows_recovery
from casebank.doctor import preflight_or_exit
from casebank.models import Case
from casebank.tasks import Task, TaskFileError, load_tasks, split_problems

seeds_app = typer.Typer(no_args_is_help=True)
tasks_app = typer.Typer(no_args_is_help=True)

TasksOpt = Annotated[Path | None, typer.Option("--tasks", help="Task directory or file.")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", help="Replays in parallel.")]
T = TypeVar("T")
R = TypeVar("R")


def load_or_exit(source: Path, split: str | None = None) -> list[Task]:
    try:
        return load_tasks(source, split)
    except TaskFileError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def run_all(items: list[T], work: Callable[[T], R], label: str, jobs: int) -> list[R]:
    """Map `work` over items with a progress bar, keeping order."""
    with progress() as bar, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        task = bar.add_task(label, total=len(items))
        results = []
        for result in pool.map(work, items):
            bar.advance(task)
            results.append(result)
    return results


def _report_failures(results: Iterable[ReplayResult]) -> int:
    failed = 0
    for r in results:
        if not r.ok:
            failed += 1
            err.print(f"[red]FAIL[/red] {r.case.task_id}: check={'pass' if r.check.passed else 'fail'} {r.problems}")
            if not r.check.passed:
                err.print(f"    checker output: {r.check.output[-800:]}")
    return failed


@seeds_app.command("build")
def build(
    specs: TasksOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Seed file to write.")] = None,
    jobs: JobsOpt = 2,
) -> None:
    """Replay every demo spec in the sandbox, check it, and write the seed file only if all pass."""
    tasks = load_or_exit(specs or seeds.SPECS_DIR)
    preflight_or_exit(err)
    if specs is None and len(tasks) != seeds.SEED_COUNT:
        err.print(f"[red]error:[/red] expected {seeds.SEED_COUNT} bundled demos, found {len(tasks)}")
        raise typer.Exit(1)
    results = run_all(tasks, replay, "replaying demos", jobs)
    if failed := _report_failures(results):
        err.print(f"[red]{failed} of {len(results)} demos failed; seed file not written[/red]")
        raise typer.Exit(1)
    target = out or seeds.SEEDS_FILE
    write_cases([r.case for r in results], target)
    console.print(f"{len(results)} demos replayed and verified; wrote {target}")


@seeds_app.command("verify")
def verify(specs: TasksOpt = None, seed_file: Annotated[Path | None, typer.Option("--seed-file")] = None, jobs: JobsOpt = 2) -> None:
    """Replay again: every demo must pass its checker and reproduce the bundled trajectory."""
    tasks = load_or_exit(specs or seeds.SPECS_DIR)
    preflight_or_exit(err)
    bundled = {c.task_id: c for c in load_cases(seed_file or seeds.SEEDS_FILE)}
    results = run_all(tasks, replay, "verifying demos", jobs)
    failed = _report_failures(results)
    for r in results:
        old = bundled.get(r.case.task_id)
        if old is None:
            failed += 1
            err.print(f"[red]FAIL[/red] {r.case.task_id}: not in the seed file (run `casebank seeds build`)")
        elif _fingerprint(old.messages) != _fingerprint(r.case.messages):
            failed += 1
            err.print(f"[red]FAIL[/red] {r.case.task_id}: replay differs from the seed file (rebuild the seeds)")
    if missing := set(bundled) - {t.id for t in tasks}:
        failed += len(missing)
        err.print(f"[red]FAIL[/red] seed file has cases without a spec: {sorted(missing)}")
    if failed:
        raise typer.Exit(1)
    console.print(f"{len(results)} demos verified")


def _fingerprint(messages: list) -> list[tuple]:
    return [(m.role, normalise_observation(m.content or ""), str(m.tool_calls)) for m in messages]


@seeds_app.command("replay")
def replay_one(task_id: str, specs: TasksOpt = None) -> None:
    """Replay one demo (or eval reference) and print its trajectory: for authoring specs."""
    tasks = {t.id: t for t in load_or_exit(specs or seeds.SPECS_DIR)}
    if task_id not in tasks:
        err.print(f"[red]error:[/red] no task {task_id!r}")
        raise typer.Exit(2)
    preflight_or_exit(err)
    result = replay(tasks[task_id])
    for m in result.case.messages[1:]:
        console.print(f"[bold]{m.role}[/bold]", end=" ")
        body = m.content or ""
        if m.tool_calls:
            body += f"\n  -> {m.tool_calls[0].function.name}({m.tool_calls[0].function.arguments_json()})"
        console.print(body, markup=False, highlight=False, soft_wrap=True)
    status = "PASS" if result.ok else "FAIL"
    console.print(f"{status}: check {'passed' if result.check.passed else 'failed'}; problems: {result.problems}")
    if not result.check.passed:
        console.print(result.check.output, markup=False)
    console.print(f"~{result.case.stats.approx_tokens} tokens, {result.case.stats.steps} steps, recovery={shows_recovery(result.case)}")
    if not result.ok:
        raise typer.Exit(1)


def _token_counter(tokenizer: Path | None) -> tuple[Callable[[Case], int], str]:
    """Real Qwen2.5 token counts (chat template applied, tool schemas left out: they are the same for
    every demo) when the bundled model has been prepared, else the chars/4 approximation."""
    from casebank.config import Settings
    from casebank.llm.model_files import default_model_dir

    path = tokenizer or default_model_dir(Settings().data_dir)
    if not (path / "tokenizer_config.json").is_file():
        return (lambda case: case.stats.approx_tokens), "approx. chars/4; run `casebank llm prepare` for real counts"
    envs.offline_libraries()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)

    def count(case: Case) -> int:
        ids = tok.apply_chat_template(sft_record(case)["messages"], tokenize=True)
        return len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

    return count, f"{path.name} tokenizer, chat template"


@seeds_app.command("stats")
def seed_stats(
    seed_file: Annotated[Path | None, typer.Option("--seed-file")] = None,
    tokenizer: Annotated[Path | None, typer.Option(help="HF tokenizer folder; default: the bundled model's.")] = None,
) -> None:
    """Families, token sizes and recovery counts of the seed file."""
    cases = load_cases(seed_file or seeds.SEEDS_FILE)
    count, how = _token_counter(tokenizer)
    tokens = {c.id: count(c) for c in cases}
    table = Table(title=f"{len(cases)} seeds")
    for column in ("family", "demos", "median tokens", "max tokens", "recoveries"):
        table.add_column(column)
    for family, n in sorted(Counter(c.family for c in cases).items()):
        members = [c for c in cases if c.family == family]
        sizes = [tokens[c.id] for c in members]
        table.add_row(family, str(n), str(int(statistics.median(sizes))), str(max(sizes)), str(sum(map(shows_recovery, members))))
    console.print(table)
    console.print(
        f"tokens ({how}): median {statistics.median(tokens.values()):.0f}, max {max(tokens.values())}; "
        f"demos showing recovery: {sum(map(shows_recovery, cases))}"
    )


@tasks_app.command("list")
def list_tasks(
    tasks: TasksOpt = None,
    split: Annotated[str | None, typer.Option(help="Only this split (dev, test, ...).")] = None,
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
    level: Annotated[int | None, typer.Option(min=1, max=3, help="Only this level (1-3).")] = None,
) -> None:
    """List tasks in a suite (the held-out ladder by default)."""
    loaded = [
        t
        for t in load_or_exit(tasks or seeds.EVAL_DIR, split)
        if (family is None or t.family == family) and (level is None or t.level == level)
    ]
    table = Table(title=f"{len(loaded)} tasks")
    for column in ("id", "family", "level", "split", "instruction"):
        table.add_column(column)
    for t in loaded:
        table.add_row(t.id, t.family, str(t.level), t.split, t.instruction[:70])
    console.print(table)


def _dev_test(dev: int, test: int) -> str:
    return f"{dev}/{test}" if dev or test else "-"


@tasks_app.command("split-check")
def split_check(tasks: TasksOpt = None) -> None:
    """Count tasks per family, level and split; fail unless dev and test both cover every level and family."""
    loaded = load_or_exit(tasks or seeds.EVAL_DIR)
    levels = sorted({t.level for t in loaded})
    counts = Counter((t.family, t.level, t.split) for t in loaded)
    table = Table(title=f"{len(loaded)} tasks: dev/test per family and level")
    for column in ("family", *(f"level {level}" for level in levels), "total"):
        table.add_column(column)
    for family in sorted({t.family for t in loaded}):
        cells = [_dev_test(counts[family, level, "dev"], counts[family, level, "test"]) for level in levels]
        members = [t for t in loaded if t.family == family]
        table.add_row(family, *cells, _dev_test(sum(t.split == "dev" for t in members), sum(t.split == "test" for t in members)))
    console.print(table)
    console.print(f"dev {sum(t.split == 'dev' for t in loaded)}, test {sum(t.split == 'test' for t in loaded)}")
    if problems := split_problems(loaded):
        for problem in problems:
            err.print(f"[red]FAIL[/red] {problem}")
        raise typer.Exit(1)
    console.print("both splits cover every level and family")


@tasks_app.command("leakage")
def leakage(
    tasks: TasksOpt = None,
    specs: Annotated[Path | None, typer.Option("--seeds", help="Seed specs to compare against.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Fail when a task is at least this similar to a seed.")] = None,
) -> None:
    """Print each eval task's nearest seed by embedding similarity; fail on likely paraphrases."""
    from casebank.leakage import LEAKAGE_THRESHOLD, nearest_seeds

    limit = LEAKAGE_THRESHOLD if threshold is None else threshold
    eval_tasks = load_or_exit(tasks or seeds.EVAL_DIR)
    seed_tasks = load_or_exit(specs or seeds.SPECS_DIR)
    rows = sorted(nearest_seeds(eval_tasks, seed_tasks), key=lambda r: -r.similarity)
    table = Table(title=f"nearest seed per eval task (threshold {limit})")
    for column in ("eval task", "nearest seed", "cosine"):
        table.add_column(column)
    for r in rows:
        style = "red" if r.similarity >= limit else ""
        table.add_row(r.eval_id, r.seed_id, f"{r.similarity:.3f}", style=style)
    console.print(table)
    if leaks := [r for r in rows if r.similarity >= limit]:
        err.print(f"[red]{len(leaks)} eval task(s) at or above {limit}[/red]")
        raise typer.Exit(1)
