"""`casebank run` through the real ChatOpenAI client against a fake OpenAI-compatible server (no bank:
-k 0 --no-write-back), so the request format and the live output are tested without an LLM."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agent.cli import run_app
from casebank.models import Case


def completion(name: str, arguments: str, call_id: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [{
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None,
                        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


class FakeLLM:
    """Serves scripted chat completions in order and records every request body."""

    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                reply = json.dumps(fake.script[len(fake.requests) - 1]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CASEBANK_CONFIG", str(tmp_path / "no-such.toml"))
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """casebank (test mount, as the real CLI mounts run_app)."""

    app.add_typer(run_app)
    return app


def test_run_instruction_end_to_end(cli: typer.Typer, fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script = [
        completion("write_file", '{"path": "hello.txt", "content": ', "call_a"),  # malformed JSON
        completion("write_file", '{"path": "hello.txt", "content": "hi\\n"}', "call_b"),
        completion("submit", '{"summary": "Wrote hello.txt."}', "call_c"),
    ]
    out = tmp_path / "traj.json"
    result = CliRunner().invoke(cli, ["run", "Write hi to hello.txt", "--llm-url", fake_llm.url, "--model", "fake-model",
                                      "-k", "0", "--no-write-back", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "error: arguments are not valid JSON" in result.output  # shown live
    assert "wrote 3 bytes to hello.txt" in result.output
    assert "unverified" in result.output and "Wrote hello.txt." in result.output

    # The requests: constrained to the sandbox tools, system message first, history in OpenAI format.
    first, second = fake_llm.requests[0], fake_llm.requests[1]
    assert first["tool_choice"] == "required" and first["model"] == "fake-model" and first["temperature"] == 0
    # the workspace is empty, so the first call cannot explore (harness.hide_explore); later calls get every tool
    assert [t["function"]["name"] for t in first["tools"]] == ["write_file", "run", "submit"]
    assert [t["function"]["name"] for t in second["tools"]] == ["list_files", "read_file", "write_file", "edit_file", "run", "submit"]
    assert first["messages"][0]["role"] == "system" and first["messages"][-1]["role"] == "user"
    assert first["messages"][-1]["content"].startswith("Write hi to hello.txt") and "The workspace is empty." in first["messages"][-1]["content"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["arguments"] == '{"path": "hello.txt", "content": '
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["tool_call_id"] == "call_a"

    case = Case.model_validate_json(out.read_text())
    assert case.task == "Write hi to hello.txt" and case.model == "fake-model"
    assert [m.role for m in case.messages] == ["system", "user"] + ["assistant", "tool"] * 3
    assert case.outcome.verified_by == "none"
    workspaces = list((tmp_path / "data" / "workspaces").iterdir())
    assert len(workspaces) == 1 and (workspaces[0] / "hello.txt").read_text() == "hi\n"


def test_run_task_is_verified_by_its_checker(cli: typer.Typer, fake_llm: FakeLLM, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({
        "id": "greet-file", "family": "files", "instruction": "Create greeting.txt containing exactly: hello",
        "check": "from pathlib import Path\nassert Path('greeting.txt').read_text().strip() == 'hello'\n",
    }) + "\n")
    fake_llm.script = [
        completion("write_file", '{"path": "greeting.txt", "content": "hello\\n"}', "call_1"),
        completion("submit", '{"summary": "done"}', "call_2"),
    ]
    out = tmp_path / "task.json"
    args = ["run", "--task", "greet-file", "--tasks", str(tasks), "--llm-url", fake_llm.url, "-k", "0", "--no-write-back", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "check passed" in result.output and "succeeded" in result.output
    case = Case.model_validate_json(out.read_text())
    assert case.outcome.verified_by == "checker" and case.outcome.success and case.task_id == "greet-file"

    fake_llm.requests.clear()
    fake_llm.script = [completion("submit", '{"summary": "nothing to do"}', "call_3")]
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code == 1 and "failed" in failed.output

    missing = CliRunner().invoke(cli, ["run", "--task", "nope", "--tasks", str(tasks)])
    assert missing.exit_code == 2 and "no task 'nope'" in missing.output
