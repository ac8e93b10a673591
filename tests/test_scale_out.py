"""Past one process: two API replicas (`casebank serve`, real processes) on one Postgres (initdb + pg_ctl in
a temp dir), one Chroma server (`chroma run`) and a scripted OpenAI-compatible LLM, all on loopback.

A conversation moves between replicas with its history and its workspace, feedback through one replica is
retrievable through the other at once, 200 concurrent chats over both lose no usage-counter update and
leave one case for one task, and a replica killed mid-chat leaves the other serving."""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, make_case
from fastapi import FastAPI, Request

from casebank.bank import CaseBank
from casebank.config import Settings
from serving.testing import NUDGE, WORKSPACE_MARK

pytestmark = pytest.mark.timeout(600)

CASEBANK = str(Path(sys.executable).parent / "casebank")
SEEDS = [
    "Write the word apple into a text file and show it",
    "Count the lines of the log file that mention an error",
    "Rename the helper function and update every caller",
]
CHATS = 200
SLOW_S = 4.0  # the LLM's delay for "[slow]" messages: long enough to kill a replica mid-chat


# ---- the scripted LLM -----------------------------------------------------------------------------------
def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    import json

    return {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def scripted_llm() -> FastAPI:
    """An OpenAI-compatible server whose replies are a function of the request: "Write the word W into F"
    -> write_file(F, W); "Show F" -> read_file(F); then submit "turn N: <last observation> (nonce)", where
    N counts the conversation's user messages so far (its history) and the nonce makes every trajectory
    distinct (so equal tasks merge rather than collide on one id). "[slow]" waits SLOW_S before each reply."""
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "scripted", "object": "model", "max_model_len": 8192}]}

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> dict[str, Any]:
        body = await request.json()
        messages = body["messages"]
        users = [i for i, m in enumerate(messages) if m["role"] == "user"
                 and not str(m.get("content") or "").startswith("[Example") and m.get("content") != NUDGE]
        text = str(messages[users[-1]]["content"]).split(WORKSPACE_MARK)[0]
        after = messages[users[-1] + 1 :]
        observations = [str(m.get("content") or "") for m in after if m["role"] == "tool"]
        if "[slow]" in text:
            await asyncio.sleep(SLOW_S)
        write = re.search(r"Write the word (\S+) into (\S+?)\.?(?:\s|$)", text + " ")
        show = re.search(r"Show (\S+?)\.?(?:\s|$)", text + " ")
        forced = body.get("tool_choice")
        if not observations and write and not isinstance(forced, dict):
            call = _call("write_file", {"path": write[2], "content": write[1]})
        elif not observations and show and not isinstance(forced, dict):
            call = _call("read_file", {"path": show[1]})
        else:
            seen = observations[-1].splitlines()[0] if observations else "nothing"
            call = _call("submit", {"summary": f"turn {len(users)}: {seen} ({uuid.uuid4().hex[:8]})"})
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": "", "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }  # fmt: skip

    return app


@contextmanager
def scripted_llm_process(tmp: Path) -> Iterator[str]:
    """The scripted LLM in a process of its own, so this test's 200 concurrent clients do not starve it."""
    port, log = free_port(), tmp / "llm.log"
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "test_scale_out:scripted_llm", "--port", str(port),
                             "--log-level", "warning", "--backlog", "4096"], cwd=Path(__file__).parent,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)}, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, f"scripted LLM did not start: {log.read_text()[-2000:]}"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# ---- Postgres in a temp dir -----------------------------------------------------------------------------
def pg_bin(name: str) -> str:
    """initdb/pg_ctl: on PATH, or in Debian's versioned folder (not on PATH)."""
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None)
    assert found, f"{name} not found: install PostgreSQL (scripts/install-system-deps.sh does, from Debian's packages)"
    return str(found)


def as_postgres_user(cmd: list[str]) -> list[str]:
    """Postgres refuses to run as root (CI runs as root): there it runs as the `postgres` user that Debian's
    package creates (or `nobody`)."""
    if os.geteuid() != 0:
        return cmd
    user = "postgres" if _user_exists("postgres") else "nobody"
    return ["runuser", "-u", user, "--", *cmd]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="casebank-pg-"))  # not under pytest's tmp: its parents are closed to others
    data, port = root / "data", free_port()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres" if _user_exists("postgres") else "nobody")
        os.chown(root, user.pw_uid, user.pw_gid)
    subprocess.run(as_postgres_user([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "casebank", "--no-sync"]),
                   check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
    subprocess.run(as_postgres_user([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://casebank@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_postgres_user([pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# ---- the replicas ---------------------------------------------------------------------------------------
@dataclass
class Replica:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Cluster:
    a: Replica
    b: Replica
    bank: CaseBank  # the test's own view of the shared bank (a third client of the Chroma server)
    workspaces: Path


def start_replica(name: str, env: dict[str, str], tmp: Path) -> Replica:
    port, log = free_port(), tmp / f"replica-{name}.log"
    data_dir = tmp / f"data-{name}"  # nothing local is shared: each replica has its own data dir
    proc = subprocess.Popen([CASEBANK, "serve", "--port", str(port), "--log-level", "warning"],
                            env={**env, "CASEBANK_DATA_DIR": str(data_dir)}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            cwd=tmp)
    return Replica(name, f"http://127.0.0.1:{port}", proc, log)


def wait_ready(replica: Replica, deadline: float) -> None:
    last = "no answer yet"
    while True:
        try:
            response = httpx.get(f"{replica.url}/readyz", timeout=15)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:1000]}"
        except httpx.HTTPError as e:
            last = f"{type(e).__name__}: {e}"
        assert replica.proc.poll() is None, f"replica {replica.name} exited: {replica.log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, (f"replica {replica.name} not ready; last /readyz: {last}; "
                                             f"log: {replica.log.read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(postgres: str, chroma_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("scale-out")
    collection = f"scale{uuid.uuid4().hex[:8]}"
    bank = CaseBank(Settings(data_dir=tmp / "seed", chroma_url=chroma_server, collection=collection, checkpoint_url=postgres))
    bank.upsert([make_case(task) for task in SEEDS])
    with scripted_llm_process(tmp) as llm:
        workspaces = tmp / "shared-workspaces"  # the path both replicas mount
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CASEBANK_")},
            "HF_HUB_OFFLINE": "1",
            "CASEBANK_CHROMA_URL": chroma_server,
            "CASEBANK_COLLECTION": collection,
            "CASEBANK_CHECKPOINT_URL": postgres,
            "CASEBANK_WORKSPACE_ROOT": str(workspaces),
            "CASEBANK_LLM_URL": f"{llm}/v1",
            "CASEBANK_FIRST_TOKEN_TIMEOUT_S": "120",
            "CASEBANK_LLM_CONNECT_TIMEOUT_S": "30",  # 200 chats at once on a small CI machine: accepting may take a while
        }
        replicas = [start_replica(name, env, tmp) for name in ("a", "b")]
        try:
            deadline = time.monotonic() + 360  # a loaded CI machine: replicas load the embedder, reach Postgres and Chroma
            for replica in replicas:
                wait_ready(replica, deadline)
            yield Cluster(replicas[0], replicas[1], bank, workspaces)
        finally:
            for replica in replicas:
                if replica.proc.poll() is None:
                    replica.proc.send_signal(signal.SIGINT)
            for replica in replicas:
                try:
                    replica.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    replica.proc.kill()


def chat(replica: Replica, text: str, conversation: str | None = None, timeout: float = 120) -> dict[str, Any]:
    headers = {"X-Conversation-Id": conversation} if conversation else {}
    r = httpx.post(f"{replica.url}/v1/chat/completions", json={"model": "casebank", "messages": [{"role": "user", "content": text}]},
                   headers=headers, timeout=timeout)
    assert r.status_code == 200, r.text
    return r.json()


def answer(body: dict[str, Any]) -> str:
    return body["choices"][0]["message"]["content"]


# ---- the tests ------------------------------------------------------------------------------------------
def test_a_conversation_started_on_one_replica_continues_on_the_other(cluster: Cluster) -> None:
    conversation = f"conv-{uuid.uuid4().hex[:12]}"
    first = chat(cluster.a, "Write the word alpha into notes.txt", conversation)
    assert first["casebank"]["status"] == "unverified", first
    second = chat(cluster.b, "Show notes.txt", conversation)
    read = second["casebank"]["steps"][0]
    # B ran read_file in the workspace A wrote, and the model was given both user turns (the history).
    assert (read["tool"], read["ok"]) == ("read_file", True), second
    assert read["observation"].startswith("alpha"), read
    assert answer(second).startswith("turn 2: alpha"), answer(second)
    assert (cluster.workspaces / conversation / "notes.txt").read_text() == "alpha"
    # And back on A, which sees B's turn too.
    third = chat(cluster.a, "Show notes.txt please", conversation)
    assert answer(third).startswith("turn 3: alpha"), answer(third)


def test_feedback_through_one_replica_is_retrievable_through_the_other_at_once(cluster: Cluster) -> None:
    task = "Write the word zebra into stripes.txt"
    conversation = chat(cluster.b, task)["casebank"]["conversation_id"]
    r = httpx.post(f"{cluster.a.url}/v1/feedback", json={"conversation_id": conversation, "success": True}, timeout=60)
    assert r.status_code == 200, r.text
    case_id = r.json()["case_id"]
    assert r.json()["action"] == "added"
    for strategy in ("dense", "hybrid"):
        found = httpx.get(f"{cluster.b.url}/v1/cases", params={"query": task, "k": 1, "strategy": strategy}, timeout=30)
        assert found.status_code == 200, found.text
        assert [hit["id"] for hit in found.json()["data"]] == [case_id], (strategy, found.json())
    # And a chat on B retrieves it first.
    retrieved = chat(cluster.b, task)["casebank"]["retrieved"]
    assert retrieved and retrieved[0]["id"] == case_id


def counters(bank: CaseBank) -> dict[str, int]:
    return {case.id: case.usage.retrieved for case in bank.all()}


async def _many(calls: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        return await asyncio.gather(*(client.post(url + path, json=body) for url, path, body in calls))


def test_concurrent_chats_over_both_replicas_lose_no_counter_update_and_add_no_duplicate(cluster: Cluster) -> None:
    task = "Write the word mango into fruit.txt"
    before = counters(cluster.bank)
    replicas = [cluster.a.url, cluster.b.url]
    body = {"model": "casebank", "messages": [{"role": "user", "content": task}]}
    started = time.monotonic()
    chats = asyncio.run(_many([(replicas[i % 2], "/v1/chat/completions", body) for i in range(CHATS)]))
    chat_s = time.monotonic() - started
    assert [r.status_code for r in chats] == [200] * CHATS, next(r.text for r in chats if r.status_code != 200)
    results = [r.json()["casebank"] for r in chats]
    shown = Counter(hit["id"] for result in results for hit in result["retrieved"])
    assert sum(shown.values()) >= CHATS  # every chat was shown cases, so every chat updated counters
    after = counters(cluster.bank)
    assert {cid: after[cid] - before.get(cid, 0) for cid in shown} == dict(shown)  # no lost update

    # Every chat's answer verified good, through both replicas at once: one case for the one task.
    feedback = asyncio.run(_many([(replicas[(i + 1) % 2], "/v1/feedback", {"conversation_id": r["conversation_id"], "success": True})
                                  for i, r in enumerate(results)]))
    assert [r.status_code for r in feedback] == [200] * CHATS, next(r.text for r in feedback if r.status_code != 200)
    actions = Counter(r.json()["action"] for r in feedback)
    assert actions == {"added": 1, "merged": CHATS - 1}, actions
    kept = [case for case in cluster.bank.all() if case.task == task]
    assert len(kept) == 1, [c.id for c in kept]
    trajectories = {r["trajectory_id"] for r in results}
    assert len(trajectories) == CHATS
    assert set(kept[0].merged_from) | {kept[0].id} == trajectories
    assert not any(cluster.bank.get(t, quarantined=True) for t in trajectories)  # verified: out of the quarantine
    print(f"\n{CHATS} chats over 2 replicas in {chat_s:.1f}s ({CHATS / chat_s:.1f}/s); counters +{sum(shown.values())}")


def test_killing_one_replica_mid_chat_leaves_the_other_serving(cluster: Cluster) -> None:
    done_before = chat(cluster.a, "Write the word lime into before.txt")["casebank"]["conversation_id"]
    outcomes: dict[str, Any] = {}

    def run(key: str, replica: Replica, text: str, conversation: str) -> None:
        try:
            outcomes[key] = chat(replica, text, conversation, timeout=60)
        except (httpx.HTTPError, AssertionError) as e:
            outcomes[key] = e

    conversations = {f"{r.name}{i}": f"conv-kill-{r.name}{i}-{uuid.uuid4().hex[:6]}" for r in (cluster.a, cluster.b) for i in range(3)}
    threads = [threading.Thread(target=run, args=(key, cluster.a if key[0] == "a" else cluster.b,
                                                  f"[slow] Write the word w{key} into {key}.txt", conv))
               for key, conv in conversations.items()]
    for t in threads:
        t.start()
    time.sleep(SLOW_S / 2)  # every turn is waiting for its first model reply
    cluster.a.proc.send_signal(signal.SIGKILL)
    cluster.a.proc.wait(timeout=10)
    for t in threads:
        t.join(timeout=90)
    for key in conversations:
        if key.startswith("a"):
            assert isinstance(outcomes[key], httpx.HTTPError), outcomes[key]  # A died under them
        else:
            assert isinstance(outcomes[key], dict) and answer(outcomes[key]).startswith("turn 1: "), outcomes[key]
    # B goes on: a new chat, a conversation A had finished, and one A was in the middle of (its lock died with A).
    assert answer(chat(cluster.b, "Write the word pear into after.txt")).startswith("turn 1: ")
    assert answer(chat(cluster.b, "Show before.txt", done_before)).startswith("turn 2: lime")
    resumed = chat(cluster.b, "Show a0.txt", conversations["a0"], timeout=60)
    assert resumed["casebank"]["steps"][0]["tool"] == "read_file"


def test_a_replica_refuses_local_workspaces_when_conversations_are_in_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`casebank serve` itself (in this process: a real replica's start-up is the cluster fixture's)."""
    from typer.testing import CliRunner

    from cli import app

    for name in [n for n in os.environ if n.startswith("CASEBANK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASEBANK_CONFIG", str(tmp_path / "no-such.toml"))
    monkeypatch.setenv("CASEBANK_CHECKPOINT_URL", "postgresql://casebank:secret@127.0.0.1:1/postgres")

    def serve_cli() -> Any:
        result = CliRunner().invoke(app, ["serve", "--port", str(free_port())])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # no traceback
        return result

    refused = serve_cli()
    assert refused.exit_code == 2, refused.output
    assert "CASEBANK_WORKSPACE_ROOT" in refused.output and "CASEBANK_STICKY_ROUTING" in refused.output, refused.output
    # Told the routing is sticky, it goes on to connect to Postgres (nothing listens there: one line, no password).
    monkeypatch.setenv("CASEBANK_STICKY_ROUTING", "1")
    sticky = serve_cli()
    assert sticky.exit_code == 1, sticky.output
    assert "cannot use Postgres at postgresql://casebank:***@127.0.0.1:1/postgres" in " ".join(sticky.output.split()), sticky.output
    monkeypatch.setenv("CASEBANK_CHECKPOINT_URL", "mysql://x:secret@h/db")
    bad = serve_cli()
    assert bad.exit_code == 2 and "CASEBANK_CHECKPOINT_URL: must be a postgresql://" in bad.output, bad.output
    assert "secret" not in sticky.output + bad.output


def test_replicas_log_no_errors(cluster: Cluster) -> None:
    """Runs last: what B logged while A was killed under it and 200 chats went through."""
    text = cluster.b.log.read_text()
    assert "Traceback" not in text, text[-3000:]


def test_a_replica_waiting_for_the_setup_lock_does_not_stall_an_index_build(postgres: str) -> None:
    """Two replicas starting together: A holds the setup lock while PostgresSaver.setup() runs `CREATE INDEX
    CONCURRENTLY` on another connection of its pool; B waits for the lock. A waiter blocked inside
    `pg_advisory_lock` is an open statement the index build waits for, while B waits for A: both replicas
    hung (seen in CI). The waiter polls, so the index build finishes and then B gets the lock."""
    from agent.checkpoint import SETUP_LOCK, advisory_lock, postgres_pool

    table = f"setup_{uuid.uuid4().hex[:8]}"
    pool_a, pool_b = postgres_pool(postgres, 3, name="replica-a"), postgres_pool(postgres, 2, name="replica-b")
    acquired = threading.Event()

    def replica_b() -> None:
        with advisory_lock(pool_b, SETUP_LOCK):
            acquired.set()

    waiter = threading.Thread(target=replica_b)
    try:
        with advisory_lock(pool_a, SETUP_LOCK):
            waiter.start()
            time.sleep(1.0)  # B is waiting for the lock now
            assert not acquired.is_set(), "B took the lock A holds"
            with pool_a.connection() as conn:
                conn.execute("SET statement_timeout = '30s'")  # the old wait: cancelled here after 30 s, not hung
                conn.execute(f"CREATE TABLE {table} (thread_id text)")
                conn.execute(f"CREATE INDEX CONCURRENTLY {table}_idx ON {table}(thread_id)")
            assert not acquired.is_set()
        waiter.join(timeout=30)
        assert acquired.is_set(), "B never got the lock after A let go"
    finally:
        waiter.join(timeout=30)
        pool_a.close()
        pool_b.close()


def test_replicas_share_the_write_counter_in_postgres(postgres: str, chroma_server: str, tmp_path: Path) -> None:
    """Two banks on one Chroma server and one Postgres, with no data dir in common (two machines): the write
    counter is Postgres's row, so B's BM25 and random see A's write (B lists once), and B's own write is
    applied to B's views from the ids it touched, without listing."""
    collection = f"counter{uuid.uuid4().hex[:8]}"

    def replica(name: str) -> CaseBank:
        return CaseBank(Settings(data_dir=tmp_path / name, chroma_url=chroma_server, collection=collection,
                                 checkpoint_url=postgres))

    a, b = replica("a"), replica("b")
    a.upsert([make_case(t) for t in ("Add a --json output flag to the inventory tool", "Plot the learning curves")])
    assert b.retrieve("zebra stripes", 1, "bm25") == [] and b.retriever.listings == 1
    before = b.version()
    added = a.write_back(make_case("Write the word zebra into stripes.txt"))
    assert added.action == "added" and a.version() == b.version() == before + 1
    assert [hit.case.id for hit in b.retrieve("zebra stripes", 1, "bm25")] == [added.case_id]
    assert added.case_id in {hit.case.id for hit in b.retrieve("zebra", 10, "random")}
    assert b.retriever.listings == 2  # A's write is not B's: B listed again, once
    own = b.write_back(make_case("Count the zebra stripes in zoo.csv"))
    assert own.action == "added"
    assert {hit.case.id for hit in b.retrieve("zebra stripes", 5, "bm25")} == {added.case_id, own.case_id}
    assert b.retriever.listings == 2
    assert a.hnsw()["max_neighbors"] == a.settings.hnsw_m  # the collection records what it was built with
