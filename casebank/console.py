"""The consoles and progress bar every `casebank` command group shares (stdout for results, stderr for the rest)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["console", "err", "progress"]

console = Console()
err = Console(stderr=True)


def progress() -> Progress:
    """A progress bar on stderr: description, bar, done/total, elapsed."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )
