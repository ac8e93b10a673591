"""The reliability suite, with real processes: `casebank serve` killed with SIGKILL during a stream of
write-backs (embedded bank), the Chroma server killed under a running API (server mode), and the
scripted LLM server killed in the middle of an episode. What is acknowledged (2xx) must survive; what
failed must leave nothing behind; and the API must recover without a restart when its backends return."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.config import DEFAULT_MODEL
from conftest import REPO, free_port, make_case

ADMIN, USER = "admin-reliability-key", "user-reliability-key"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
BIN = Path(sys.executable).parent
# Distinct words, so that no two imported tasks are near-duplicates and each one's own text finds it top-1.
WORDS = ("apricot basalt cobalt dolphin ember falcon glacier harbor indigo juniper kelp lantern meteor nebula orchid "
         "pylon quartz raven saffron tundra umber violet walnut xenon yarrow zephyr anchor bramble cinder drizzle "
         "fjord garnet hazel iris jasper kiln lichen marble nutmeg opal").split()
FEEDBACK_TASKS = ("Write the word pelican into birds.txt.", "Write the word sonata into music.md.",
                  "Write the word tornado into weather.log.")
ACKS_BEFORE_KILL = 20


def task_text(i: int) -> str:
    a, b = WORDS[i % len(WORDS)], WORDS[(7 * i + 3) % len(WORDS)]
    return f"Tally the {a} shipments in {b}.csv by warehouse and write the totals to {a}_{b}.json"


# ---- processes ------------------------------------------------------------------------------------------------
@contextmanager
def process(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A child process whose output goes to `log`; killed (SIGKILL) and reaped whatever happens."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> float:
    """Seconds until `url` answers 200."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, headers=AUTH, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"{proc.args[:3]} exited {proc.returncode}: {log.read_text()[-3000:]}"
        assert time.monotonic() - started < timeout_s, f"{url} not up in {timeout_s} s: {log.read_text()[-3000:]}"
        time.sleep(0.2)


def api_env(data_dir: Path, chroma_url: str | None = None) -> dict[str, str]:
    # Only this test's CASEBANK_* settings: an unrelated key variable in the caller's environment is a start-up error.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CASEBANK_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CASEBANK_DATA_DIR=str(data_dir),
               CASEBANK_CONFIG=str(data_dir / "none.toml"), CASEBANK_ADMIN_KEYS=ADMIN, CASEBANK_USER_KEYS=USER)
    if chroma_url:
        env["CASEBANK_CHROMA_URL"] = chroma_url
    return env


@contextmanager
def api(data_dir: Path, llm_port: int, log: Path, chroma_url: str | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`casebank serve` on a free port over the scripted LLM; yields its base URL once the embedder is loaded."""
    casebank = shutil.which("casebank", path=str(BIN))
    assert casebank, "the casebank console script is installed with the project"
    port = free_port()
    argv = [casebank, "serve", "--port", str(port), "--llm-url", f"http://127.0.0.1:{llm_port}/v1", "--log-level", "warning"]
    with process(argv, log, api_env(data_dir, chroma_url)) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz", proc, log)  # uvicorn answers after the lifespan's warm-up
        yield url, proc


@contextmanager
def scripted_llm(port: int, log: Path, delay_s: float = 0.0) -> Iterator[subprocess.Popen[bytes]]:
    argv = [sys.executable, "-m", "casebank.llm.scripted", "--port", str(port), "--model", DEFAULT_MODEL,
            "--delay", str(delay_s)]
    with process(argv, log) as proc:
        wait_until_up(f"http://127.0.0.1:{port}/v1/models", proc, log)
        yield proc


@contextmanager
def chroma_server(path: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    chroma = shutil.which("chroma", path=str(BIN)) or shutil.which("chroma")
    assert chroma, "the chroma CLI ships with chromadb"
    with process([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)], log) as proc:
        wait_until_up(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, log)
        yield proc


# ---- the write stream ------------------------------------------------------------------------------------------
@dataclass
class Stream:
    """A client thread sending write-backs until the server stops answering: mostly one-case imports,
    with a feedback write-back (a real chat, then `success: true`) now and then."""

    url: str
    feedback_at: tuple[int, ...] = ()
    failures_to_stop: int = 1
    acked: dict[str, str] = field(default_factory=dict)  # case id -> the task it was sent with
    feedback_acked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> Stream:
        self.thread = threading.Thread(target=self.run, name="write-stream", daemon=True)
        self.thread.start()
        return self

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=60) as client:
            for i in range(200):
                try:
                    ok = self.feedback(client, FEEDBACK_TASKS[self.feedback_at.index(i)]) if i in self.feedback_at \
                        else self.import_one(client, i)
                except httpx.HTTPError as e:  # the server died under this request: not acknowledged
                    self.failed.append(f"{type(e).__name__}: {e}")
                    ok = False
                if not ok and len(self.failed) >= self.failures_to_stop:
                    return

    def import_one(self, client: httpx.Client, i: int) -> bool:
        case = make_case(task_text(i), family="reliability", source="import")
        r = client.post("/v1/cases", json=[case.model_dump(mode="json")])
        if r.status_code != 201:
            self.failed.append(f"POST /v1/cases {r.status_code}: {r.text[:300]}")
            return False
        assert r.json()["ids"] == [case.id] and r.json()["added"] == 1
        self.acked[case.id] = case.task
        return True

    def feedback(self, client: httpx.Client, task: str) -> bool:
        chat = client.post("/v1/chat/completions", json={"model": "casebank", "messages": [{"role": "user", "content": task}]})
        if chat.status_code != 200:
            self.failed.append(f"chat {chat.status_code}: {chat.text[:300]}")
            return False
        ext = chat.json()["casebank"]
        assert ext["status"] == "unverified" and ext["write_back"]["action"] == "quarantined", ext
        r = client.post("/v1/feedback", json={"conversation_id": ext["conversation_id"], "success": True,
                                              "trajectory_id": ext["trajectory_id"]})
        if r.status_code != 200:
            self.failed.append(f"feedback {r.status_code}: {r.text[:300]}")
            return False
        assert r.json()["action"] == "added", r.json()  # distinct tasks: no merge, so the acked id is the case's
        self.acked[r.json()["case_id"]] = task
        self.feedback_acked.append(r.json()["case_id"])
        return True

    def wait_for_acks(self, n: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < n:
            assert self.thread is not None and self.thread.is_alive(), f"the stream stopped early: {self.failed}"
            assert time.monotonic() < deadline, f"only {len(self.acked)} acks in {timeout_s} s"
            time.sleep(0.01)

    def join(self, timeout_s: float = 60) -> None:
        assert self.thread is not None
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the write stream hung after the kill"


def check_bank(url: str, acked: dict[str, str]) -> tuple[int, int]:
    """Every acknowledged case is in the bank and its own task text retrieves it first; the bank's counts
    agree with its listings. Returns (present, bank count)."""
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        present = 0
        for case_id, task in acked.items():
            got = client.get(f"/v1/cases/{case_id}")
            assert got.status_code == 200, f"acknowledged case {case_id} ({task!r}) is gone: {got.text[:300]}"
            assert got.json()["quarantined"] is False and got.json()["case"]["task"] == task
            present += 1
            hits = client.get("/v1/cases", params={"query": task, "k": 1}).json()["data"]
            assert [h["id"] for h in hits] == [case_id], f"{task!r} retrieves {hits[:1]}, not {case_id}"
        ready = client.get("/readyz").json()["checks"]["bank"]
        assert ready["ok"], ready
        listed = len(client.get("/v1/cases", params={"limit": 1000}).json()["data"])
        quarantined = len(client.get("/v1/cases", params={"limit": 1000, "quarantined": True}).json()["data"])
        assert ready["detail"] == f"{listed} cases, {quarantined} quarantined", (ready, listed, quarantined)
        assert listed >= present
    return present, listed


# ---- the tests ---------------------------------------------------------------------------------------------------
def test_acknowledged_writes_survive_kill_9_of_the_api(tmp_path: Path) -> None:
    """SIGKILL `casebank serve` (embedded bank) after ~20 acknowledged write-backs, imports and feedback
    mixed: after a restart on the same data dir every acknowledged case is there and retrievable, and the
    bank's count matches its listing."""
    data, llm_port = tmp_path / "data", free_port()
    with scripted_llm(llm_port, tmp_path / "llm.log"):
        with api(data, llm_port, tmp_path / "api-1.log") as (url, proc):
            stream = Stream(url, feedback_at=(2, 9, 16)).start()
            stream.wait_for_acks(ACKS_BEFORE_KILL)
            proc.send_signal(signal.SIGKILL)
            acked_at_kill = len(stream.acked)
            stream.join()
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert stream.failed and len(stream.acked) in (acked_at_kill, acked_at_kill + 1)  # at most the reply in transit
        assert len(stream.feedback_acked) == len(FEEDBACK_TASKS)
        with api(data, llm_port, tmp_path / "api-2.log") as (url, _):
            present, listed = check_bank(url, stream.acked)
    print(f"\nkill -9 API (embedded): acknowledged {len(stream.acked)} ({len(stream.feedback_acked)} by feedback), "
          f"present {present}, bank {listed}; the stream stopped on: {stream.failed[0][:120]}")
    assert present == len(stream.acked)


def test_acknowledged_writes_survive_kill_9_of_the_chroma_server(tmp_path: Path) -> None:
    """Server mode: SIGKILL the Chroma server under a running API during a stream of imports. Writes then
    fail at once with 503 `bank_unavailable` (no hang, not a 500); once Chroma is back on the same path the same API process serves
    every acknowledged case again, without a restart."""
    data, chroma_path, chroma_port, llm_port = tmp_path / "data", tmp_path / "chroma", free_port(), free_port()
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    with scripted_llm(llm_port, tmp_path / "llm.log"), chroma_server(chroma_path, chroma_port, tmp_path / "chroma-1.log") as chroma:
        with api(data, llm_port, tmp_path / "api.log", chroma_url) as (url, _):
            stream = Stream(url, failures_to_stop=3).start()
            stream.wait_for_acks(ACKS_BEFORE_KILL)
            chroma.send_signal(signal.SIGKILL)
            chroma.wait(timeout=30)
            stream.join()
            assert len(stream.failed) == 3
            assert all(f.startswith("POST /v1/cases 503") and "bank_unavailable" in f for f in stream.failed), stream.failed
            with chroma_server(chroma_path, chroma_port, tmp_path / "chroma-2.log"):
                present, listed = check_bank(url, stream.acked)
                again = Stream(url).start()  # and writes work again
                again.wait_for_acks(1)
    print(f"\nkill -9 Chroma server: acknowledged {len(stream.acked)}, present {present}, bank {listed}; "
          f"writes while it was down: {stream.failed[0][:120]}")
    assert present == len(stream.acked)


def test_llm_killed_mid_episode_fails_cleanly_and_recovers(tmp_path: Path) -> None:
    """SIGKILL the LLM server while two chats (one streamed, one not) wait on their second model call:
    both end promptly with a clear error, nothing of either turn is written, and once the LLM is back on
    the same port a new chat works through the same API process."""
    data, llm_port = tmp_path / "data", free_port()
    with scripted_llm(llm_port, tmp_path / "llm-1.log", delay_s=2) as llm:
        with api(data, llm_port, tmp_path / "api.log") as (url, _):
            client = httpx.Client(base_url=url, headers=AUTH, timeout=120)
            before = bank_counts(client)
            results: dict[str, Any] = {}
            chats = [threading.Thread(target=chat, args=(client, f"killed-{mode}", mode == "stream", results)) for mode in ("json", "stream")]
            for t in chats:
                t.start()
            deadline = time.monotonic() + 60
            while httpx.get(f"http://127.0.0.1:{llm_port}/stats").json()["requests"] < 4:  # both on their second call
                assert time.monotonic() < deadline and all(t.is_alive() for t in chats), results
                time.sleep(0.05)
            llm.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            for t in chats:
                t.join(timeout=60)
            assert not any(t.is_alive() for t in chats), "a chat hung after the LLM died"
            took = {name: round(r["at"] - killed, 2) for name, r in results.items()}

            plain = results["killed-json"]
            assert plain["status"] == 503 and plain["body"]["error"]["code"] == "llm_unavailable", plain
            streamed = results["killed-stream"]
            assert streamed["status"] == 200 and streamed["events"][-1] == "[DONE]", streamed
            assert streamed["events"][-2]["error"]["code"] == "llm_unavailable", streamed["events"][-3:]
            assert not any(e != "[DONE]" and e.get("casebank", {}).get("event") == "done" for e in streamed["events"])
            assert max(took.values()) < 10, took
            assert bank_counts(client) == before  # nothing of either turn: no case, no quarantined trajectory
            for conversation in ("killed-json", "killed-stream"):  # and no recorded turn to give feedback on
                r = client.post("/v1/feedback", json={"conversation_id": conversation, "success": True})
                assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found", r.text

            with scripted_llm(llm_port, tmp_path / "llm-2.log"):
                again = client.post("/v1/chat/completions", json={"model": "casebank", "messages": [
                    {"role": "user", "content": "Write the word phoenix into again.txt."}]})
                assert again.status_code == 200, again.text
                ext = again.json()["casebank"]
                assert [s["tool"] for s in ext["steps"]] == ["write_file", "run", "submit"] and ext["status"] == "unverified"
                assert bank_counts(client) == (before[0], before[1] + 1)  # the new turn's trajectory, quarantined
            client.close()
    print(f"\nLLM killed mid-episode: time from kill to error {took} s; counts before/after {before}")


def chat(client: httpx.Client, conversation: str, stream: bool, results: dict[str, Any]) -> None:
    body = {"model": "casebank", "stream": stream, "casebank": {"conversation_id": conversation},
            "messages": [{"role": "user", "content": f"Write the word {conversation.replace('-', '')} into out.txt."}]}
    try:
        if not stream:
            r = client.post("/v1/chat/completions", json=body)
            results[conversation] = {"status": r.status_code, "body": r.json(), "at": time.monotonic()}
            return
        events: list[Any] = []
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    data = line.removeprefix("data: ")
                    events.append(data if data == "[DONE]" else httpx.Response(200, content=data).json())
        results[conversation] = {"status": r.status_code, "events": events, "at": time.monotonic()}
    except httpx.HTTPError as e:
        results[conversation] = {"status": None, "error": repr(e), "at": time.monotonic()}


def bank_counts(client: httpx.Client) -> tuple[int, int]:
    detail = client.get("/readyz").json()["checks"]["bank"]["detail"]  # "N cases, M quarantined"
    cases, quarantined = detail.split(" cases, ")
    return int(cases), int(quarantined.split()[0])


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy set in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
