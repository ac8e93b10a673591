"""`casebank env`: every CASEBANK_* variable (casebank.envs), over the settings classes of every layer, which
importing the layers' configs registers (so the root owns it: only it sees them all)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import serving.config  # noqa: F401  (registers ServerSettings with casebank.envs)
from casebank import envs


def env(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print docs/env.md (the table, generated) instead.")] = False,
) -> None:
    """Every CASEBANK_* variable casebank reads: type, default, whether it is set here, what it does."""
    if markdown:
        typer.echo(envs.markdown(), nl=False)
        return
    set_here = {name.upper() for name in envs.prefixed()}
    table = Table(title="casebank environment variables (docs/env.md)")
    for column in ("variable", "type", "default", "set", "read by", "what it does"):
        table.add_column(column, overflow="fold")
    for r in envs.rows():
        table.add_row(r.name, r.type, r.default, "yes" if r.name in set_here else "", r.source, r.doc)
    Console().print(table)
