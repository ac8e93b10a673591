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
