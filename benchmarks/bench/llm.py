"""Decode speed of the served LLM at 1, 4 and 8 concurrent requests, next to the memory-bandwidth bound.

A decode step reads every weight once and yields one token per running request, so with W bytes of
weights and B bytes/s of memory bandwidth, c concurrent requests cannot exceed c * B / W tokens/s in all
(KV-cache reads only lower it). W = parameters (counted from the served model's safetensors headers) x
bytes per parameter of the served dtype (on CPU the machine's, casebank.llm.cpu; `--llm-dtype` to say otherwise);
B is measured in the same run with a numpy copy (bytes read + bytes written, all cores at once).
"""

from __future__ import annotations

import json
import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

DTYPE_BYTES = {
    "float32": 4,
    "float": 4,
    "bfloat16": 2,
    "float16": 2,
    "half": 2,
    "int8": 1,
    "fp8": 1,
}
SAFETENSORS_BYTES = {
    "F64": 8,
    "F32": 4,
    "BF16": 2,
    "F16": 2,
    "I8": 1,
    "U8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I32": 4,
    "I64": 8,
}


def memory_bandwidth(
    mib: int = 512, repeats: int = 5, threads: int | None = None
) -> dict[str, Any]:
    """Copy bandwidth in bytes/s: the best of `repeats` copies of `mib` MiB, split over `threads`
    (numpy releases the GIL while copying)."""
    threads = threads or os.cpu_count() or 1
    src = np.ones(mib * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    parts = np.array_split(np.arange(len(src)), threads)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts if len(p)]

    def copy(b: tuple[int, int]) -> None:
        np.copyto(dst[b[0] : b[1]], src[b[0] : b[1]])

    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(copy, bounds))
            best = min(best, time.perf_counter() - started)
    return {
        "bytes_per_s": 2 * src.nbytes / best,
        "gib_per_s": round(2 * src.nbytes / best / 2**30, 2),
        "threads": threads,
        "mib": mib,
    }


def safetensors_params(folder: Path) -> tuple[int, dict[str, int], int]:
    """Parameters in a model folder's *.safetensors (headers only), the count per stored dtype, and how many of
    them a decode step does not read: with both an input embedding and an `lm_head` stored, a token reads one
    row of the embedding but all of the head (tied or not, one of the two matrices is not read whole)."""
    total, by_dtype, sizes = 0, {}, {}
    for path in sorted(folder.glob("*.safetensors")):
        with path.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            n = int(np.prod(info["shape"])) if info["shape"] else 1
            total += n
            sizes[name] = n
            by_dtype[info["dtype"]] = by_dtype.get(info["dtype"], 0) + n
    embed = next((n for name, n in sizes.items() if name.endswith("embed_tokens.weight")), 0)
    head = next((n for name, n in sizes.items() if name.endswith("lm_head.weight")), 0)
    return total, by_dtype, embed if head else 0


def served_model(base_url: str) -> dict[str, Any]:
    """The first model the server lists: its name, its folder (vLLM reports it as `root`), max_model_len."""
    got = httpx.get(base_url.rstrip("/") + "/models", timeout=10).json()["data"][0]
    return {
        "name": got["id"],
        "root": got.get("root"),
        "max_model_len": got.get("max_model_len"),
    }


def weight_bytes(
    model: dict[str, Any], dtype: str | None, model_dir: Path | None
) -> dict[str, Any]:
    folder = model_dir or (Path(model["root"]) if model.get("root") else None)
    if folder is None or not folder.is_dir():
        raise RuntimeError(
            f"the served model's folder {folder} is not on this machine: pass --llm-model-dir"
        )
    params, by_dtype, unread = safetensors_params(folder)
    if not params:
        raise RuntimeError(f"no *.safetensors in {folder}: cannot count the weights")
    if dtype in (None, "auto"):
        try:
            import torch

            gpu = torch.cuda.is_available()
        except ImportError:
            gpu = False
        config = (
            json.loads((folder / "config.json").read_text())
            if (folder / "config.json").is_file()
            else {}
        )
        if gpu:
            dtype = str(config.get("dtype") or config.get("torch_dtype") or "float16")
        else:  # casebank.llm.server serves the CPU's dtype (casebank.llm.cpu) unless told otherwise
            from casebank.llm.cpu import cpu_dtype

            dtype = cpu_dtype()
    per = DTYPE_BYTES[dtype]
    return {
        "folder": str(folder),
        "parameters": params,
        "stored_dtypes": by_dtype,
        "served_dtype": dtype,
        "parameters_read_per_token": params - unread,
        "bytes_per_token": (params - unread) * per,
    }


def measure(
    base_url: str,
    concurrency: tuple[int, ...] = (1, 4, 8),
    max_tokens: int = 128,
    dtype: str | None = None,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    from openai import OpenAI

    from benchmarks.vllm_throughput import one_request, run_batch

    model = served_model(base_url)
    weights = weight_bytes(model, dtype, model_dir)
    bandwidth = memory_bandwidth()
    client = OpenAI(
        base_url=base_url,
        api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"),
        timeout=1800,
    )
    one_request(client, model["name"], 8, "warm-up")
    single_bound = bandwidth["bytes_per_s"] / weights["bytes_per_token"]
    batches = []
    for c in concurrency:
        batch = run_batch(
            client,
            model["name"],
            c,
            max_tokens,
            "Write a Python module with a small LRU cache class, type hints and docstrings.",
        )
        bound = c * single_bound
        batches.append(
            {
                **batch,
                "bound_tok_s": round(bound, 2),
                "ratio_to_bound": round(batch["aggregate_tok_s"] / bound, 4),
            }
        )
    return {
        "url": base_url,
        "model": model,
        "weights": weights,
        "bandwidth": bandwidth,
        "bound_tok_s_per_request": round(single_bound, 2),
        "batches": batches,
    }
