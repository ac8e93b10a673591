"""Several LLM endpoints behind one `--llm-url` (casebank.llm.endpoints), and vLLM's parallelism flags.

The pool's rules on their own (least busy first, turns on ties, a dead endpoint skipped until its retry
time, thread safety), then through the real API: chats over real HTTP to two scripted LLM servers and a
closed port, where every chat succeeds, both live servers get work and the dead one is taken out."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from casebank.llm.scripted import create_app as scripted_llm
from casebank.bank import CaseBank
from casebank.config import Settings
from casebank.llm.endpoints import EndpointPool, parse_urls
from casebank.llm.server import ServerConfig, ServerError, build_command
from serving.app import create_app
from serving.config import ServerSettings
from serving.testing import closed_port, serve

A, B, C = "http://10.0.0.1:8001/v1", "http://10.0.0.2:8001/v1", "http://10.0.0.3:8001/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_urls_are_parsed_from_a_comma_separated_list_and_bad_ones_named() -> None:
    assert parse_urls(f" {A}/ ,{B},{A}") == [A, B]
    with pytest.raises(ValueError, match=r"#2 'ftp://x'"):
        parse_urls(f"{A},ftp://x")
    with pytest.raises(ValidationError, match=r"LLM URL #2 'nonsense' is not an http"):
        ServerSettings(llm_url=f"{A}, nonsense")
    assert ServerSettings(llm_url=f"{A} , {B}").llm_urls == [A, B]


def test_leases_go_to_the_least_busy_endpoint_and_take_turns_on_ties() -> None:
    pool = EndpointPool([A, B, C])
    # One after the other (nothing held): each endpoint in turn.
    taken = []
    for _ in range(6):
        with pool.lease() as url:
            taken.append(url)
    assert len(set(taken[:3])) == len(set(taken[3:])) == 3
    # Held at once: three leases on three endpoints; with two held, the next goes to the idle one.
    with pool.lease() as first, pool.lease() as second, pool.lease() as third:
        assert {first, second, third} == {A, B, C}
    for _ in range(3):
        with pool.lease() as x, pool.lease() as y, pool.lease() as z:
            assert {x, y, z} == {A, B, C}
    assert [s.in_flight for s in pool.snapshot()] == [0, 0, 0]


def test_an_endpoint_marked_down_is_skipped_until_its_retry_time() -> None:
    clock = Clock()
    pool = EndpointPool([A, B], retry_after_s=10, clock=clock)
    pool.mark_down(A)
    assert pool.live() == [B]
    for _ in range(4):
        with pool.lease() as url:
            assert url == B
    clock.now += 10.5
    assert pool.live() == [A, B]
    assert A in {pool.pick(), pool.pick()}
    with pool.lease(exclude=[A]) as url:  # a caller that just saw A fail
        assert url == B


def test_with_every_endpoint_down_a_lease_still_tries_the_one_down_longest() -> None:
    clock = Clock()
    pool = EndpointPool([A, B], retry_after_s=10, clock=clock)
    pool.mark_down(B)
    clock.now += 1
    pool.mark_down(A)
    with pool.lease() as url:
        assert url == B
    pool.mark_up(B)
    assert pool.live() == [B]


def test_leases_from_many_threads_keep_exact_counts() -> None:
    pool = EndpointPool([A, B, C])
    barrier = threading.Barrier(16)

    def work() -> None:
        barrier.wait()
        for _ in range(300):
            with pool.lease():
                pass

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states = pool.snapshot()
    assert [s.in_flight for s in states] == [0, 0, 0]
    assert sum(s.leases for s in states) == 16 * 300
    assert min(s.leases for s in states) > 16 * 300 / 3 * 0.5  # spread, not piled on one


def test_check_probes_real_servers_and_takes_the_dead_one_out() -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with serve(scripted_llm()) as live:
        pool = EndpointPool([dead, f"{live}/v1"])
        problems = pool.check(timeout_s=2)
    assert problems[f"{live}/v1"] is None
    assert "ConnectError" in (problems[dead] or "")
    assert pool.live() == [f"{live}/v1"]


@pytest.fixture()
def bank(tmp_path: Path) -> CaseBank:
    return CaseBank(Settings(data_dir=tmp_path))


def test_the_api_spreads_chats_over_endpoints_and_fails_over_from_a_dead_one(bank: CaseBank) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with serve(scripted_llm(delay_s=0.2)) as one, serve(scripted_llm(delay_s=0.2)) as two:
        settings = ServerSettings(llm_url=f"{dead},{one}/v1,{two}/v1", first_token_timeout_s=60)
        app = create_app(settings, bank=bank)  # the real agent: ChatOpenAI over HTTP to each endpoint
        with serve(app) as base:

            async def chats(n: int) -> list[httpx.Response]:
                async with httpx.AsyncClient(timeout=120) as client:
                    return await asyncio.gather(*(client.post(f"{base}/v1/chat/completions", json={
                        "model": "casebank", "messages": [{"role": "user", "content": f"Write the word w{i} into f{i}.txt"}]})
                        for i in range(n)))

            responses = asyncio.run(chats(8))
            assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses if r.status_code != 200]
            for i, r in enumerate(responses):
                assert r.json()["choices"][0]["message"]["content"] == f"wrote w{i} into f{i}.txt"
            served = [httpx.get(f"{url}/stats").json()["requests"] for url in (one, two)]
            assert min(served) >= 6, served  # 8 chats x 3 model calls, spread over both
            service = app.state.service
            assert service.endpoints.is_down(dead)
            failures = {s.url: s.failures for s in service.endpoints.snapshot()}
            assert failures[f"{one}/v1"] == failures[f"{two}/v1"] == 0
            assert failures[dead] >= 1
            ready = httpx.get(f"{base}/readyz").json()
            assert ready["checks"]["llm"]["ok"] and dead in ready["checks"]["llm"]["detail"], ready
        # Every endpoint down: a plain 503 at once, not a hang and not a 500.
        with serve(create_app(ServerSettings(llm_url=f"{dead},http://127.0.0.1:{closed_port()}/v1"), bank=bank)) as base:
            r = httpx.post(f"{base}/v1/chat/completions", json={"model": "casebank", "messages": [{"role": "user", "content": "hi"}]},
                           timeout=60)
            assert r.status_code == 503 and r.json()["error"]["code"] == "llm_unavailable", r.text


def test_vllm_parallel_flags_pass_through_on_gpu_and_are_refused_on_cpu(tmp_path: Path) -> None:
    cfg = ServerConfig(model="m", tensor_parallel_size=4, pipeline_parallel_size=2, data_parallel_size=2,
                       distributed_executor_backend="ray")
    cmd = build_command(cfg, "gpu")
    tail = cmd[cmd.index("--tensor-parallel-size"):]
    assert tail == ["--tensor-parallel-size", "4", "--pipeline-parallel-size", "2", "--data-parallel-size", "2",
                    "--distributed-executor-backend", "ray"]
    assert "--tensor-parallel-size" not in build_command(ServerConfig(model="m"), "gpu")
    with pytest.raises(ServerError, match="need a GPU"):
        build_command(cfg, "cpu")
    from cli import app

    result = CliRunner().invoke(app, ["llm", "serve", "--model", str(tmp_path), "--device", "cpu", "-tp", "2"])
    assert result.exit_code == 2 and "need a GPU" in result.output, result.output


def test_casebank_run_uses_a_live_endpoint_of_several(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli import app

    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CASEBANK_CONFIG", str(tmp_path / "no-such.toml"))
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with serve(scripted_llm()) as live:
        result = CliRunner().invoke(app, ["run", "Write the word kiwi into k.txt", "--llm-url", f"{dead},{live}/v1", "-k", "0",
                                          "--no-write-back"])
    assert result.exit_code == 0, result.output
    assert "is down" in result.output and "wrote kiwi into k.txt" in result.output
    bad = CliRunner().invoke(app, ["run", "hi", "--llm-url", f"{live}/v1,ftp://x"])
    assert bad.exit_code == 2 and "LLM URL #2 'ftp://x'" in bad.output, bad.output
