"""Shared fixtures: real Chroma (embedded in a temp dir, or a real `chroma run` server), the real embedder."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from casebank import envs  # noqa: E402

envs.offline_libraries()  # as every command does where it starts the libraries; before any test imports them

from casebank.bank import CaseBank  # noqa: E402
from casebank.config import Settings  # noqa: E402
from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, for the server-mode runs of the bank tests."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert chroma, "the chroma CLI ships with chromadb; it must be installed"
    port = free_port()
    log = (tmp_path_factory.mktemp("chroma-log") / "server.log").open("w")
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"chroma server exited: {Path(log.name).read_text()[-2000:]}"
        assert time.monotonic() < deadline, "chroma server did not become ready in 60 s"
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


_collection_counter = iter(range(10**6))


@pytest.fixture(params=["embedded", "server"])
def bank(request: pytest.FixtureRequest, tmp_path: Path) -> CaseBank:
    """A fresh, empty bank: embedded PersistentClient in a temp dir, or a fresh collection on the server."""
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        return CaseBank(Settings(data_dir=tmp_path, chroma_url=url, collection=f"test{next(_collection_counter)}"))
    return CaseBank(Settings(data_dir=tmp_path))


@pytest.fixture
def embedded_bank(tmp_path: Path) -> CaseBank:
    return CaseBank(Settings(data_dir=tmp_path))


def make_case(task: str, family: str = "general", tags: list[str] | None = None, steps: int = 1, *,
              success: bool = True, verified_by: str = "checker", source: str = "seed") -> Case:
    """A small, valid trajectory: `steps` tool calls, then done."""
    messages = [Message(role="user", content=task)]
    for i in range(1, steps + 1):
        call = ToolCall(id=f"call_{i}", function=FunctionCall(name="run", arguments={"command": f"echo step {i}"}))
        messages += [Message(role="assistant", content=f"step {i}", tool_calls=[call]),
                     Message(role="tool", tool_call_id=call.id, name="run", content=f"exit code: 0\nstep {i}")]
    return Case(task=task, family=family, tags=tags or [], messages=messages, source=source,  # type: ignore[arg-type]
                outcome=Outcome(success=success, verified_by=verified_by),  # type: ignore[arg-type]
                created_at=datetime(2026, 1, 1, tzinfo=UTC))


# ---- the sandbox's isolation mode (tests/test_sandbox_*.py) -------------------------------------------
@pytest.fixture(params=["auto", "basic"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: full isolation where the machine allows it, and the basic fallback."""
    from casebank.sandbox import isolation as iso

    monkeypatch.setenv(iso.MODE_ENV, request.param)
    return request.param


@pytest.fixture()
def auto(monkeypatch: pytest.MonkeyPatch) -> str:
    from casebank.sandbox import isolation as iso

    monkeypatch.setenv(iso.MODE_ENV, "auto")
    return "auto"
