"""The case bank's own commands: `seed`, `import`, `export`, `search`, `stats` and `doctor`.

The `casebank` command's root (cli/) mounts them beside the other layers' groups; the shared console helpers
are casebank.console."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from casebank.casefile import CaseFileError, load_cases, sft_record, write_cases
from casebank.config import Settings, Strategy
from casebank.console import console, err, progress
from casebank.models import Outcome, TextError, check_text

bank_app = typer.Typer()

FormatOpt = Annotated[Literal["casebank", "limi"], typer.Option("--format", help="File format.")]


def open_bank(settings: Settings | None = None):  # noqa: ANN201 - keeps chroma import out of --help
    from casebank.bank import CaseBank

    return CaseBank(settings or Settings())


def _load_or_exit(path: Path, fmt: str):  # noqa: ANN202
    try:
        return load_cases(path, fmt)  # type: ignore[arg-type]
    except CaseFileError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def _text_or_exit(text: str, name: str) -> str:
    """The same rule as for stored cases: argv decoding turns stray bytes into lone surrogates."""
    try:
        return check_text(text, name)
    except TextError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def _import(path: Path, fmt: str, *, curated: bool, reset: bool) -> None:
    cases = _load_or_exit(path, fmt)  # validated whole before anything is written
    if curated:
        cases = [c.model_copy(update={"outcome": Outcome(success=True, verified_by="seed"), "source": "seed"}) for c in cases]
    bank = open_bank()
    if reset:
        bank.reset()
    started = time.perf_counter()
    try:
        with progress() as bar:
            task = bar.add_task(f"embedding {path.name}", total=len(cases))
            added = bank.upsert(cases, on_progress=lambda n: bar.advance(task, n))
    except TextError as e:  # the bank's own check; the batch was not written
        err.print(f"[red]error:[/red] {path}: {e}")
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    console.print(
        f"{len(cases)} cases from {path} in {elapsed:.2f}s: {added} retrievable, {len(cases) - added} quarantined "
        f"(bank: {bank.count()} cases, {bank.count(quarantined=True)} quarantined)"
    )


@bank_app.command()
def seed(
    from_: Annotated[Path | None, typer.Option("--from", help="Case file; default: the bundled seeds.")] = None,
    fmt: FormatOpt = "casebank",
    reset: Annotated[bool, typer.Option(help="Empty the bank first.")] = False,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when the bank already has cases.")] = False,
) -> None:
    """Load demonstrations into the bank (idempotent: cases are upserted by content id)."""
    from seeds import default_seed_file

    if if_empty and (n := open_bank().count()):
        console.print(f"bank already holds {n} cases; not seeding")
        return
    path = from_ or default_seed_file()
    # A LIMI file is a curated demonstration set: seeding trusts it as such.
    _import(path, fmt, curated=fmt == "limi", reset=reset)


@bank_app.command("import")
def import_(
    path: Path,
    fmt: FormatOpt = "casebank",
    curated: Annotated[bool, typer.Option(help="Treat the records as curated successes (verified_by=seed).")] = False,
) -> None:
    """Import a case file. Unverified records (e.g. a LIMI file without --curated) go to quarantine."""
    _import(path, fmt, curated=curated, reset=False)


@bank_app.command()
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL file.")],
    fmt: Annotated[
        Literal["casebank", "limi", "sft-jsonl"], typer.Option("--format", help="sft-jsonl: chat+tools for TRL.")
    ] = "casebank",
    quarantined: Annotated[bool, typer.Option(help="Export the quarantine instead.")] = False,
) -> None:
    """Export the bank."""
    cases = open_bank().all(quarantined=quarantined)
    if fmt == "sft-jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(sft_record(c), ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
        n = len(cases)
    else:
        n = write_cases(cases, out, fmt)
    console.print(f"wrote {n} cases to {out} ({fmt})")


@bank_app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("-k", help="How many cases.")] = 4,
    strategy: Annotated[Strategy | None, typer.Option(help="none|random|bm25|dense|hybrid|mmr")] = None,
    family: Annotated[list[str] | None, typer.Option(help="Only these families.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Require these tags.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random strategy.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Retrieve cases for a query, ranked."""
    from casebank.retrieval import RetrievalFilters

    query = _text_or_exit(query, "query")
    bank = open_bank()
    started = time.perf_counter()
    results = bank.retrieve(query, k, strategy, RetrievalFilters(families=family or [], tags=tag or []), seed=seed)
    elapsed = time.perf_counter() - started
    if as_json:
        rows = [{"rank": r.rank, "score": r.score, "id": r.case.id, "family": r.case.family, "task": r.case.task} for r in results]
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(results)} cases for {query!r} ({results[0].strategy if results else strategy}, {elapsed * 1000:.0f} ms)")
    for column in ("rank", "score", "id", "family", "steps", "task"):
        table.add_column(column)
    for r in results:
        table.add_row(str(r.rank), f"{r.score:.4f}", r.case.id, r.case.family, str(r.case.stats.steps), r.case.task[:80])
    console.print(table)


@bank_app.command()
def stats() -> None:
    """Counts by family and source, token sizes, usage."""
    console.print_json(open_bank().stats().model_dump_json())


@bank_app.command()
def doctor(
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base URL(s) to check, comma-separated.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="The served model name expected there.")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Skip the LLM row (no server is meant to run).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Check what casebank needs here (sandbox, embedder, stores, LLM, CPU, disk, lock); exit 1 if a blocking check fails."""
    from casebank.doctor import DEFAULT_LLM_URL, diagnose, table

    try:
        settings = Settings()
    except ValueError as e:
        err.print(f"[red]error:[/red] settings: {e}")
        raise typer.Exit(2) from None
    rows = diagnose(settings, llm_url or DEFAULT_LLM_URL, model, llm=not no_llm)
    failed = [r for r in rows if r.fails]
    if as_json:
        console.print_json(json.dumps([r.model_dump() for r in rows]))
    else:
        console.print(table(rows))
        warned = sum(not r.ok and not r.blocking for r in rows)
        verdict = f"[red]{len(failed)} blocking problem(s)[/red]" if failed else "[green]nothing blocking[/green]"
        console.print(f"{verdict}; {warned} warning(s)")
    if failed:
        raise typer.Exit(1)
