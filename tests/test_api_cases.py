"""Feedback, the /v1/cases routes and auth, over real HTTP (uvicorn, httpx, the real bank and embedder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall
from serving.app import create_app
from serving.config import ServerSettings
from serving.testing import EchoToolModel, agent_factory_for, closed_port, serve

USER, OTHER, ADMIN = "user-key-1", "user-key-2", "admin-key-1"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("api-cases")


@pytest.fixture(scope="module")
def bank(data_dir: Any) -> CaseBank:
    bank = CaseBank(Settings(data_dir=data_dir))
    bank.embedder.embed(["warm up"])
    return bank


def settings() -> ServerSettings:
    return ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1", user_keys=[USER, OTHER], admin_keys=[ADMIN])


@pytest.fixture(scope="module")
def url(bank: CaseBank) -> Iterator[str]:
    with serve(create_app(settings(), agent_factory_for(EchoToolModel()), bank=bank)) as base:
        yield base


@pytest.fixture(scope="module")
def api(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=bearer(USER), timeout=60)


@pytest.fixture(scope="module")
def admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=bearer(ADMIN), timeout=60)


def chat(api: httpx.Client, text: str, conversation_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "casebank", "messages": [{"role": "user", "content": text}]}
    if conversation_id:
        body["casebank"] = {"conversation_id": conversation_id}
    response = api.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["casebank"]


def case_record(task: str, *, verified: bool = True) -> dict[str, Any]:
    call = ToolCall(id="c1", function=FunctionCall(name="submit", arguments={"summary": "ok"}))
    case = Case(task=task, family="api-test", tags=["http"], source="import",
                outcome=Outcome(success=verified, verified_by="checker" if verified else "none"),
                messages=[Message(role="user", content=task), Message(role="assistant", tool_calls=[call]),
                          Message(role="tool", tool_call_id="c1", name="submit", content="submitted")])
    return case.model_dump(mode="json")


# ---- auth -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("POST", "/v1/feedback"), ("GET", "/v1/cases"),
    ("GET", "/v1/cases/case-x"), ("POST", "/v1/cases"), ("DELETE", "/v1/cases/case-x"), ("GET", "/metrics"),
    ("GET", "/readyz"), ("GET", "/openapi.json"), ("GET", "/docs"),
])
def test_every_route_but_healthz_needs_a_key(url: str, method: str, path: str) -> None:
    missing = httpx.request(method, url + path, json={}, timeout=30)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = httpx.request(method, url + path, json={}, headers=bearer("not-a-key"), timeout=30)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    basic = httpx.request(method, url + path, json={}, headers={"Authorization": "Basic dXNlcjpwdw=="}, timeout=30)
    assert basic.status_code == 401


def test_healthz_needs_no_key_and_user_keys_cannot_write_cases(url: str, api: httpx.Client, admin: httpx.Client) -> None:
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert api.get("/v1/models").status_code == 200 and admin.get("/v1/models").status_code == 200
    assert api.get("/openapi.json").json()["info"]["title"] == "casebank"
    forbidden = api.post("/v1/cases", json=[case_record("a user may not add this")])
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "admin_key_required"
    assert api.delete("/v1/cases/case-0000").status_code == 403
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


# ---- feedback ----------------------------------------------------------------------------------------------------------
def test_positive_feedback_makes_the_trajectory_retrievable(api: httpx.Client, bank: CaseBank) -> None:
    task = "Convert the temperatures in readings.csv from Fahrenheit to Celsius."
    ext = chat(api, task)
    trajectory_id = ext["trajectory_id"]
    assert ext["write_back"]["action"] == "quarantined"
    # A user key reads its own quarantined turn by naming the conversation (routes_cases.own_last_turn).
    assert api.get(f"/v1/cases/{trajectory_id}", params={"conversation_id": ext["conversation_id"]}).json()["quarantined"] is True
    assert trajectory_id not in [h["id"] for h in api.get("/v1/cases", params={"query": task, "k": 5}).json()["data"]]

    response = api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": True, "note": "perfect",
                                              "trajectory_id": trajectory_id})
    assert response.status_code == 200, response.text
    assert response.json() == {"conversation_id": ext["conversation_id"], "trajectory_id": trajectory_id, "success": True,
                               "action": "added", "case_id": trajectory_id}

    hits = api.get("/v1/cases", params={"query": "fahrenheit to celsius conversion of a csv", "k": 3, "strategy": "dense"}).json()["data"]
    assert hits[0]["id"] == trajectory_id and hits[0]["quarantined"] is False and hits[0]["rank"] == 1
    got = api.get(f"/v1/cases/{trajectory_id}").json()
    assert got["quarantined"] is False
    assert got["case"]["outcome"] == {"success": True, "verified_by": "feedback", "detail": "perfect"}
    assert bank.get(trajectory_id, quarantined=True) is None  # the unverified copy is gone
    # The next chat on a similar task is shown this case.
    assert trajectory_id in [r["id"] for r in chat(api, "Convert temperatures in a CSV from Fahrenheit to Celsius.")["retrieved"]]


def test_negative_feedback_lands_in_quarantine(api: httpx.Client, bank: CaseBank) -> None:
    task = "Rename every .jpeg file in photos/ to .jpg."
    ext = chat(api, task)
    response = api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": False, "note": "renamed the wrong files"})
    assert response.status_code == 200 and response.json()["action"] == "quarantined"
    got = api.get(f"/v1/cases/{ext['trajectory_id']}", params={"conversation_id": ext["conversation_id"]}).json()
    assert got["quarantined"] is True
    assert got["case"]["outcome"] == {"success": False, "verified_by": "feedback", "detail": "renamed the wrong files"}
    assert bank.get(ext["trajectory_id"]) is None
    assert ext["trajectory_id"] not in [h["id"] for h in api.get("/v1/cases", params={"query": task}).json()["data"]]
    # Changing one's mind: good after all, then bad again.
    api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": True})
    assert bank.get(ext["trajectory_id"]) is not None
    api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": False})
    assert bank.get(ext["trajectory_id"]) is None and bank.get(ext["trajectory_id"], quarantined=True) is not None


def test_feedback_errors(api: httpx.Client, url: str) -> None:
    missing = api.post("/v1/feedback", json={"conversation_id": "conv-never-seen", "success": True})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "conversation_not_found"
    ext = chat(api, "Tell me the date.")
    stale = api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": True, "trajectory_id": "case-old"})
    assert stale.status_code == 409 and stale.json()["error"]["param"] == "trajectory_id"
    invalid = api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"]})
    assert invalid.status_code == 422 and invalid.json()["error"]["param"] == "success"
    # Another user's conversation is not theirs to rate, nor to continue.
    other = httpx.Client(base_url=url, headers=bearer(OTHER), timeout=60)
    assert other.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": True}).status_code == 404
    hijack = other.post("/v1/chat/completions", json={"model": "casebank", "messages": [{"role": "user", "content": "hi"}],
                                                      "casebank": {"conversation_id": ext["conversation_id"]}})
    assert hijack.status_code == 404
    # An answer-less turn (step limit) cannot be marked good.
    body = {"model": "casebank", "messages": [{"role": "user", "content": "stop early"}], "casebank": {"max_steps": 1}}
    failed = api.post("/v1/chat/completions", json=body).json()["casebank"]
    no_answer = api.post("/v1/feedback", json={"conversation_id": failed["conversation_id"], "success": True})
    assert no_answer.status_code == 409 and no_answer.json()["error"]["code"] == "no_answer"


def test_feedback_works_after_a_restart(bank: CaseBank, data_dir: Any) -> None:
    with serve(create_app(settings(), agent_factory_for(EchoToolModel()), bank=bank)) as first:
        ext = chat(httpx.Client(base_url=first, headers=bearer(USER), timeout=60), "Archive last month's logs into logs.tar.gz.")
    assert (data_dir / "conversations" / f"{ext['conversation_id']}.json").is_file()
    # A new app (as after a restart) over a freshly opened bank on the same data dir.
    with serve(create_app(settings(), agent_factory_for(EchoToolModel()), bank_settings=Settings(data_dir=data_dir))) as second:
        api = httpx.Client(base_url=second, headers=bearer(USER), timeout=60)
        response = api.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": True})
        assert response.status_code == 200 and response.json()["action"] == "added"
        # And the conversation itself carries on.
        again = chat(api, "Now delete the originals.", ext["conversation_id"])
        assert again["conversation_id"] == ext["conversation_id"] and len(again["steps"]) == 3
    assert bank.get(ext["trajectory_id"]) is not None


# ---- /v1/cases -------------------------------------------------------------------------------------------------------------
def test_add_get_search_delete_cases(api: httpx.Client, admin: httpx.Client, bank: CaseBank) -> None:
    records = [case_record("Resize all PNG images in assets/ to 64x64."), case_record("Lint the shell scripts.", verified=False)]
    created = admin.post("/v1/cases", json=records)
    assert created.status_code == 201, created.text
    ids = created.json()["ids"]
    assert created.json()["added"] == 1 and created.json()["quarantined"] == 1
    again = admin.post("/v1/cases", json=records)  # idempotent: upsert by id
    assert again.status_code == 201 and again.json()["ids"] == ids

    good = api.get(f"/v1/cases/{ids[0]}").json()
    assert good["quarantined"] is False and good["case"]["task"] == "Resize all PNG images in assets/ to 64x64."
    assert admin.get(f"/v1/cases/{ids[1]}").json()["quarantined"] is True
    hits = api.get("/v1/cases", params={"query": "shrink png pictures", "k": 2, "strategy": "hybrid"}).json()["data"]
    assert hits[0]["id"] == ids[0] and hits[0]["score"] > 0
    listed = api.get("/v1/cases", params={"family": "api-test", "tag": "http"}).json()["data"]
    assert [h["id"] for h in listed] == [ids[0]]
    assert [h["id"] for h in admin.get("/v1/cases", params={"family": "api-test", "quarantined": True}).json()["data"]] == [ids[1]]

    assert admin.delete(f"/v1/cases/{ids[0]}").json() == {"id": ids[0], "object": "case.deleted", "deleted": True}
    assert api.get(f"/v1/cases/{ids[0]}").status_code == 404
    missing = admin.delete(f"/v1/cases/{ids[0]}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "case_not_found"


def test_a_bad_batch_is_rejected_whole_naming_item_and_field(admin: httpx.Client, bank: CaseBank) -> None:
    before = (bank.count(), bank.count(quarantined=True))
    good = case_record("Sort the lines of words.txt.")
    bad = case_record("Broken record.")
    bad["messages"][0]["role"] = "robot"
    response = admin.post("/v1/cases", json=[good, bad])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"] == "[1].messages[0].role" and error["message"].startswith("case 1: field 'messages[0].role'")
    assert (bank.count(), bank.count(quarantined=True)) == before  # nothing of the batch was written

    assert admin.post("/v1/cases", json=[]).status_code == 422
    assert admin.post("/v1/cases", json={"not": "a list"}).status_code == 422
    assert admin.post("/v1/cases", content=b"[{", headers={"Content-Type": "application/json"}).status_code == 422
    limi_bad = admin.post("/v1/cases", params={"format": "limi"}, json=[{"tools": []}])
    assert limi_bad.status_code == 422 and limi_bad.json()["error"]["param"] == "[0].messages"


def test_limi_records_are_quarantined_unless_curated(admin: httpx.Client) -> None:
    limi = {"messages": [{"role": "user", "content": "Print the disk usage of /tmp."},
                         {"role": "assistant", "content": "Done."}], "tools": [], "source_dataset": "limi-demo"}
    plain = admin.post("/v1/cases", params={"format": "limi"}, json=[limi]).json()
    assert plain["added"] == 0 and plain["quarantined"] == 1
    curated = admin.post("/v1/cases", params={"format": "limi", "curated": True}, json=[limi]).json()
    assert curated["added"] == 1
    case = admin.get(f"/v1/cases/{curated['ids'][0]}").json()["case"]
    assert case["outcome"]["verified_by"] == "seed" and case["metadata"] == {"source_dataset": "limi-demo"}


def test_query_parameters_are_validated(api: httpx.Client) -> None:
    for params, param in [({"k": 0}, "k"), ({"k": 51}, "k"), ({"strategy": "magic"}, "strategy"), ({"limit": 0}, "limit")]:
        response = api.get("/v1/cases", params=params)
        assert response.status_code == 422 and response.json()["error"]["param"] == param, (params, response.text)


def test_cors_is_off_by_default_and_on_when_configured(url: str, bank: CaseBank, tmp_path: Any) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in httpx.options(f"{url}/v1/chat/completions", headers=preflight).headers
    cors = settings().model_copy(update={"cors_origins": ["https://app.example"]})
    with serve(create_app(cors, agent_factory_for(EchoToolModel()), bank=bank, bank_settings=Settings(data_dir=tmp_path))) as base:
        response = httpx.options(f"{base}/v1/chat/completions", headers=preflight)
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "https://app.example"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBANK_USER_KEYS", "k1, k2")
    monkeypatch.setenv("CASEBANK_ADMIN_KEYS", '["a1"]')
    monkeypatch.setenv("CASEBANK_PROFILES", json.dumps({"mine": {"model": "my-lora", "strategy": "bm25", "k": 2}}))
    monkeypatch.setenv("CASEBANK_MAX_STEPS", "7")
    s = ServerSettings()
    assert s.user_keys == ["k1", "k2"] and s.admin_keys == ["a1"] and s.auth_enabled and s.max_steps == 7
    assert list(s.profiles) == ["mine"] and s.served_model(s.profiles["mine"]) == "my-lora"
    assert s.cors_origins == [] and ServerSettings(_env_file=None).llm_max_retries == 0
