"""The processes server mode needs, on free loopback ports: a Chroma server (`chroma run`), Postgres in a
temp dir (initdb + pg_ctl, as tests/test_scale_out.py starts it), the scripted OpenAI-compatible LLM
(`casebank.llm.scripted`) and `casebank serve` replicas. Each is a context manager that stops what
it started."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        try:
            r = httpx.get(url, timeout=5)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:500]}"
        except httpx.HTTPError as e:
            last = f"{type(e).__name__}: {e}"
        if proc.poll() is not None or time.monotonic() > deadline:
            state = f"exited {proc.returncode}" if proc.poll() is not None else f"still running after {timeout_s:g}s"
            raise RuntimeError(f"{url} did not come up ({state}; last answer: {last}): {log.read_text(errors='replace')[-1500:]}")
        time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    path: Path  # its data folder (Chroma) or log


@contextmanager
def chroma_server(root: Path) -> Iterator[Served]:
    chroma = shutil.which("chroma", path=str(BIN)) or shutil.which("chroma")
    if not chroma:
        raise RuntimeError("the chroma CLI (it ships with chromadb) is not installed")
    port, path = free_port(), Path(tempfile.mkdtemp(prefix="chroma-", dir=root))
    log = path.with_suffix(".log")
    proc = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/v2/heartbeat", proc, log, 60)
        yield Served(url, proc, path)
    finally:
        stop(proc)
        shutil.rmtree(path, ignore_errors=True)
        log.unlink(missing_ok=True)


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)),
        None,
    )
    if not found:
        raise RuntimeError(
            f"{name} not found: install PostgreSQL (scripts/install-system-deps.sh does)"
        )
    return str(found)


def _postgres_user() -> str | None:
    """Postgres refuses to run as root: there it runs as `postgres` (Debian's package) or `nobody`."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
        return "postgres"
    except KeyError:
        return "nobody"


def _as_pg(cmd: list[str]) -> list[str]:
    user = _postgres_user()
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@contextmanager
def postgres() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="casebank-bench-pg-"))
    data, port = root / "data", free_port()
    if user := _postgres_user():
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        _as_pg(
            [
                pg_bin("initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "casebank",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_pg(
            [
                pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://casebank@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_pg([pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def scripted_llm(root: Path) -> Iterator[str]:
    """`python -m casebank.llm.scripted`: answers at once, so the API is what gets measured."""
    port, log = free_port(), root / "scripted-llm.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "casebank.llm.scripted", "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/v1/models", proc, log, 60)
        yield f"{url}/v1"
    finally:
        stop(proc)


@contextmanager
def replicas(n: int, env: dict[str, str], root: Path) -> Iterator[list[str]]:
    """`casebank serve` n times, each with its own data dir, sharing what `env` points at."""
    procs: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for i in range(n):
            port, log = free_port(), root / f"replica-{i}.log"
            proc = subprocess.Popen(
                [
                    str(BIN / "casebank"),
                    "serve",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env={**env, "CASEBANK_DATA_DIR": str(root / f"replica-{i}")},
                cwd=root,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            procs.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, url, log in procs:
            wait_http(f"{url}/readyz", proc, log, 600)  # two replicas loading models at once on a busy machine
        yield [url for _, url, _ in procs]
    finally:
        for proc, _, _ in procs:
            stop(proc, signal.SIGINT)


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children (a server may fork workers)."""
    import psutil

    try:
        top = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [top, *top.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
