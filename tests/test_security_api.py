"""Issue 10, the API side: auth by the documented variables, no 500 and no dropped connection on bad
input, the quarantine for admin keys, OpenAPI conformance, a bound on the time to the first model reply,
and pytest's temp-folder retention. Real HTTP throughout: uvicorn on a loopback port, httpx, the real
bank and embedder; the stuck LLM is a real TCP server that accepts and does not answer."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.config import DEFAULT_MODEL
from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall
from serving.app import create_app
from serving.cli import serve_app
from serving.config import ServerSettings
from serving.testing import EchoToolModel, agent_factory_for, closed_port, serve

USER, OTHER, ADMIN = "sec-user-1", "sec-user-2", "sec-admin-1"
JSON = {"Content-Type": "application/json"}
# The payload: a verified success whose family is a lone surrogate (a valid JSON escape).
SURROGATE_CASE = ('{"task":"x","messages":[{"role":"user","content":"x"}],"outcome":{"success":true,"verified_by":"checker"},'
                  '"family":"f\\udc00"}')


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def record(text: str, *, verified: bool = True, **extra: Any) -> dict[str, Any]:
    """A valid case record in casebank format, with `extra` fields put over it as they are (bad ones too)."""
    call = ToolCall(id="c1", function=FunctionCall(name="submit", arguments={"summary": "ok"}))
    case = Case(task=text, family="security", source="import",
                outcome=Outcome(success=verified, verified_by="checker" if verified else "none"),
                messages=[Message(role="user", content=text), Message(role="assistant", tool_calls=[call]),
                          Message(role="tool", tool_call_id="c1", name="submit", content="submitted")])
    return {**case.model_dump(mode="json", exclude={"id"}), **extra}


def counts(bank: CaseBank) -> tuple[int, int]:
    return bank.count(), bank.count(quarantined=True)


def client_port(response: httpx.Response) -> int:
    """The local port of the connection that carried `response`: equal ports, same keep-alive connection."""
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> CaseBank:
    bank = CaseBank(Settings(data_dir=tmp_path_factory.mktemp("security-bank")))
    bank.embedder.embed(["warm up"])
    return bank


@pytest.fixture(scope="module")
def url(bank: CaseBank) -> Iterator[str]:
    settings = ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1", user_keys=[USER, OTHER], admin_keys=[ADMIN])
    with serve(create_app(settings, agent_factory_for(EchoToolModel()), bank=bank)) as base:
        yield base


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No CASEBANK_* variable from the caller's shell, no casebank.toml."""
    for name in list(os.environ):
        if name.upper().startswith("CASEBANK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CASEBANK_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("CASEBANK_LLM_URL", f"http://127.0.0.1:{closed_port()}/v1")
    return monkeypatch


# ---- 1. auth by the documented variables -----------------------------------------------------------------------
def test_user_keys_alone_lock_the_api(clean_env: pytest.MonkeyPatch, bank: CaseBank, tmp_path: Path) -> None:
    clean_env.setenv("CASEBANK_USER_KEYS", "u1")
    settings = ServerSettings()
    assert settings.auth_enabled and settings.user_keys == ["u1"]
    case = Case.model_validate(record("Keep this case: an anonymous caller may not delete it."))
    bank.upsert([case])
    with serve(create_app(settings, agent_factory_for(EchoToolModel()), bank=bank, bank_settings=Settings(data_dir=tmp_path))) as base:
        anonymous = httpx.delete(f"{base}/v1/cases/{case.id}", timeout=30)
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "missing_api_key"
        assert bank.get(case.id) is not None
        as_user = httpx.delete(f"{base}/v1/cases/{case.id}", headers=bearer("u1"), timeout=30)
        assert as_user.status_code == 403 and bank.get(case.id) is not None
        assert httpx.get(f"{base}/v1/cases", headers=bearer("u1"), timeout=30).status_code == 200


def test_user_and_admin_keys_each_do_their_part(clean_env: pytest.MonkeyPatch, bank: CaseBank, tmp_path: Path) -> None:
    clean_env.setenv("CASEBANK_USER_KEYS", "u1,u2")
    clean_env.setenv("CASEBANK_ADMIN_KEYS", '["a1"]')
    settings = ServerSettings()
    chat = {"model": "casebank", "messages": [{"role": "user", "content": "Write hello.txt."}]}
    with serve(create_app(settings, agent_factory_for(EchoToolModel()), bank=bank, bank_settings=Settings(data_dir=tmp_path))) as base:
        user = httpx.Client(base_url=base, headers=bearer("u2"), timeout=60)
        admin = httpx.Client(base_url=base, headers=bearer("a1"), timeout=60)
        assert user.post("/v1/chat/completions", json=chat).status_code == 200
        assert user.get("/v1/cases", params={"query": "hello"}).status_code == 200
        for denied in (user.post("/v1/cases", json=[record("A user may not add this.")]), user.delete("/v1/cases/case-0"),
                       user.get("/v1/cases", params={"quarantined": True})):
            assert denied.status_code == 403 and denied.json()["error"]["code"] == "admin_key_required"
        # An admin key works wherever a user key does.
        assert admin.post("/v1/chat/completions", json=chat).status_code == 200
        assert admin.get("/v1/cases", params={"query": "hello"}).status_code == 200
        assert admin.post("/v1/cases", json=[record("An admin may add this.")]).status_code == 201


@pytest.mark.parametrize(("name", "hint"), [
    ("CASEBANK_API_KEYS", "unknown variable CASEBANK_API_KEYS: use CASEBANK_USER_KEYS"),
    ("casebank_admin_key", "unknown variable casebank_admin_key: use CASEBANK_ADMIN_KEYS"),
    ("CASEBANK_KEYS", "unknown variable CASEBANK_KEYS: the key variables are CASEBANK_USER_KEYS"),
])
def test_an_unknown_key_variable_stops_the_start(clean_env: pytest.MonkeyPatch, name: str, hint: str) -> None:
    clean_env.setenv(name, "k1")
    with pytest.raises(ValidationError, match=hint):
        ServerSettings()
    result = CliRunner().invoke(serve_app, ["serve", "--port", str(closed_port())])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and f"error: {hint}" in output and "Traceback" not in output


def test_an_unknown_key_entry_in_casebank_toml_stops_the_start(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "casebank.toml"
    toml.write_text('api_keys = ["k1"]\nadmin_keys = ["a1"]\n', encoding="utf-8")
    clean_env.setenv("CASEBANK_CONFIG", str(toml))
    with pytest.raises(ValidationError, match="unknown entry 'api_keys'"):
        ServerSettings()
    toml.write_text('user_keys = ["k1"]\nadmin_keys = ["a1"]\n', encoding="utf-8")
    assert ServerSettings().user_keys == ["k1"]


def test_an_open_api_binds_only_to_loopback(clean_env: pytest.MonkeyPatch) -> None:
    for host in ("0.0.0.0", "::", "192.168.1.20", "api.example"):
        with pytest.raises(ValidationError, match=f"host {host} is not a loopback address and no key is set"):
            ServerSettings(host=host)
    assert ServerSettings(host="0.0.0.0", user_keys=["k"]).host == "0.0.0.0"
    assert ServerSettings(host="0.0.0.0", insecure_no_auth=True).insecure_no_auth
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert not ServerSettings(host=host).auth_enabled
    result = CliRunner().invoke(serve_app, ["serve", "--host", "0.0.0.0", "--port", str(closed_port())])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "not a loopback address" in output and "--insecure-no-auth" in output


# ---- 2. no 500 from bad text, and never a dropped connection ---------------------------------------------------
BAD_RECORDS = [  # (the record, the param the 422 names)
    (record("x", family="f\udc00"), "[0].family"),
    (record("x", tags=["ok", "t\ud800"]), "[0].tags[1]"),
    (record("x", outcome={"success": True, "verified_by": "checker", "detail": "d\udfff"}), "[0].outcome.detail"),
    (record("x", metadata={"origin": {"note": "m\udc00"}}), "[0].metadata.origin.note"),
    (record("x", model="m\udc00"), "[0].model"),
    (record("x", family="nul\x00"), "[0].family"),
    (record("x", task="x\x00y"), "[0].task"),
    (record("x", messages=[{"role": "user", "content": "ok"}, {"role": "assistant", "tool_calls": [
        {"id": "c1", "function": {"name": "run", "arguments": '{"command": "echo \\udc00"}'}}]}]),
     "[0].messages[1].tool_calls[0].function.arguments.command"),
]


def test_bad_text_in_an_import_is_a_422_and_the_connection_lives_on(url: str, bank: CaseBank) -> None:
    before = counts(bank)
    with httpx.Client(base_url=url, headers=bearer(ADMIN), timeout=60, limits=httpx.Limits(max_connections=1)) as client:
        first = client.post("/v1/cases", content=SURROGATE_CASE.join("[]"), headers=JSON)
        assert first.status_code == 422, first.text
        error = first.json()["error"]
        assert error["param"] == "[0].family" and error["code"] == "invalid_case"
        assert error["message"].startswith("case 0: field 'family': text contains a lone surrogate U+DC00")
        port = client_port(first)
        for bad, param in BAD_RECORDS:
            response = client.post("/v1/cases", content=json.dumps([bad]), headers=JSON)
            assert response.status_code == 422 and response.json()["error"]["param"] == param, response.text
        # A LIMI record with an unknown key holding a surrogate, and a batch whose second item is bad: nothing written.
        limi = {"messages": [{"role": "user", "content": "x"}], "source_dataset": "s\udc00"}
        response = client.post("/v1/cases", params={"format": "limi"}, content=json.dumps([limi]), headers=JSON)
        assert response.status_code == 422 and response.json()["error"]["param"] == "[0].source_dataset"
        mixed = [record("A valid success before a bad item."), record("failed", verified=False, family="f\udc00")]
        response = client.post("/v1/cases", content=json.dumps(mixed), headers=JSON)
        assert response.status_code == 422 and response.json()["error"]["param"] == "[1].family"
        assert counts(bank) == before
        after = client.get("/v1/cases", params={"limit": 1})
        assert after.status_code == 200 and client_port(after) == port  # the same connection, still open


def test_bad_text_in_chat_and_feedback_is_a_422_naming_the_field(url: str) -> None:
    with httpx.Client(base_url=url, headers=bearer(USER), timeout=60, limits=httpx.Limits(max_connections=1)) as client:
        cases = [
            ({"model": "casebank", "messages": [{"role": "user", "content": "hi \udc00"}]}, "messages[0].content"),
            ({"model": "case\udc00bank", "messages": [{"role": "user", "content": "hi"}]}, "model"),
            ({"model": "casebank", "messages": [{"role": "user", "content": [{"type": "text", "text": "a\x00"}]}]},
             "messages[0].content[0].text"),
            ({"model": "casebank", "messages": [{"role": "user", "content": "hi"}], "metadata": {"k\udc00": 1}}, "metadata.k\\udc00"),
        ]
        ports = set()
        for body, param in cases:
            response = client.post("/v1/chat/completions", content=json.dumps(body), headers=JSON)
            assert response.status_code == 422 and response.json()["error"]["param"] == param, response.text
            ports.add(client_port(response))
        feedback = client.post("/v1/feedback", content=json.dumps({"conversation_id": "c1", "success": True, "note": "n\udc00"}),
                               headers=JSON)
        assert feedback.status_code == 422 and feedback.json()["error"]["param"] == "note"
        assert client.get("/v1/models").status_code == 200 and ports == {client_port(feedback)}


def test_an_unexpected_error_is_a_json_500_and_the_connection_lives_on(bank: CaseBank, tmp_path: Path) -> None:
    app = create_app(ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1"), agent_factory_for(EchoToolModel()),
                     bank=bank, bank_settings=Settings(data_dir=tmp_path))

    @app.get("/v1/broken")
    def broken() -> None:  # any bug in a handler
        raise RuntimeError("a bug")

    with serve(app) as base, httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1)) as client:
        failed = client.get("/v1/broken")
        assert failed.status_code == 500
        assert failed.json()["error"] == {"message": "internal error: RuntimeError", "type": "server_error", "param": None,
                                          "code": "internal_error"}
        after = client.get("/healthz")
        assert after.status_code == 200 and client_port(after) == client_port(failed)
        assert 'casebank_http_requests_total{method="GET",route="/v1/broken",status="500"} 1.0' in client.get("/metrics").text


# ---- 3. the quarantine is for admin keys ------------------------------------------------------------------------------
def test_user_keys_read_only_their_own_quarantined_turns(url: str, bank: CaseBank) -> None:
    user = httpx.Client(base_url=url, headers=bearer(USER), timeout=60)
    other = httpx.Client(base_url=url, headers=bearer(OTHER), timeout=60)
    admin = httpx.Client(base_url=url, headers=bearer(ADMIN), timeout=60)
    imported = admin.post("/v1/cases", json=[record("Someone's failed attempt with a secret token.", verified=False)])
    failed_id = imported.json()["ids"][0]
    for params in ({"quarantined": True}, {"quarantined": True, "query": "secret token"}):
        denied = user.get("/v1/cases", params=params)
        assert denied.status_code == 403 and denied.json()["error"] == {
            "message": "Reading the quarantine needs an admin key: it holds every user's failed and unverified chats.",
            "type": "permission_error", "param": "quarantined", "code": "admin_key_required"}
    assert user.get(f"/v1/cases/{failed_id}").status_code == 404  # as if it were not there
    assert failed_id in [h["id"] for h in admin.get("/v1/cases", params={"quarantined": True, "family": "security"}).json()["data"]]
    assert admin.get(f"/v1/cases/{failed_id}").json()["quarantined"] is True

    # A user's own chat turn is quarantined (unverified); it reads it by naming its conversation, nobody else can.
    turn = user.post("/v1/chat/completions", json={"model": "casebank", "messages": [{"role": "user", "content": "my secret"}]})
    ext = turn.json()["casebank"]
    assert ext["write_back"]["action"] == "quarantined"
    own = user.get(f"/v1/cases/{ext['trajectory_id']}", params={"conversation_id": ext["conversation_id"]})
    assert own.status_code == 200 and own.json()["quarantined"] is True
    assert user.get(f"/v1/cases/{ext['trajectory_id']}").status_code == 404
    assert other.get(f"/v1/cases/{ext['trajectory_id']}", params={"conversation_id": ext["conversation_id"]}).status_code == 404
    assert user.get(f"/v1/cases/{failed_id}", params={"conversation_id": ext["conversation_id"]}).status_code == 404


# ---- 6. OpenAPI conformance ---------------------------------------------------------------------------------------
def test_options_and_405_list_every_method_of_the_path(url: str) -> None:
    for path, allow in [("/v1/cases", "GET, OPTIONS, POST"), ("/v1/cases/case-1", "DELETE, GET, OPTIONS"), ("/healthz", "GET, OPTIONS")]:
        options = httpx.options(url + path, timeout=30)
        assert options.status_code == 204 and options.headers["allow"] == allow, (path, options.text)
    not_allowed = httpx.put(f"{url}/v1/cases", json=[], timeout=30)
    assert not_allowed.status_code == 405 and not_allowed.headers["allow"] == "GET, OPTIONS, POST"
    assert httpx.options(f"{url}/v1/nothing-here", timeout=30).status_code == 404


def test_the_schema_of_post_cases_describes_its_items(url: str) -> None:
    schema = httpx.get(f"{url}/openapi.json", headers=bearer(USER), timeout=30).json()
    body = schema["paths"]["/v1/cases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**body, "components": schema["components"]})
    assert not validator.is_valid([{}]) and not validator.is_valid([{"messages": []}]) and not validator.is_valid([])
    assert validator.is_valid([record("A real case.")])
    assert validator.is_valid([{"messages": [{"role": "user", "content": "hi"}], "tools": [], "source_dataset": "limi"}])
    family = next(p for p in schema["paths"]["/v1/cases"]["get"]["parameters"] if p["name"] == "family")
    item = jsonschema.Draft202012Validator(family["schema"]["items"])
    assert not item.is_valid("123") and item.is_valid("log-analysis")


def test_a_family_filter_the_schema_refuses_is_refused(url: str) -> None:
    for value in ("123", "-x", "two words"):
        response = httpx.get(f"{url}/v1/cases", params={"family": value}, headers=bearer(USER), timeout=30)
        assert response.status_code == 422 and response.json()["error"]["param"] == "family[0]", (value, response.text)
    assert httpx.get(f"{url}/v1/cases", params={"family": "bugfix"}, headers=bearer(USER), timeout=30).status_code == 200


def test_deep_json_is_refused_for_what_it_is(url: str, bank: CaseBank) -> None:
    admin = httpx.Client(base_url=url, headers=bearer(ADMIN), timeout=60)
    before = counts(bank)
    deep = admin.post("/v1/cases", content="[" * 400_000 + "]" * 400_000, headers=JSON)
    assert deep.status_code == 422 and deep.json()["error"]["code"] == "json_too_deep"
    assert "nested too deeply" in deep.json()["error"]["message"]
    nested: Any = "leaf"
    for _ in range(100):  # parses, but deeper than any case needs (and than the serialiser takes)
        nested = {"n": nested}
    response = admin.post("/v1/cases", json=[record("Deep metadata.", metadata=nested)])
    assert response.status_code == 422 and "nested deeper than 64 levels" in response.json()["error"]["message"]
    assert response.json()["error"]["param"].startswith("[0].metadata.n.n")
    chat = admin.post("/v1/chat/completions", json={"model": "casebank", "messages": [{"role": "user", "content": "x"}], "x": nested})
    assert chat.status_code == 422 and chat.json()["error"]["param"].startswith("x.n.n")
    not_utf8 = admin.post("/v1/cases", content=b'[{"task": "\xff"}]', headers=JSON)
    assert not_utf8.status_code == 422 and "not valid UTF-8 (byte 11)" in not_utf8.json()["error"]["message"]
    encoded_surrogate = admin.post("/v1/cases", content=b'[{"task": "\xed\xb0\x80"}]', headers=JSON)  # json.loads lets it through
    assert encoded_surrogate.status_code == 422 and "lone surrogate" in encoded_surrogate.json()["error"]["message"]
    assert counts(bank) == before


# ---- 7. a backend that accepts and never answers ----------------------------------------------------------------
COMPLETION = {
    "id": "chatcmpl-late", "object": "chat.completion", "created": 0, "model": "late",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "submit", "arguments": '{"summary": "late answer"}'}}]}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}


@contextmanager
def fake_llm(*, reply_after_s: float | None) -> Iterator[tuple[str, threading.Event]]:
    """An OpenAI-compatible HTTP server on a loopback port. With `reply_after_s=None` it is stuck: it
    accepts every connection and reads the request, then says nothing (to /models neither) until the
    event is set, and then answers. Otherwise it is slow but alive: /models answers at once and each chat
    completion after `reply_after_s`. The completion is a valid `submit` call."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if reply_after_s is None:
                release.wait(60)
            self.answer({"object": "list", "data": [{"id": m, "object": "model"} for m in (DEFAULT_MODEL, "late")]})

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if reply_after_s is None:
                release.wait(60)
            else:
                time.sleep(reply_after_s)
            self.answer(COMPLETION)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_backend_that_never_answers_gets_a_504_and_records_nothing(bank: CaseBank, tmp_path: Path) -> None:
    with fake_llm(reply_after_s=None) as (llm_url, release):
        settings = ServerSettings(llm_url=llm_url, first_token_timeout_s=2)
        app = create_app(settings, bank=bank, bank_settings=Settings(data_dir=tmp_path))  # the real agent: ChatOpenAI
        before = counts(bank)
        with serve(app) as base:
            for stream in (False, True):
                body = {"model": "casebank", "stream": stream, "messages": [{"role": "user", "content": "hello?"}],
                        "casebank": {"conversation_id": f"stuck-{stream}"}}
                started = time.perf_counter()
                response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=20)
                elapsed = time.perf_counter() - started
                assert response.status_code == 504 and 2 <= elapsed < 6, (response.text, elapsed)
                error = response.json()["error"]
                assert error["code"] == "llm_timeout" and "no reply within 2 s" in error["message"] and "not recorded" in error["message"]
            # The backend answers now, late: the abandoned turns end without writing anything.
            release.set()
            metrics = app.state.metrics
            deadline = time.monotonic() + 30
            while metrics.episodes.labels("casebank", "error")._value.get() < 2:
                assert time.monotonic() < deadline, "the abandoned turns did not end"
                time.sleep(0.1)
            assert metrics.active_turns._value.get() == 0
            assert counts(bank) == before
            service = app.state.service
            for stream in (False, True):
                assert service.conversations.get(f"stuck-{stream}") is None
                assert service.checkpointer.get_tuple({"configurable": {"thread_id": f"stuck-{stream}"}}) is None


def test_a_slow_backend_that_is_alive_is_waited_for(bank: CaseBank, tmp_path: Path) -> None:
    """A first reply later than the bound from a backend that answers /models (a CPU model prefilling) is no 504."""
    with fake_llm(reply_after_s=3.5) as (llm_url, _):
        settings = ServerSettings(llm_url=llm_url, first_token_timeout_s=1.5, max_steps=1)
        with serve(create_app(settings, bank=bank, bank_settings=Settings(data_dir=tmp_path))) as base:
            body = {"model": "casebank", "messages": [{"role": "user", "content": "take your time"}]}
            started = time.perf_counter()
            response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30)
            assert response.status_code == 200 and time.perf_counter() - started >= 3.5, response.text
            assert response.json()["casebank"]["model_calls"] == 1


# ---- 8. test hygiene ------------------------------------------------------------------------------------------------
def test_pytest_keeps_few_temp_folders(pytestconfig: pytest.Config) -> None:
    """Every run leaves its temp folder (banks, models, workspaces); 1000 of them filled the disk in CI."""
    assert int(pytestconfig.getini("tmp_path_retention_count")) <= 3
