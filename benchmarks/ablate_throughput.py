"""Ablation throughput: the same grid run sequentially and with --concurrency N, side by side in one run,
against the same LLM server; prints episodes per minute, the ratio, and vLLM's prefix-cache hit rate
over each half (from its /metrics).

    python benchmarks/ablate_throughput.py --llm-url http://127.0.0.1:8001/v1 --tasks 8 --concurrency 4

Each half gets a fresh run dir, so nothing is skipped; the tasks are the first N level-1 tasks of the
held-out ladder (cheap, and the same for both halves). Both halves send the same prompts (temperature 0), so
without a reset the second half finds the first half's prompts in vLLM's prefix cache and looks faster than
it is: each half starts with `POST /reset_prefix_cache`, which vLLM offers when started with
VLLM_SERVER_DEV_MODE=1 (`VLLM_SERVER_DEV_MODE=1 casebank llm serve`). The result records whether it took.
Each half also records where the server's time went (vLLM's prefill, decode and queue seconds summed over
requests, and the uncached prompt tokens) and every episode's wall time, so a ratio can be explained.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx

import seeds
from casebank.config import Settings
from casebank.llm.endpoints import DEFAULT_LLM_URL
from casebank.tasks import load_tasks
from lab.ablate.grid import AblationGrid
from lab.ablate.records import read_records
from lab.ablate.runner import SERVER_FILE, AblationRun, local_servers, machine_record, server_root


def reset_prefix_cache(llm_url: str) -> bool:
    """Empty vLLM's prefix cache; False when the server does not offer it (not in dev mode)."""
    try:
        return httpx.post(f"{server_root(llm_url)}/reset_prefix_cache", timeout=30).status_code == 200
    except httpx.HTTPError:
        return False


def half(grid: AblationGrid, tasks: list, llm_url: str, concurrency: int, root: Path) -> dict:
    run_dir = root / f"c{concurrency}"
    reset = reset_prefix_cache(llm_url)
    if not reset:
        print("warning: vLLM's prefix cache was not reset (start it with VLLM_SERVER_DEV_MODE=1); "
              "the second half will find the first half's prompts cached")
    run = AblationRun(grid=grid, tasks=tasks, run_dir=run_dir, llm_url=llm_url, seed_file=seeds.default_seed_file(), concurrency=concurrency)
    t0 = time.perf_counter()
    run.run()
    wall = time.perf_counter() - t0
    records = read_records(run_dir)
    server = json.loads((run_dir / SERVER_FILE).read_text().splitlines()[-1])
    queries, hits = server.get("prefix_cache_queries", 0.0), server.get("prefix_cache_hits", 0.0)
    return {
        "concurrency": concurrency,
        "prefix_cache_reset": reset,
        "episodes": len(records),
        "errors": sum(r.status == "error" for r in records),
        "successes": sum(r.status == "success" for r in records),
        "wall_s": round(wall, 1),
        "episodes_per_min": round(60 * len(records) / wall, 3),
        "prefix_cache_hit_rate": round(hits / queries, 3) if queries else None,
        "generation_tokens": server.get("generation_tokens"),
        "prompt_tokens": server.get("prompt_tokens"),
        "uncached_prompt_tokens": (queries - hits) if queries else None,
        # vLLM's per-request seconds, summed over the half's requests: prefill is compute-bound on a CPU and
        # gains little from batching, decode gains most, and the rest of an episode (tools, checker) not at all
        **{key: round(server[key], 1) for key in ("requests", "request_queue_s", "request_prefill_s", "request_decode_s", "request_latency_s") if key in server},
        "episode_wall_s": sorted(round(r.wall_s, 1) for r in records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm-url", default=DEFAULT_LLM_URL)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--model", default=None, help="the served model the config uses (default: the first the server lists)")
    parser.add_argument("--strategy", default="dense", help="retrieval of the one config (dense: the default in-context config)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ablate_throughput.json"))
    args = parser.parse_args()
    tasks = sorted((t for t in load_tasks(seeds.EVAL_DIR) if t.level == 1), key=lambda t: t.id)[: args.tasks]
    model = args.model or httpx.get(f"{args.llm_url}/models", timeout=30).json()["data"][0]["id"]
    grid = AblationGrid(configs=[{"name": args.strategy, "model": model, "strategy": args.strategy, "k": 0 if args.strategy == "none" else 4}])
    with tempfile.TemporaryDirectory() as tmp:
        seq = half(grid, tasks, args.llm_url, 1, Path(tmp))
        par = half(grid, tasks, args.llm_url, args.concurrency, Path(tmp))
    ratio = par["episodes_per_min"] / seq["episodes_per_min"] if seq["episodes_per_min"] else None
    config = grid.expand()[0]
    result = {"config": {"name": config.name, "model": config.model, "hash": config.content_hash, "harness": config.harness.model_dump(mode="json")},
              "machine": machine_record(), "servers": local_servers(args.llm_url, Settings().data_dir),
              "tasks": [t.id for t in tasks], "sequential": seq, "concurrent": par, "throughput_ratio": round(ratio, 2) if ratio else None}
    print(f"{'':12}{'episodes':>9}{'wall s':>9}{'ep/min':>9}{'prefix hit':>11}{'prefill s':>10}{'decode s':>10}{'LLM s':>9}")
    for row in (seq, par):
        print(f"{'c=' + str(row['concurrency']):12}{row['episodes']:>9}{row['wall_s']:>9}{row['episodes_per_min']:>9}{row['prefix_cache_hit_rate']!s:>11}"
              f"{row.get('request_prefill_s')!s:>10}{row.get('request_decode_s')!s:>10}{row.get('request_latency_s')!s:>9}")
    print(f"throughput ratio (c={args.concurrency} / c=1): {result['throughput_ratio']}  (target >= 2.5)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
