"""The embedder through the bank (`CaseBank._prepare`, what every write runs: the bank's batches of 32 in
the cases' order) against raw sentence-transformers (`encode` over the whole list at batch size 32, which
sorts texts by length first) on the same task texts, alternating runs so load drift hits both alike."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench.synth import CaseStream
from benchmarks.bench.timing import rate


def measure(
    n_texts: int = 512, repeats: int = 3, seed: int = 0, work: Path | None = None
) -> dict[str, Any]:
    from casebank.bank import CaseBank, _serialised
    from casebank.config import Settings

    stream = CaseStream(seed)
    start = len(stream.base)
    cases = list(stream.cases(start, start + n_texts))
    texts = [c.task for c in cases]
    bank = CaseBank(
        Settings(data_dir=Path(tempfile.mkdtemp(prefix="embedder-", dir=work)))
    )
    model = bank.embedder.model
    rows = _serialised(cases)
    model.encode(
        texts[:64], batch_size=32, normalize_embeddings=True, show_progress_bar=False
    )  # warm up
    raw_s, bank_s = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        raw_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        bank._prepare("cases", rows, None)
        bank_s.append(time.perf_counter() - started)
    out = {
        "texts": n_texts,
        "repeats": repeats,
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "raw": rate(n_texts, min(raw_s)),
        "bank": rate(n_texts, min(bank_s)),
        "note": "best of the alternating repeats (the least disturbed by other load on the machine)",
    }
    out["onnx_int8"] = onnx_option()
    out["query_path"] = query_variants(model, stream, n_corpus=max(64, 2 * n_texts), n_queries=min(60, n_texts), repeats=repeats)
    return out


def _variants(model: Any) -> dict[str, Any]:
    """The embedder's model as it is (float32), with torch's dynamic int8 quantisation of its Linear layers,
    and in bfloat16 where the CPU has bf16 units: all three need nothing beyond the installed torch."""
    import copy

    import torch

    from casebank.llm.cpu import cpu_flags

    variants = {"float32": model}
    variants["int8_dynamic"] = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    if {"avx512_bf16", "amx_bf16"} & set(cpu_flags()):
        variants["bfloat16"] = copy.deepcopy(model).to(torch.bfloat16)
    return variants


def query_variants(model: Any, stream: CaseStream, n_corpus: int = 1000, n_queries: int = 60, repeats: int = 3) -> dict[str, Any]:
    """The query path: one text per call, as a dense query embeds it. Per variant, the latency of one query
    (best of alternating repeats), the agreement of its top 4 over a corpus embedded by the same variant with
    float32's exact top 4 (recall@4), and 4 concurrent queries batched into one call against 4 calls."""
    import numpy as np

    from benchmarks.bench.banks import exact_top, query_texts, recall
    from benchmarks.bench.timing import stopwatch, summary

    corpus = [c.task for c in stream.cases(0, n_corpus)]
    queries = query_texts(n_queries)

    def encode(m: Any, texts: list[str], batch: int = 32) -> np.ndarray:
        return np.asarray(m.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False,
                                   convert_to_numpy=False, convert_to_tensor=True).float().numpy(), dtype=np.float32)

    variants = _variants(model)
    truth = exact_top(encode(model, corpus), encode(model, queries), 4)
    out: dict[str, Any] = {}
    ms: dict[str, list[float]] = {name: [] for name in variants}
    batched: dict[str, list[float]] = {name: [] for name in variants}
    for name, m in variants.items():
        encode(m, queries[:4])  # warm up
        found = exact_top(encode(m, corpus), encode(m, queries), 4)
        out[name] = {"recall_at_4_vs_float32": recall(found, truth, 4)}
    for _ in range(repeats):  # alternating, so load drift hits every variant alike
        for name, m in variants.items():
            for q in queries:
                with stopwatch(ms[name]):
                    encode(m, [q])
            for start in range(0, len(queries) - 3, 4):
                with stopwatch(batched[name]):
                    encode(m, queries[start : start + 4], batch=4)
    for name in variants:
        one = summary(ms[name])
        four = summary(batched[name])
        out[name].update({"one_query_ms": one, "four_batched_ms": four,
                          "batched_speedup_per_query": round(4 * one["p50"] / four["p50"], 2)})
    base = out["float32"]["one_query_ms"]["p50"]
    for name in variants:
        out[name]["speedup_vs_float32"] = round(base / out[name]["one_query_ms"]["p50"], 2)
    out["verdict"] = verdict(out)
    return out


def onnx_option() -> dict[str, Any]:
    """An ONNX/int8 embedder needs optimum's ONNX exporter; sentence-transformers uses it only when installed."""
    if importlib.util.find_spec("optimum") is None:
        return {
            "skipped": "optimum (sentence-transformers' ONNX exporter) is not installed; onnxruntime alone cannot "
            "export the model, and installing optimum would re-resolve the shared venv's transformers"
        }
    return {
        "skipped": "optimum is installed but the ONNX/int8 comparison is not implemented in this bench yet"
    }


RECALL_SLACK = 0.01  # a variant may lose this much recall@4 against float32 and still be taken
SPEEDUP_BAR = 2.0  # ... if it is at least this much faster per query


def verdict(out: dict[str, Any]) -> str:
    """Which query-embedding variant the bank should use, and why, from the measured speedups and recalls."""
    base = out["float32"]["recall_at_4_vs_float32"]
    others = [n for n in out if n not in ("float32", "verdict") and isinstance(out[n], dict)]
    shown = "; ".join(f"{n} {out[n]['speedup_vs_float32']}x at recall@4 {out[n]['recall_at_4_vs_float32']}" for n in others)
    taken = [n for n in others if out[n]["recall_at_4_vs_float32"] >= base - RECALL_SLACK
             and out[n]["speedup_vs_float32"] >= SPEEDUP_BAR]
    if taken:
        best = max(taken, key=lambda n: out[n]["speedup_vs_float32"])
        return f"{shown}: take {best} (>= {SPEEDUP_BAR}x within {RECALL_SLACK} of float32's recall)"
    return (f"{shown} (float32 = 1.0): none is >= {SPEEDUP_BAR}x within {RECALL_SLACK} of float32's recall; "
            "the bank keeps float32")
