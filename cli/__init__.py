"""The `casebank` command's root: it only mounts each layer's command group (nothing below imports it).

    casebank seed | import | export | search | stats | doctor    casebank.cli (the bank)
    casebank env                                              cli.env (every layer's settings)
    casebank seeds ... | tasks ...                            casebank.seeds_cli
    casebank tasks generate                                   lab.generators.cli
    casebank llm prepare | serve                              casebank.llm.cli
    casebank run                                              agent.cli
    casebank serve | chat                                     serving.cli
    casebank ablate | report | finetune                       lab.ablate, lab.finetune
    casebank pool build | curate                              lab.pool, lab.curate
"""

from __future__ import annotations

import typer

from agent.cli import run_app
from casebank.cli import bank_app
from casebank.llm.cli import app as llm_app
from casebank.seeds_cli import seeds_app, tasks_app
from cli.env import env
from lab.ablate.cli import ablate_app
from lab.ablate.report_cli import report_app
from lab.curate.cli import curate_app
from lab.finetune.cli import finetune_app
from lab.generators.cli import generate as generate_tasks
from lab.pool.cli import pool_app
from serving.cli import serve_app

__all__ = ["app"]

app = typer.Typer(help="casebank: curated demonstrations as a retrievable case bank.", no_args_is_help=True)
app.add_typer(bank_app)
app.add_typer(seeds_app, name="seeds", help="Build and verify the bundled demonstrations.")
tasks_app.command("generate")(generate_tasks)  # the lab's generators, under the casebank layer's `tasks` group
app.add_typer(tasks_app, name="tasks", help="Inspect and generate task suites.")
app.add_typer(run_app)
app.add_typer(ablate_app)
app.add_typer(report_app)
app.add_typer(finetune_app)
app.add_typer(pool_app, name="pool", help="Build the pool of verified trajectories from the generators.")
app.add_typer(curate_app)
app.add_typer(serve_app)
app.add_typer(llm_app, name="llm", help="Serve the LLM with vLLM.")
app.command("env")(env)
