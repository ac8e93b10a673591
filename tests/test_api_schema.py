"""Property-based tests of the whole API from its own OpenAPI schema (schemathesis 4): generated requests,
valid and invalid, sent over real HTTP to the app under uvicorn; no response may be a 5xx, and every
response must match what the schema documents (status, content type, body). Per operation through the
Python API, and once as a whole run of schemathesis's own CLI, every phase, as CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from casebank.bank import CaseBank
from casebank.config import Settings
from serving.app import create_app
from serving.config import ServerSettings
from serving.testing import EchoToolModel, agent_factory_for, closed_port, serve
from conftest import make_case

ADMIN = "schema-admin"
EXAMPLES = 15  # per operation and mode: about 21 x 15 requests in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    bank = CaseBank(Settings(data_dir=tmp_path_factory.mktemp("api-schema")))
    bank.embedder.embed(["warm up"])
    # Keys on, so the auth paths are part of the schema; the readiness probe meets a closed port at once.
    server = ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1", admin_keys=[ADMIN], max_body_bytes=100_000,
                            max_steps=4, ready_timeout_s=0.5)
    app = create_app(server, agent_factory_for(EchoToolModel()), bank=bank)
    with serve(app) as url:
        # /readyz probes the LLM backend's /models: point it at an OpenAI-compatible one that is up (this server).
        app.state.settings = server.model_copy(update={"llm_url": f"{url}/v1", "llm_api_key": ADMIN})
        yield url


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers={"Authorization": f"Bearer {ADMIN}"})


# Listed here (not collected from the schema) so each operation is its own test; the first test keeps
# the list in step with the schema. (schemathesis.pytest.from_fixture does not run under pytest 9.)
OPERATIONS = [
    "POST /v1/chat/completions", "POST /v1/feedback", "GET /v1/models", "GET /v1/models/{model}", "GET /v1/cases",
    "POST /v1/cases", "GET /v1/cases/{case_id}", "DELETE /v1/cases/{case_id}", "GET /healthz", "GET /readyz", "GET /metrics",
]


def test_every_operation_is_covered(api_schema: schemathesis.BaseSchema) -> None:
    assert {result.ok().label for result in api_schema.get_all_operations()} == set(OPERATIONS)


def make_a_turn(body: dict) -> None:
    """Most generated chat bodies are valid JSON but not a turn (an unknown model, no user text); nudge
    them into one, keeping the generated text, so whole agent turns run on fuzzed input."""
    body["model"] = "casebank"
    last = body["messages"][-1]
    last["role"] = "user"
    content = last.get("content")
    has_text = content.strip() if isinstance(content, str) else any(p.get("type") == "text" and (p.get("text") or "").strip() for p in content or [])
    if not has_text:
        last["content"] = f"hello {len(body['messages'])}"


# /healthz takes nothing (not even a key) that could be made invalid.
CASES = [(label, mode) for label in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if not (label == "GET /healthz" and mode == GenerationMode.NEGATIVE)]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
def test_no_server_errors_and_responses_match_the_schema(api_schema: schemathesis.BaseSchema, label: str, mode: GenerationMode) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case: schemathesis.Case) -> None:
        if label == "POST /v1/chat/completions" and mode == GenerationMode.POSITIVE:
            make_a_turn(case.body)
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS, timeout=60)

    check()


# ---- the whole API in one schemathesis run ---------------------------------------------------------------------
# Every check but positive_data_acceptance: JSON Schema cannot say all a case must be (its id is a hash of
# its content, a tool message needs the id of a call), so some schema-valid records are rightly refused.
RUN_CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
              "response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,"
              "allow_header_conformance,use_after_free,ensure_resource_availability,ignored_auth")
RUN_EXAMPLES = 15  # per operation and phase: about 1,000 cases, under a minute here


def test_a_whole_schemathesis_run_gets_no_server_error(tmp_path: Path) -> None:
    """`schemathesis run` over every operation and phase (coverage: boundary values and undeclared
    methods; fuzzing; stateful: chains of calls along the links it infers), with keys on. Every response
    is counted on the server (its metrics) and in schemathesis's HAR record; none may be a 5xx, and
    the bank the stateful phase wrote to and deleted from must reopen clean."""
    data_dir = tmp_path / "bank"
    bank = CaseBank(Settings(data_dir=data_dir))
    bank.upsert([make_case("Count the words in notes.txt.", "shell"), make_case("Fix the failing test.", "bugfix", success=False)])
    server = ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1", user_keys=["schema-user"], admin_keys=[ADMIN],
                            max_body_bytes=100_000, max_steps=4, ready_timeout_s=0.5)
    app = create_app(server, agent_factory_for(EchoToolModel()), bank=bank)
    har = tmp_path / "run.har"
    with serve(app) as url:
        app.state.settings = server.model_copy(update={"llm_url": f"{url}/v1", "llm_api_key": ADMIN})  # /readyz: up
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {ADMIN}",
             "--phases", "examples,coverage,fuzzing,stateful", "--checks", RUN_CHECKS, "--max-examples", str(RUN_EXAMPLES),
             "--seed", "1", "--workers", "1", "--continue-on-failure", "--report", "har", "--report-har-path", str(har)],
            capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"}, cwd=tmp_path)
        served = {(s.labels["route"], s.labels["status"]): s.value for metric in app.state.metrics.registry.collect()
                  for s in metric.samples if s.name == "casebank_http_requests_total"}
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    statuses = [entry["response"]["status"] for entry in json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]]
    server_errors = {key: n for key, n in served.items() if key[1].startswith("5")}
    print(f"schemathesis: {len(statuses)} cases, {sum(statuses.count(s) for s in set(statuses) if s >= 500)} 5xx; "
          f"the server answered {sum(served.values()):.0f} requests, {sum(server_errors.values()):.0f} 5xx")
    assert len(statuses) > 500 and not [s for s in statuses if s >= 500] and not server_errors
    reopened = CaseBank(Settings(data_dir=data_dir))
    for quarantined in (False, True):
        cases = reopened.all(quarantined=quarantined)
        assert len(cases) == reopened.count(quarantined=quarantined)
        assert all(reopened.get(c.id, quarantined=quarantined) == c for c in cases)
