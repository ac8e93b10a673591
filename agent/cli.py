"""`casebank run`: one agent episode from the command line, shown live, saved as a trajectory file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from casebank.config import Settings, Strategy
from casebank.doctor import preflight_or_exit

run_app = typer.Typer(help="Run the agent.")
console = Console()
err = Console(stderr=True)

MAX_SHOWN_CHARS = 600


def _short(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit} more chars]"


def show_update(node: str, update: dict[str, Any]) -> None:
    """Print one node's state update as it happens."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from agent.trajectory import calls_of

    if node == "retrieve":
        retrieved = update.get("retrieved") or []
        listed = ", ".join(f"{cid} ({score:.3f})" for cid, score in retrieved)
        console.print(f"[dim]retrieved {len(retrieved)} case(s){': ' + listed if listed else ''}[/dim]")
    if update.get("outcome") is not None and node in {"act", "nudge"}:
        console.print(f"[red]stopped:[/red] {escape(update['outcome'].detail)}")
    for m in update.get("messages") or []:
        if isinstance(m, AIMessage):
            step = update.get("steps", "?")
            if m.content:
                console.print(f"[bold cyan]#{step}[/bold cyan] [italic]{escape(_short(str(m.content)))}[/italic]")
            calls = calls_of(m)
            if not calls:
                console.print(f"[bold cyan]#{step}[/bold cyan] [yellow](no tool call)[/yellow]")
            for _, name, args in calls:
                shown = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
                console.print(f"[bold cyan]#{step}[/bold cyan] [bold]{escape(name)}[/bold] {escape(_short(shown, 300))}")
        elif isinstance(m, ToolMessage):
            style = "red" if m.status == "error" else "green"
            console.print(f"[{style}]{escape(_short(str(m.content)))}[/{style}]")
        elif isinstance(m, HumanMessage):
            console.print(f"[yellow]nudge:[/yellow] {escape(str(m.content))}")
    if node == "verify":
        outcome = update["outcome"]
        verdict = "passed" if outcome.success else "failed"
        console.print(f"[bold]check {verdict}[/bold] ({outcome.verified_by}) {escape(_short(outcome.detail, 300))}")
    if node == "write_back" and update.get("write_back") is not None:
        wb = update["write_back"]
        console.print(f"[dim]write-back: {wb.action} {wb.case_id}[/dim]")


def _find_task(task_id: str, source: Path | None) -> Any:
    import seeds
    from casebank.tasks import TaskFileError, load_tasks

    sources = [source] if source else [p for p in (seeds.EVAL_DIR, seeds.SPECS_DIR) if p.exists()]
    try:
        for path in sources:
            for task in load_tasks(path):
                if task.id == task_id:
                    return task
    except TaskFileError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    err.print(f"[red]error:[/red] no task {task_id!r} in {', '.join(map(str, sources)) or '(no task directories)'}")
    raise typer.Exit(2)


def _live_endpoint(llm_url: str) -> str:
    """The URL to use: the only one given, or the first of several that answers GET /models (the others are
    named). Exit 2 on a malformed list."""
    from casebank.llm.endpoints import EndpointPool

    try:
        pool = EndpointPool(llm_url)
    except ValueError as e:
        err.print(f"[red]error:[/red] --llm-url: {escape(str(e))}")
        raise typer.Exit(2) from None
    if len(pool) == 1:
        return pool.urls[0]
    for url, problem in pool.check().items():
        if problem is not None:
            err.print(f"[yellow]LLM endpoint {escape(url)} is down ({escape(problem)}); using another[/yellow]")
    return pool.pick()


@run_app.command("run")
def run(
    instruction: Annotated[str | None, typer.Argument(help="What to do: one chat turn (no checker).")] = None,
    task_id: Annotated[str | None, typer.Option("--task", help="Run this task instead; its checker verifies.")] = None,
    tasks: Annotated[Path | None, typer.Option("--tasks", help="Task directory or file (default: bundled tasks).")] = None,
    conversation: Annotated[str | None, typer.Option("--conversation", "-c", help="Continue this conversation.")] = None,
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base URL; several: comma-separated, a live one is used.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Served model name.")] = None,
    strategy: Annotated[Strategy | None, typer.Option(help="Retrieval: none|random|bm25|dense|hybrid|mmr.")] = None,
    k: Annotated[int | None, typer.Option("-k", help="Cases to retrieve (0: none).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Model calls per episode.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Trajectory JSON (default: DATA_DIR/runs/<id>.json).")] = None,
    write_back: Annotated[bool, typer.Option("--write-back/--no-write-back", help="Write the trajectory to the bank.")] = True,
) -> None:
    """Run the agent on an instruction or a task, showing each step live; saves the trajectory (a Case)."""
    from openai import APIConnectionError

    from agent.checkpoint import CheckpointError, close_checkpointer, make_checkpointer
    from agent.config import AgentConfig
    from agent.runner import Agent

    if (instruction is None) == (task_id is None):
        err.print("[red]error:[/red] give an instruction or --task ID (not both)")
        raise typer.Exit(2)
    preflight_or_exit(err)  # before the LLM or the bank: a checker that cannot start would fail every task
    task = _find_task(task_id, tasks) if task_id else None
    settings = Settings()
    config = AgentConfig.from_settings(
        settings, llm_url=_live_endpoint(llm_url) if llm_url else None, model=model, strategy=strategy, k=k,
        max_steps=max_steps, write_back=write_back,
    )
    try:
        checkpointer = make_checkpointer(settings)
    except CheckpointError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    bank = None
    if config.retrieval_enabled or config.write_back:
        from casebank.bank import CaseBank

        bank = CaseBank(settings)
    agent = Agent(config, bank, checkpointer=checkpointer)
    console.print(f"[dim]model {config.model} at {config.llm_url}; retrieval {config.strategy} k={config.k}[/dim]")
    console.print(f"[bold]task:[/bold] {escape(task.instruction if task else instruction or '')}")
    try:
        if task is not None:
            result = agent.run_task(task, on_update=show_update)
        else:
            result = agent.chat(conversation, instruction or "", on_update=show_update)
    except APIConnectionError:
        err.print(f"[red]error:[/red] cannot reach the LLM at {config.llm_url} (start it with `casebank llm serve`)")
        raise typer.Exit(2) from None
    finally:
        agent.close()
        close_checkpointer(checkpointer)

    path = out or config.runs_dir / f"{result.conversation_id}-{result.trajectory.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.trajectory.model_dump_json(indent=2), encoding="utf-8")
    colour = {"succeeded": "green", "unverified": "yellow", "failed": "red"}[result.status]
    console.print(
        f"[bold {colour}]{result.status}[/bold {colour}]: {escape(result.outcome.detail[-300:]) if result.status == 'failed' else ''}"
    )
    if result.answer is not None:
        console.print(f"[bold]answer:[/bold] {escape(result.answer)}")
    console.print(
        f"[dim]{result.model_calls} model calls, {len(result.steps)} tool calls, ~{result.tokens} tokens, "
        f"{result.elapsed_s:.1f}s; conversation {result.conversation_id}; trajectory saved to {path}[/dim]"
    )
    if result.status == "failed":
        raise typer.Exit(1)
