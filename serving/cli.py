"""`casebank serve` (the API, optionally with an embedded vLLM) and `casebank chat` (a terminal client)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from casebank import envs
from casebank.llm.cli import check_loras, parse_loras
from casebank.llm.endpoints import DEFAULT_PORT

serve_app = typer.Typer(help="The chat API.")
console = Console()
err = Console(stderr=True)

DEFAULT_URL = "http://127.0.0.1:8000/v1"
HELP = "commands: /good [note]  /bad [note]  /new  /id  /quit"


def _short(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit} more chars]"


@serve_app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1, or CASEBANK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000, or CASEBANK_PORT).")] = None,
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="Use this running OpenAI-compatible server (vLLM); several: comma-separated.")] = None,
    start_llm: Annotated[bool, typer.Option("--start-llm", help="Also start the embedded vLLM (casebank.llm.server).")] = False,
    llm_port: Annotated[int, typer.Option("--llm-port", help="Port of the embedded vLLM.")] = DEFAULT_PORT,
    llm_model_path: Annotated[Path | None, typer.Option("--llm-model-path", help="Model folder for --start-llm; default: the bundled model.")] = None,
    lora: Annotated[list[str] | None, typer.Option("--lora", help="NAME=PATH: a LoRA adapter for --start-llm (name it in a profile).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth", help="Serve a non-loopback host without keys.")] = False,
) -> None:
    """Serve the OpenAI-compatible chat API over the agent."""
    import uvicorn

    from agent.checkpoint import CheckpointError
    from serving.app import create_app
    from serving.config import absent_profile_reason

    if start_llm and llm_url:
        err.print("[red]error:[/red] give --llm-url or --start-llm, not both")
        raise typer.Exit(2)
    from casebank.doctor import preflight_or_exit

    preflight_or_exit(err)  # every chat turn runs its tools in the sandbox: refuse to serve a broken one
    overrides = {k: v for k, v in {"host": host, "port": port, "llm_url": llm_url}.items() if v is not None}
    settings = _settings(overrides, insecure_no_auth)
    bank_settings = _bank_settings(settings)
    llm_server, proc = None, None
    if start_llm:
        llm_server, proc, url = _start_llm(settings, bank_settings, llm_port, llm_model_path, _loras(lora, bank_settings))
        settings = settings.model_copy(update={"llm_url": url})
    if "casebank-ft" not in settings.profiles and (why := absent_profile_reason("casebank-ft")):
        console.print(f"[dim]{escape(why)}[/dim]")
    try:
        console.print(f"[bold]casebank API[/bold] on http://{settings.host}:{settings.port}/v1; LLM at {settings.llm_url}; "
                      f"models: {', '.join(settings.profiles)}; auth {'on' if settings.auth_enabled else 'off'}")
        try:
            app = create_app(settings, bank_settings=bank_settings)
        except CheckpointError as e:
            err.print(f"[red]error:[/red] {escape(str(e))}")
            raise typer.Exit(1) from None
        server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level))
        threading.Thread(target=_announce_when_ready, args=(server, settings), daemon=True).start()
        try:
            server.run()
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; the shutdown is done
            pass
    finally:
        if proc is not None and llm_server is not None:
            console.print("[dim]stopping vLLM ...[/dim]")
            llm_server.stop_vllm(proc)


def _settings(overrides: dict[str, Any], insecure_no_auth: bool) -> Any:
    """ServerSettings, or exit 2 naming each bad setting (unknown key variables, an open non-loopback bind)."""
    from pydantic import ValidationError

    from serving.config import ServerSettings

    if insecure_no_auth:
        overrides = {**overrides, "insecure_no_auth": True}
    try:
        settings = ServerSettings(**overrides)
    except ValidationError as e:
        for problem in e.errors():
            where = ".".join(str(part) for part in problem["loc"])
            message = problem["msg"].removeprefix("Value error, ")
            for line in message.split("; "):
                err.print(f"[red]error:[/red] {escape(where + ': ' if where else '')}{escape(line)}")
        raise typer.Exit(2) from None
    if not settings.auth_enabled and envs.get("CASEBANK_API_KEY"):
        err.print("[yellow]warning:[/yellow] CASEBANK_API_KEY is the key `casebank chat` sends; the API's own keys are "
                  "CASEBANK_USER_KEYS and CASEBANK_ADMIN_KEYS (none is set: auth is off)")
    return settings


def _bank_settings(settings: Any) -> Any:
    """casebank Settings, or exit 2 naming each bad setting, and each reason this process cannot be one of
    several replicas (conversations in Postgres, workspaces on local disk, no sticky routing)."""
    from pydantic import ValidationError

    from casebank.config import Settings
    from serving.config import replica_problems, workspace_note

    try:
        bank_settings = Settings()
    except ValidationError as e:
        for problem in e.errors():
            where = "CASEBANK_" + "_".join(str(part) for part in problem["loc"]).upper()
            err.print(f"[red]error:[/red] {escape(where)}: {escape(problem['msg'].removeprefix('Value error, '))}")
        raise typer.Exit(2) from None
    if problems := replica_problems(settings, bank_settings):
        for problem in problems:
            err.print(f"[red]error:[/red] {escape(problem)}")
        raise typer.Exit(2)
    if note := workspace_note(bank_settings):
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
    return bank_settings


def _announce_when_ready(server: Any, settings: Any) -> None:
    """One line once the API accepts requests, with a request to copy."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.2)
    base = f"http://{settings.host}:{settings.port}/v1"
    model = next(iter(settings.profiles))
    auth = " -H 'Authorization: Bearer $CASEBANK_KEY'" if settings.auth_enabled else ""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Write hello.py that prints hello, run it, and tell me the output."}]})
    console.print(f"[bold green]ready[/bold green]: {base}  try:", highlight=False)
    console.print(f"  curl -s {base}/chat/completions -H 'Content-Type: application/json'{auth} -d '{body}'", markup=False, highlight=False)


def _loras(lora: list[str] | None, bank_settings: Any) -> dict[str, Path]:
    """The adapters for --start-llm: those given with --lora, else the fine-tuned `casebank-ft` when the data dir
    (DATA_DIR/adapters/casebank-ft) or the package (casebank/adapters/casebank-ft) holds one, so `make serve`
    offers the casebank-ft profiles whenever an adapter exists."""
    if lora:
        return parse_loras(lora)
    from casebank.llm.adapters import ADAPTER_NAME, find_adapter

    folder, note = find_adapter(bank_settings.data_dir)
    console.print(f"[dim]{escape(note)}[/dim]")
    return {ADAPTER_NAME: folder} if folder is not None else {}


def _start_llm(settings: Any, bank_settings: Any, llm_port: int, model_path: Path | None, loras: dict[str, Path]) -> tuple[Any, Any, str]:
    if importlib.util.find_spec("casebank.llm.server") is None:
        err.print("[red]error:[/red] --start-llm needs casebank.llm.server, which is not installed; start vLLM yourself and pass --llm-url")
        raise typer.Exit(2)
    from casebank.llm import server as llm_server

    if model_path is None:
        from casebank.llm.model_files import ensure_default_model

        console.print("[dim]preparing the bundled model ...[/dim]")
        model_path = ensure_default_model(bank_settings.data_dir)
    max_lora_rank = check_loras(loras, base=model_path.name)  # sha256 and base model against its manifest; a mismatch stops here
    cfg = llm_server.ServerConfig(model=model_path, served_model_name=settings.llm_model, port=llm_port,
                                  data_dir=bank_settings.data_dir, lora_modules=loras, max_lora_rank=max_lora_rank, api_key=None)
    try:
        proc = llm_server.start_vllm(cfg)
    except llm_server.ServerError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(1) from None
    console.print(f"[dim]starting vLLM on {cfg.base_url} (log: {proc.log_path}) ...[/dim]")

    def progress(elapsed: float, line: str) -> None:
        if int(elapsed) % 10 == 0:
            err.print(f"[dim]  {elapsed:4.0f}s  {escape(_short(line, 120))}[/dim]")

    try:
        waited = llm_server.wait_ready(cfg.base_url, proc=proc, progress_callback=progress)
    except (llm_server.ServerError, KeyboardInterrupt) as e:
        llm_server.stop_vllm(proc)
        err.print(f"[red]error:[/red] {escape(str(e)) if str(e) else 'interrupted'}")
        raise typer.Exit(1) from None
    console.print(f"[dim]vLLM ready after {waited:.0f}s[/dim]")
    return llm_server, proc, cfg.openai_url


# ---- chat ------------------------------------------------------------------------------------------------------
class ChatClient:
    """Streams turns from the API, showing the agent's tool steps as they arrive."""

    def __init__(self, url: str, model: str, api_key: str | None, conversation_id: str | None):
        import openai

        self.url, self.model, self.conversation_id = url.rstrip("/"), model, conversation_id
        self.api_key = api_key or "none"
        self.client = openai.OpenAI(base_url=self.url, api_key=self.api_key, max_retries=0, timeout=900)

    def turn(self, text: str) -> None:
        extra = {"casebank": {"conversation_id": self.conversation_id}} if self.conversation_id else None
        stream = self.client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": text}],
                                                     stream=True, extra_body=extra)
        answering = False
        for chunk in stream:
            ext = (chunk.model_extra or {}).get("casebank") or {}
            self.conversation_id = ext.get("conversation_id") or self.conversation_id
            self.show_event(ext)
            for choice in chunk.choices:
                if choice.delta.content:
                    if not answering:
                        console.print("[bold green]agent>[/bold green] ", end="")
                        answering = True
                    sys.stdout.write(choice.delta.content)
                    sys.stdout.flush()
        if answering:
            sys.stdout.write("\n")

    def show_event(self, ext: dict[str, Any]) -> None:
        event = ext.get("event")
        if event == "retrieved":
            found = ", ".join(f"{r['id']} ({r['score']:.3f})" for r in ext.get("retrieved", []))
            console.print(f"[dim]retrieved {len(ext.get('retrieved', []))} case(s){': ' + found if found else ''}[/dim]")
        elif event == "thought":
            console.print(f"[italic dim]{escape(_short(ext.get('text', '')))}[/italic dim]")
        elif event == "step":
            step = ext["step"]
            args = step["args"] if isinstance(step["args"], str) else json.dumps(step["args"], ensure_ascii=False)
            style = "green" if step["ok"] else "red"
            console.print(f"[bold]{escape(step['tool'])}[/bold] {escape(_short(args, 200))}")
            if step["tool"] != "submit":
                console.print(f"[{style}]{escape(_short(step['observation']))}[/{style}]")
        elif event == "done":
            console.print(f"[dim]{ext.get('status')} · {len(ext.get('steps', []))} steps · {ext.get('model_calls')} model calls · "
                          f"{ext.get('elapsed_s', 0):.1f}s · conversation {ext.get('conversation_id')} · /good or /bad to verify[/dim]")

    def feedback(self, success: bool, note: str) -> None:
        import httpx

        if not self.conversation_id:
            console.print("[yellow]nothing to rate yet[/yellow]")
            return
        body = {"conversation_id": self.conversation_id, "success": success, **({"note": note} if note else {})}
        r = httpx.post(f"{self.url}/feedback", json=body, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=60)
        if r.status_code == 200:
            data = r.json()
            console.print(f"[dim]feedback recorded: {data['action']} {data['case_id']}[/dim]")
        else:
            console.print(f"[red]feedback failed ({r.status_code}):[/red] {escape(_error_message(r))}")


def _error_message(response: Any) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


@serve_app.command()
def chat(
    url: Annotated[str, typer.Option(help="The API's base URL.")] = DEFAULT_URL,
    model: Annotated[str, typer.Option(help="Model (profile): see GET /v1/models.")] = "casebank",
    api_key: Annotated[str | None, typer.Option(help="API key, if the server wants one (default: CASEBANK_API_KEY).")] = None,
    conversation: Annotated[str | None, typer.Option("--conversation", "-c", help="Continue this conversation.")] = None,
) -> None:
    """Chat with the agent in the terminal; /good and /bad verify its last answer."""
    import openai

    client = ChatClient(url, model, api_key or envs.get("CASEBANK_API_KEY") or None, conversation)
    console.print(f"[dim]casebank chat at {url} (model {model}). {HELP}[/dim]")
    while True:
        try:
            line = console.input("[bold]you>[/bold] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            continue
        command, _, rest = line.partition(" ")
        if command in ("/quit", "/exit"):
            return
        if command in ("/good", "/bad"):
            client.feedback(command == "/good", rest.strip())
        elif command == "/new":
            client.conversation_id = None
            console.print("[dim]new conversation[/dim]")
        elif command == "/id":
            console.print(client.conversation_id or "(no conversation yet)")
        elif command.startswith("/"):
            console.print(HELP)
        else:
            try:
                client.turn(line)
            except openai.APIStatusError as e:
                console.print(f"[red]error {e.status_code}:[/red] {escape(_error_message(e.response))}")
            except openai.APIConnectionError:
                console.print(f"[red]error:[/red] cannot reach the API at {url} (is `casebank serve` running?)")
            except openai.APIError as e:  # an error event inside the stream
                console.print(f"[red]error:[/red] {escape(str(e.message))}")
