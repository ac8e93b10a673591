"""`casebank serve` and `casebank chat` (serving.cli.serve_app): the terminal client against the API under
uvicorn, and the serve command as its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from casebank.bank import CaseBank
from casebank.config import Settings
from serving.app import create_app
from serving.cli import serve_app
from serving.config import ServerSettings
from serving.testing import EchoToolModel, agent_factory_for, closed_port, serve

KEY = "cli-key"


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> CaseBank:
    return CaseBank(Settings(data_dir=tmp_path_factory.mktemp("api-cli")))


@pytest.fixture(scope="module")
def url(bank: CaseBank) -> Iterator[str]:
    settings = ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1", user_keys=[KEY])
    with serve(create_app(settings, agent_factory_for(EchoToolModel()), bank=bank)) as base:
        yield base


def test_chat_streams_steps_and_sends_feedback(url: str, bank: CaseBank) -> None:
    runner = CliRunner()
    script = "Write down that the meeting is at 3pm.\n/id\nAnd at which time?\n/good spot on\n/new\n/bad\n/quit\n"
    result = runner.invoke(serve_app, ["chat", "--url", f"{url}/v1", "--api-key", KEY], input=script)
    out = result.output
    assert result.exit_code == 0, out
    assert "write_file" in out and "wrote 38 bytes to turn-1.txt" in out and "list_files" in out
    assert "agent> You said: Write down that the meeting is at 3pm.. Earlier: nothing." in out
    assert "Earlier: Write down that the meeting is at 3pm.." in out  # the second turn continued the conversation
    assert "feedback recorded: added case-" in out
    assert "nothing to rate yet" in out  # /bad right after /new
    case_id = out.split("feedback recorded: added ")[1].split()[0]
    assert bank.get(case_id) is not None


def test_chat_reports_api_errors(url: str) -> None:
    result = CliRunner().invoke(serve_app, ["chat", "--url", f"{url}/v1", "--api-key", "wrong"], input="hello\n/quit\n")
    assert result.exit_code == 0 and "error 401" in result.output and "Incorrect API key" in result.output
    down = CliRunner().invoke(serve_app, ["chat", "--url", f"http://127.0.0.1:{closed_port()}/v1"], input="hello\n")
    assert down.exit_code == 0 and "cannot reach the API" in down.output


def test_serve_flags_are_checked() -> None:
    result = CliRunner().invoke(serve_app, ["serve", "--start-llm", "--llm-url", "http://127.0.0.1:1/v1"])
    assert result.exit_code == 2 and "not both" in result.output


def test_serve_runs_the_api_until_interrupted(tmp_path: Path) -> None:
    port = closed_port()
    env = {**os.environ, "CASEBANK_DATA_DIR": str(tmp_path), "CASEBANK_CONFIG": str(tmp_path / "none.toml"), "HF_HUB_OFFLINE": "1"}
    code = "from serving.cli import serve_app; serve_app()"
    llm = f"http://127.0.0.1:{closed_port()}/v1"
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(port), "--llm-url", llm, "--log-level", "warning"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "casebank serve did not come up"
            time.sleep(0.3)
        assert [m["id"] for m in httpx.get(f"http://127.0.0.1:{port}/v1/models").json()["data"]][0] == "casebank"
        started = time.perf_counter()
        chat = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=30,
                          json={"model": "casebank", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 503 and time.perf_counter() - started < 2  # the real agent, no LLM behind it
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert f"LLM at {llm}" in output and (tmp_path / "chroma").is_dir()
    assert "ready" in output and f"curl -s http://127.0.0.1:{port}/v1/chat/completions" in " ".join(output.split())
