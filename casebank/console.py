"""The consoles and progress bar every `casebank` command group shares (stdout for results, stderr for the rest)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["console", "err", "fail", "progress"]

console = Console()
err = Console(stderr=True)


def progress() -> Progress:
    """A progress bar on stderr: description, bar, done/total, elapsed."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `error: message` on stderr (unwrapped, markup escaped) and return the Exit to raise: 2 for bad
    input, as every command group's usage errors."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)
