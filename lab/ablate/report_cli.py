"""`casebank report RUN_DIR [--out DIR] [--baseline NAME]`: the report of an ablation run.

Register with `app.add_typer(report_app)` (its one command is `report`), or call `report_command`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

report_app = typer.Typer(help="Ablation reports.")
console = Console()
err = Console(stderr=True)


def report_command(run_dir: Path, out: Path | None = None, baseline: str | None = None) -> None:
    """Write report.md, summary.json and the PNG plots of RUN_DIR; exit 2 with a clear message on bad input."""
    from lab.ablate.report import ReportError, build_report

    if not run_dir.is_dir():
        err.print(f"[red]error:[/red] {escape(str(run_dir))}: no such run directory")
        raise typer.Exit(2)
    try:
        report = build_report(run_dir, out, baseline)
    except ReportError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    console.print(f"[bold]report[/bold]  {escape(str(report.report))}")
    console.print(f"[bold]summary[/bold] {escape(str(report.summary))}")
    for name, path in report.plots.items():
        console.print(f"[bold]plot[/bold]    {escape(str(path))}  [dim]{name}[/dim]")
    for name, why in report.skipped.items():
        console.print(f"[yellow]skipped[/yellow] {name}.png: {escape(why)}")


@report_app.command("report")
def report(
    run_dir: Annotated[Path, typer.Argument(help="The run directory `casebank ablate` wrote (episodes.jsonl, configs.json, run.json).")],
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the report (default: RUN_DIR/report).")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Config (name or hash) the paired differences use (default: the run's).")] = None,
) -> None:
    """Markdown tables, a JSON summary and PNG plots of an ablation run: success with bootstrap CIs, paired
    differences against the baseline, pass@R, costs, failure modes, breakdowns and online learning curves."""
    report_command(run_dir, out, baseline)
