"""`make bench` at a tiny size, server mode included: the real bank, embedder, Chroma server, Postgres, API
replicas and sandbox (only the LLM section is skipped, it needs a served model). The JSON must hold every
figure, each ratio must be the quotient of the two figures it names, and the PNG must be written."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REPO

from benchmarks.bench.report import at
from benchmarks.bench.synth import CaseStream, VectorCache
from lab.ablate.records import EpisodeRecord

pytestmark = pytest.mark.timeout(900)

SIZE = "50"
STRATEGIES = ("none", "random", "bm25", "dense", "hybrid", "mmr")


def latency(summary: dict[str, Any]) -> None:
    assert summary["n"] > 0 and 0 <= summary["p50"] <= summary["p95"] and math.isfinite(summary["p95"]), summary


def rate(figure: dict[str, Any]) -> None:
    assert figure["count"] > 0 and figure["seconds"] > 0 and figure["per_s"] == pytest.approx(figure["count"] / figure["seconds"], rel=1e-2), figure


def real_run_records(path: Path) -> Path:
    """A real-model run's records as `casebank ablate` writes them: 3 episodes, 12 model calls, 30 s in all."""
    records = [EpisodeRecord(config_hash="c0ffee", config_name="hybrid", task_id=f"t{i}", repeat=0, family="general", level=1,
                             split="dev", ood=False, status="success", seed=0, model_calls=4, wall_s=10.0, retrieval_ms=20.0)
               for i in range(3)]  # fmt: skip
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    return path


def test_the_bench_writes_every_figure_the_ratios_it_divides_and_the_plot(tmp_path: Path) -> None:
    out, bench_dir = tmp_path / "out", tmp_path / "bench"
    cmd = [sys.executable, "-m", "benchmarks.bench", "--sizes", SIZE, "--skip-llm", "--out", str(out), "--bench-dir", str(bench_dir),
           "--queries", "8", "--writebacks", "2", "--embed-sample", "20", "--embedder-texts", "32", "--agent-episodes", "1",
           "--api-chats", "4", "--api-concurrency", "2", "--episodes", str(real_run_records(tmp_path / "episodes.jsonl"))]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBANK_")} | {"HF_HUB_OFFLINE": "1", "CASEBANK_DATA_DIR": str(tmp_path)}
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "case bank" in run.stdout and "targets" in run.stdout  # the tables were printed
    results = json.loads((out / "bench.json").read_text())

    bank = results["bank"][SIZE]
    assert bank["size"] == 50 and bank["embedder_misses"] == 0  # query embedding really was excluded
    assert bank["hnsw"]["ef_search"] in [row["ef_search"] for row in bank["hnsw"]["sweep"]]
    swept = {(row["max_neighbors"], row["ef_construction"]) for row in bank["hnsw"]["sweep"]}
    assert swept == {(16, 100), (32, 200), (48, 400)}  # the default grid, each with every ef_search
    assert (bank["hnsw"]["max_neighbors"], bank["hnsw"]["ef_construction"]) in swept
    assert all(0 <= row["recall"] <= 1 for row in bank["hnsw"]["sweep"])
    latency(bank["query_embed_ms"])
    assert set(bank["modes"]) == {"embedded", "server"}
    for mode, figures in bank["modes"].items():
        assert figures["cases_in_bank"] >= 50, mode
        assert set(figures["query_ms"]) == set(STRATEGIES)
        for strategy in STRATEGIES:
            latency(figures["query_ms"][strategy])
        assert 0 <= figures["recall_at_k"] <= 1
        ingest = figures["ingest"]
        for key in ("with_embedding", "store_only_same_cases", "store_only_full"):
            rate(ingest[key])
        assert ingest["with_embedding"]["count"] == 20 and ingest["store_only_full"]["count"] == 50
        assert 0 < ingest["embedding_share"] < 1
        for key in ("write_ms", "then_hybrid_ms", "total_ms", "hybrid_again_ms"):
            latency(figures["writeback"][key])
        assert sum(figures["writeback"]["actions"].values()) == 2
        memory = figures["memory"]
        assert memory["disk_mib"] > 0 and memory.get("process_rss_mib", memory.get("server_rss_mib", 0)) > 0
    cache = next(bench_dir.glob("vectors-*/vectors.npy"))  # a rerun finds the embeddings here
    assert cache.stat().st_size > 52 * 384 * 4

    embedder = results["embedder"]
    rate(embedder["raw"])
    rate(embedder["bank"])
    assert "skipped" in embedder["onnx_int8"] or embedder["onnx_int8"]["cosine_min"] >= 0.99
    query_path = embedder["query_path"]
    assert query_path["float32"]["recall_at_4_vs_float32"] == 1.0 and query_path["float32"]["speedup_vs_float32"] == 1.0
    assert "int8_dynamic" in query_path and "verdict" in query_path
    for name, figures in query_path.items():
        if name != "verdict":
            latency(figures["one_query_ms"])
            assert 0 <= figures["recall_at_4_vs_float32"] <= 1
    agent = results["agent"]
    assert agent["episodes"] == 1 and agent["real_run"]["step_wall_ms"] == pytest.approx(2500.0)
    for label in ("retrieval", "render", "graph", "tools"):
        latency(agent["per_step_ms"][label])
    api = results["api"]
    for key, replicas in (("one_replica", 1), ("two_replicas", 2)):
        assert api[key]["replicas"] == replicas and api[key]["ok"] == api[key]["chats"] == 4 and api[key]["chats_per_s"] > 0
    assert results["llm"] == {"skipped": "--skip-llm"}

    ratios = results["ratios"]
    for name in ("embedder_bank_vs_raw", "api_two_vs_one_replica", f"ingest_store_vs_embed.server.{SIZE}",
                 f"server_vs_embedded_p50.hybrid.{SIZE}", f"dense_vs_query_embedding_p50.{SIZE}", "agent_overhead_share"):  # fmt: skip
        assert name in ratios, name
    for name, ratio in ratios.items():
        assert ratio["value"] == pytest.approx(at(results, ratio["numerator"]) / at(results, ratio["denominator"]), abs=1e-4), name
    assert agent["overhead_share"] == pytest.approx(ratios["agent_overhead_share"]["value"], abs=1e-4)
    targets = {t["name"]: t for t in results["targets"]}
    assert {f"recall@4 at {SIZE} (server)", f"hybrid p95 at {SIZE} (embedded), ms", "embedder through the bank / raw"} <= set(targets)
    for t in targets.values():
        assert t["value"] == pytest.approx(at(results, t["path"]), abs=1e-3)
        assert t["met"] == (t["value"] < t["target"] if t["op"] == "<" else t["value"] >= t["target"])

    png = (out / "latency.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_synthetic_cases_are_reproducible_distinct_and_follow_the_seeds() -> None:
    stream = CaseStream(seed=0)
    cases = list(stream.cases(0, 400))
    assert [c.id for c in cases[:78]] == [c.id for c in stream.base]  # the bank starts with the real seeds
    assert len({c.id for c in cases}) == len({c.task for c in cases}) == 400
    assert [c.id for c in CaseStream(seed=0).cases(300, 310)] == [c.id for c in cases[300:310]]  # any index, same case
    assert CaseStream(seed=1).case(300).id != cases[300].id
    variants = cases[78:]
    assert {c.family for c in variants} == {c.family for c in stream.base}
    assert len({c.stats.steps for c in variants}) >= 5 and all(c.outcome.verified_success for c in variants)


def test_the_vector_cache_keeps_what_a_stopped_run_embedded(tmp_path: Path) -> None:
    """100k embeddings take about half an hour here: a run stopped part way keeps its saved part, and the
    next run embeds only the rest (a deterministic stand-in embeds: this tests the bookkeeping)."""
    stream = CaseStream(seed=0)
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        if len(calls) == 5:
            raise KeyboardInterrupt  # the run is stopped in its fifth chunk
        return np.array([[float(len(t)), float(sum(map(ord, t)) % 997)] for t in texts], dtype=np.float32)

    cache = VectorCache(tmp_path, stream, "stand-in")
    cache.SAVE_EVERY = 2
    with pytest.raises(KeyboardInterrupt):
        cache.vectors(50, embed, chunk=8)
    assert np.load(cache.dir / "vectors.npy").shape == (32, 2)  # four chunks done, saved after the second and fourth
    calls.clear()
    again = VectorCache(tmp_path, stream, "stand-in")
    vectors = again.vectors(50, embed, chunk=8)
    assert sum(calls) == 18 and again.computed_now == 18
    texts = stream.texts(50)
    assert vectors.shape == (50, 2) and vectors[40][0] == len(texts[40]) and vectors[3][0] == len(texts[3])
