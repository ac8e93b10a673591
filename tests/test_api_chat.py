"""The chat API over real HTTP: uvicorn on a loopback port, the real `openai` client and LangChain's
ChatOpenAI against it, the real agent graph, sandbox, Chroma bank and embedder; a deterministic
tool-using model (serving.testing.EchoToolModel) stands in for the LLM, except where the test is about
the LLM being down (there the real ChatOpenAI talks to a closed port)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_openai import ChatOpenAI

from agent.config import AgentConfig
from agent.model import make_chat_model
from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.models import Case, FunctionCall, Message, Outcome, ToolCall
from serving.app import create_app
from serving.config import ServerSettings, adapter_note, ft_profiles
from serving.testing import EchoToolModel, agent_factory_for, closed_port, serve

SEEDS = [
    ("Save a note with the shopping list in notes.txt.", "notes"),
    ("Fix the failing test in test_calc.py.", "bugfix"),
    ("Count the lines of every Python file in the project.", "shell"),
]


def solved(task: str, family: str) -> Case:
    call = ToolCall(id="call_1", function=FunctionCall(name="submit", arguments={"summary": "done"}))
    return Case(task=task, family=family, source="seed", outcome=Outcome(success=True, verified_by="seed"), messages=[
        Message(role="user", content=task), Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="call_1", name="submit", content="submitted")])


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> CaseBank:
    bank = CaseBank(Settings(data_dir=tmp_path_factory.mktemp("api-chat")))
    bank.upsert([solved(task, family) for task, family in SEEDS])
    bank.embedder.embed(["warm up"])  # load the model once, before any timing
    return bank


@pytest.fixture(scope="module")
def model() -> EchoToolModel:
    return EchoToolModel()


@pytest.fixture(scope="module")
def url(bank: CaseBank, model: EchoToolModel) -> Iterator[str]:
    settings = ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1", max_body_bytes=200_000, max_message_chars=5_000,
                              max_messages=50)
    with serve(create_app(settings, agent_factory_for(model), bank=bank)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def tools_of(ext: dict[str, Any]) -> list[str]:
    return [step["tool"] for step in ext["steps"]]


# ---- openai client ---------------------------------------------------------------------------------------------
def test_openai_client_chat_reports_tool_steps_and_retrieved_cases(client: openai.OpenAI, bank: CaseBank) -> None:
    raw = client.chat.completions.with_raw_response.create(model="casebank", messages=user("Save a note with my todo list in notes.txt."),
                                                           temperature=0.2, max_tokens=256, user="alice", seed=7)
    completion = raw.parse()
    ext = completion.casebank  # the extension object rides along as an extra field
    conversation_id = ext["conversation_id"]
    assert raw.headers["x-conversation-id"] == conversation_id

    assert completion.object == "chat.completion" and completion.model == "casebank"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == "You said: Save a note with my todo list in notes.txt.. Earlier: nothing. Files: turn-1.txt."
    assert tools_of(ext) == ["write_file", "list_files", "submit"]
    assert ext["steps"][0]["args"] == {"path": "turn-1.txt", "content": "Save a note with my todo list in notes.txt."}
    assert ext["steps"][0]["observation"] == "wrote 43 bytes to turn-1.txt" and ext["steps"][0]["ok"] is True
    assert ext["steps"][1]["observation"] == "turn-1.txt"
    seeded = {c.id for c in bank.all()}
    retrieved = [r["id"] for r in ext["retrieved"]]
    assert retrieved and set(retrieved) <= seeded
    assert retrieved[0] == solved(*SEEDS[0]).id  # the note-taking case ranks first
    assert ext["status"] == "unverified" and ext["outcome"]["verified_by"] == "none"
    assert ext["write_back"]["action"] == "quarantined" and ext["trajectory_id"] == ext["write_back"]["case_id"]
    assert completion.usage.total_tokens > 0 and ext["model_calls"] == 3


def test_streaming_sends_steps_as_they_happen_then_the_answer(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="casebank", messages=user("Stream this, please."), stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    events = [(c.model_extra or {}).get("casebank", {}).get("event") for c in chunks]
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant" and events[0] == "start"
    assert events[1] == "retrieved"
    steps = [c.casebank["step"] for c in chunks if (c.model_extra or {}).get("casebank", {}).get("event") == "step"]
    assert [s["tool"] for s in steps] == ["write_file", "list_files", "submit"]
    assert steps[1]["observation"] == "turn-1.txt"
    # Every step came before the first content delta; the deltas make up the answer.
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    last_step = max(i for i, e in enumerate(events) if e == "step")
    assert last_step < first_content
    assert "".join(contents) == "You said: Stream this, please.. Earlier: nothing. Files: turn-1.txt."
    done = next(c for c in chunks if (c.model_extra or {}).get("casebank", {}).get("event") == "done")
    assert done.choices[0].finish_reason == "stop" and done.casebank["status"] == "unverified"
    assert tools_of(done.casebank) == ["write_file", "list_files", "submit"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0  # include_usage


def test_conversation_continues_by_extension_field_or_header(client: openai.OpenAI, url: str) -> None:
    first = client.chat.completions.create(model="casebank-nocases", messages=user("remember: blue"))
    conversation_id = first.casebank["conversation_id"]
    assert first.casebank["retrieved"] == []  # the no-cases profile retrieves nothing
    second = client.chat.completions.create(model="casebank", messages=user("what colour?"),
                                            extra_body={"casebank": {"conversation_id": conversation_id}})
    assert second.casebank["conversation_id"] == conversation_id
    assert second.choices[0].message.content == "You said: what colour?. Earlier: remember: blue. Files: turn-1.txt, turn-2.txt."
    third = client.chat.completions.create(model="casebank", messages=user("and now?"), extra_headers={"X-Conversation-Id": conversation_id})
    assert "Earlier: remember: blue | what colour?." in third.choices[0].message.content
    # A client-chosen id starts a conversation of that name.
    mine = client.chat.completions.create(model="casebank", messages=user("hello"), extra_body={"casebank": {"conversation_id": "my-conv.1"}})
    assert mine.casebank["conversation_id"] == "my-conv.1"


def test_max_steps_is_capped_per_request(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="casebank", messages=user("only one step"), extra_body={"casebank": {"max_steps": 1}})
    ext = completion.casebank
    assert ext["status"] == "failed" and ext["model_calls"] == 1 and tools_of(ext) == ["write_file"]
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content.startswith("I could not finish this turn: step limit: 1 model calls")


# ---- LangChain -------------------------------------------------------------------------------------------------
def test_langchain_chat_openai_invoke_and_stream(url: str) -> None:
    llm = ChatOpenAI(base_url=f"{url}/v1", api_key="unused", model="casebank", max_retries=0, timeout=60,
                     default_headers={"X-Conversation-Id": "lc-conv-1"})
    reply = llm.invoke("Summarise the project for me.")
    assert isinstance(reply, AIMessage)
    assert reply.content == "You said: Summarise the project for me.. Earlier: nothing. Files: turn-1.txt."
    assert reply.response_metadata["finish_reason"] == "stop"
    streamed = "".join(str(chunk.content) for chunk in llm.stream("And in one line?"))
    assert streamed == "You said: And in one line?. Earlier: Summarise the project for me.. Files: turn-1.txt, turn-2.txt."


# ---- errors ----------------------------------------------------------------------------------------------------
def test_unknown_model_is_an_openai_style_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    error = info.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model" and "gpt-4o" in error["message"]


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "casebank"}, "messages"),
    ({"model": "casebank", "messages": []}, "messages"),
    ({"model": "casebank", "messages": [{"role": "user"}, {"role": "wizard", "content": "x"}]}, "messages[1].role"),
    ({"model": "casebank", "messages": [{"role": "system", "content": "be nice"}]}, "messages"),
    ({"model": "casebank", "messages": [{"role": "user", "content": "   "}]}, "messages[0].content"),
    ({"model": "casebank", "messages": [{"role": "user", "content": "x" * 5001}]}, "messages[0].content"),
    ({"model": "casebank", "messages": [{"role": "user", "content": "x"}] * 51}, "messages"),
    ({"model": "casebank", "messages": [{"role": "user", "content": "x"}], "temperature": 9}, "temperature"),
    ({"model": "casebank", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"model": "casebank", "messages": [{"role": "user", "content": "x"}], "casebank": {"conversation_id": "../etc"}},
     "casebank.conversation_id"),
])
def test_invalid_requests_are_422_naming_the_field(url: str, body: dict[str, Any], param: str) -> None:
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


def test_bad_header_conversation_id_and_oversized_body(url: str) -> None:
    ok_body = {"model": "casebank", "messages": user("x")}
    response = httpx.post(f"{url}/v1/chat/completions", json=ok_body, headers={"X-Conversation-Id": "a/b"}, timeout=30)
    assert response.status_code == 422 and response.json()["error"]["param"] == "X-Conversation-Id"
    response = httpx.post(f"{url}/v1/chat/completions", json={"model": "casebank", "messages": user("x" * 300_000)}, timeout=30)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: the cap applies while reading
        yield b'{"model": "casebank", "messages": [{"role": "user", "content": "'
        for _ in range(30):
            yield b"x" * 10_000
        yield b'"}]}'

    response = httpx.post(f"{url}/v1/chat/completions", content=chunked(), headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413


# ---- concurrency -------------------------------------------------------------------------------------------------
def test_twenty_simultaneous_conversations_each_keep_their_own_history(url: str) -> None:
    async def run() -> list[tuple[str, str]]:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120) as client:
            async def conversation(i: int) -> tuple[str, str]:
                first = await client.chat.completions.create(model="casebank", messages=user(f"my number is {i}"))
                cid = first.casebank["conversation_id"]
                second = await client.chat.completions.create(model="casebank", messages=user(f"what is my number? ({i})"),
                                                              extra_body={"casebank": {"conversation_id": cid}})
                return cid, second.choices[0].message.content

            return await asyncio.gather(*(conversation(i) for i in range(20)))

    started = time.perf_counter()
    results = asyncio.run(run())
    elapsed = time.perf_counter() - started
    assert len({cid for cid, _ in results}) == 20
    for i, (_, answer) in enumerate(results):
        assert answer == f"You said: what is my number? ({i}). Earlier: my number is {i}. Files: turn-1.txt, turn-2.txt."
    assert elapsed < 60


# ---- the LLM backend is down ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def down_url(bank: CaseBank, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real agent (ChatOpenAI) against a port nothing listens on."""
    settings = ServerSettings(llm_url=f"http://127.0.0.1:{closed_port()}/v1")
    other = Settings(data_dir=tmp_path_factory.mktemp("api-down"))
    with serve(create_app(settings, bank=bank, bank_settings=other)) as base:
        yield base


@pytest.mark.parametrize("stream", [False, True])
def test_llm_down_is_a_quick_clear_503(down_url: str, stream: bool) -> None:
    client = openai.OpenAI(base_url=f"{down_url}/v1", api_key="unused", max_retries=0, timeout=30)
    started = time.perf_counter()
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="casebank", messages=user("hello?"), stream=stream)
    elapsed = time.perf_counter() - started
    assert info.value.status_code == 503 and elapsed < 2.0
    error = info.value.body
    assert error["code"] == "llm_unavailable" and "language model backend" in error["message"] and "not recorded" in error["message"]
    assert info.value.response.headers["retry-after"] == "5"
    ready = httpx.get(f"{down_url}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["llm"]["ok"] is False and ready.json()["checks"]["bank"]["ok"] is True


class SwitchableModel:
    """The echo model while `up`; the real ChatOpenAI against a closed port while not."""

    def __init__(self, down_config: AgentConfig):
        self.up = True
        self.echo = EchoToolModel()
        self.real = make_chat_model(down_config)

    def invoke(self, messages: Sequence[BaseMessage], /, **overrides: Any) -> AIMessage:
        return self.echo.invoke(messages, **overrides) if self.up else self.real.invoke(messages, **overrides)


def test_a_turn_that_fails_on_the_backend_leaves_no_trace(bank: CaseBank, tmp_path: Path) -> None:
    port = closed_port()
    model = SwitchableModel(AgentConfig(llm_url=f"http://127.0.0.1:{port}/v1", max_retries=0, connect_timeout_s=1))
    settings = ServerSettings(llm_url=f"http://127.0.0.1:{port}/v1")
    factory = agent_factory_for(model)
    with serve(create_app(settings, factory, bank=bank, bank_settings=Settings(data_dir=tmp_path))) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=30)
        for conversation_id in ("flaky-new", "flaky-old"):
            if conversation_id == "flaky-old":
                model.up = True
                client.chat.completions.create(model="casebank", messages=user("first"), extra_body={"casebank": {"conversation_id": conversation_id}})
            model.up = False
            for stream in (False, True):
                with pytest.raises(openai.InternalServerError):
                    client.chat.completions.create(model="casebank", messages=user("lost"), stream=stream,
                                                   extra_body={"casebank": {"conversation_id": conversation_id}})
            model.up = True
            again = client.chat.completions.create(model="casebank", messages=user("retry"), extra_body={"casebank": {"conversation_id": conversation_id}})
            earlier = "first" if conversation_id == "flaky-old" else "nothing"
            assert again.choices[0].message.content.startswith(f"You said: retry. Earlier: {earlier}. Files:")
    # Nothing about the failed turns reached the bank either.
    assert not [c for c in bank.all(quarantined=True) if c.task == "lost"]


# ---- models, health, metrics -----------------------------------------------------------------------------------
def test_models_health_and_metrics(client: openai.OpenAI, url: str) -> None:
    models = client.models.list()
    # The fine-tuned profiles join when an adapter exists (DATA_DIR/adapters/casebank-ft or the bundled one).
    fine_tuned = list(ft_profiles()) if adapter_note()[0] else []
    assert [m.id for m in models.data] == ["casebank", "casebank-hybrid", "casebank-nocases", *fine_tuned]
    assert models.data[0].casebank["strategy"] == "dense" and models.data[2].casebank["k"] == 0
    assert client.models.retrieve("casebank-hybrid").casebank["strategy"] == "hybrid"
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    text = httpx.get(f"{url}/metrics").text
    assert 'casebank_http_requests_total{method="POST",route="/v1/chat/completions",status="200"}' in text
    assert 'casebank_http_requests_total{method="POST",route="/v1/chat/completions",status="422"}' in text
    assert "casebank_http_request_duration_seconds_bucket" in text and 'casebank_retrieval_duration_seconds_count{strategy="dense"}' in text
    assert 'casebank_episodes_total{model="casebank",outcome="unverified"}' in text
    assert 'casebank_bank_cases{collection="cases"} 3.0' in text


def test_readyz_when_the_backend_answers(bank: CaseBank, model: EchoToolModel, tmp_path: Path) -> None:
    app = create_app(ServerSettings(), agent_factory_for(model), bank=bank, bank_settings=Settings(data_dir=tmp_path))
    with serve(app) as base:
        # Point the probe at an OpenAI-compatible /models that is up: this very server.
        app.state.settings = app.state.settings.model_copy(update={"llm_url": f"{base}/v1", "llm_model": "casebank"})
        ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
