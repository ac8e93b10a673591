"""The API's chat throughput with 1 and 2 replicas, as docs/scale.md deploys them: one Postgres, one Chroma
server, a shared workspace root, and the scripted LLM (`casebank.llm.scripted`, which answers at once),
so what is measured is the API: retrieval, the sandboxed tools, checkpoints, usage counters, write-back.
Each chat is "Write the word W into F": three model calls and two sandboxed tool runs. The client spreads
chats over the replicas in turn, as a load balancer would."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench import services
from benchmarks.bench.timing import summary


async def _chats(
    urls: list[str], n: int, concurrency: int, tag: str
) -> tuple[float, list[float], list[int]]:
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    codes: list[int] = []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        body = {
            "model": "casebank",
            "messages": [
                {"role": "user", "content": f"Write the word {tag}{i} into note{i}.txt"}
            ],
        }
        async with gate:
            started = time.perf_counter()
            r = await client.post(
                f"{urls[i % len(urls)]}/v1/chat/completions", json=body
            )
            latencies.append((time.perf_counter() - started) * 1000)
            codes.append(r.status_code)

    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, i) for i in range(n)))
        return time.perf_counter() - started, latencies, codes


def run_chats(urls: list[str], n: int, concurrency: int, tag: str) -> dict[str, Any]:
    seconds, latencies, codes = asyncio.run(_chats(urls, n, concurrency, tag))
    ok = sum(1 for c in codes if c == 200)
    return {
        "replicas": len(urls),
        "chats": n,
        "ok": ok,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "chats_per_s": round(ok / seconds, 3),
        "latency_ms": summary(latencies),
    }


def measure(
    chats: int = 40, concurrency: int = 16, work: Path | None = None
) -> dict[str, Any]:
    from benchmarks.bench.synth import seed_cases
    from casebank.bank import CaseBank
    from casebank.config import Settings

    root = Path(tempfile.mkdtemp(prefix="api-", dir=work))
    with (
        services.postgres() as pg,
        services.chroma_server(root) as chroma,
        services.scripted_llm(root) as llm,
    ):
        collection = "bench-api"
        CaseBank(
            Settings(
                data_dir=root / "seed",
                chroma_url=chroma.url,
                collection=collection,
                checkpoint_url=pg,
            )
        ).upsert(seed_cases())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CASEBANK_")},
            "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "CASEBANK_CHROMA_URL": chroma.url, "CASEBANK_COLLECTION": collection, "CASEBANK_CHECKPOINT_URL": pg,
            "CASEBANK_WORKSPACE_ROOT": str(root / "workspaces"), "CASEBANK_LLM_URL": llm,
            "CASEBANK_FIRST_TOKEN_TIMEOUT_S": "120", "CASEBANK_LLM_CONNECT_TIMEOUT_S": "30",
            "CASEBANK_CONFIG": str(root / "no-casebank.toml"),
        }  # fmt: skip
        with services.replicas(2, env, root) as urls:
            warm = [
                run_chats([url], 2, 2, f"warm{i}x") for i, url in enumerate(urls)
            ]  # first chats load models and caches
            one = run_chats(urls[:1], chats, concurrency, "one")
            two = run_chats(urls, chats, concurrency, "two")
    return {
        "chats_per_run": chats,
        "concurrency": concurrency,
        "warm_ok": sum(w["ok"] for w in warm),
        "one_replica": one,
        "two_replicas": two,
        "cpus": os.cpu_count(),
    }
