"""`make bench`: one command, a table plus JSON and a PNG, every figure measured side by side in one run.

    python -m benchmarks.bench [--sizes 78,1000,10000,100000] [--out benchmarks/results/bench]
                               [--skip-llm | --llm-url http://127.0.0.1:8001/v1] [--episodes RUN_DIR/episodes.jsonl]

Sections: the bank at each size (a child process per size, embedded and on a Chroma server), the embedder,
the agent's overhead per step, the API with 1 and 2 replicas, the LLM's decode speed. Reads: the seeds and
the held-out ladder (cases and queries), a real-model ablation run's episodes.jsonl (step wall time; default
the ladder's, when it exists) and the LLM server at --llm-url. Writes OUT/bench.json and OUT/latency.png.
Embeddings of the generated cases are cached under --bench-dir, so a rerun embeds nothing new.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from casebank import envs  # noqa: E402
from casebank.config import data_dir  # noqa: E402
from casebank.llm.endpoints import DEFAULT_LLM_URL  # noqa: E402

envs.offline_libraries()  # nothing here downloads (the embedder and the LLM are local); the servers it starts inherit it

from benchmarks.bench import report
from benchmarks.bench.banks import BankOptions, run_child

DEFAULT_SIZES = "78,1000,10000,100000"
LADDER_EPISODES = Path("benchmarks/results/ladder/episodes.jsonl")


def sizes_arg(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes: comma-separated whole numbers, got {text!r}"
        ) from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("--sizes: at least one size, each >= 1")
    return sizes


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        type=sizes_arg,
        default=sizes_arg(DEFAULT_SIZES),
        help=f"bank sizes (default {DEFAULT_SIZES})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/bench"),
        help="folder for bench.json and latency.png",
    )
    p.add_argument(
        "--bench-dir",
        type=Path,
        default=data_dir() / "bench",
        help="cached embeddings and the temporary banks",
    )
    p.add_argument(
        "--skip-llm", action="store_true", help="leave out the LLM decode figures"
    )
    p.add_argument(
        "--llm-url",
        default=(envs.setting("llm_url") or DEFAULT_LLM_URL).split(",")[0],
    )
    p.add_argument(
        "--llm-dtype",
        default="auto",
        help="dtype the server holds the weights in (auto: float32 on CPU)",
    )
    p.add_argument(
        "--llm-model-dir",
        type=Path,
        default=None,
        help="the served model's folder, if the server's `root` is not local",
    )
    p.add_argument("--llm-concurrency", default="1,4,8")
    p.add_argument("--llm-max-tokens", type=int, default=128)
    p.add_argument(
        "--no-server",
        action="store_true",
        help="leave out server mode (Chroma server, API replicas)",
    )
    p.add_argument(
        "--episodes",
        type=Path,
        default=LADDER_EPISODES if LADDER_EPISODES.is_file() else None,
        help="a real-model ablation run's episodes.jsonl, for the step wall time",
    )
    p.add_argument(
        "--queries",
        type=int,
        default=100,
        help="queries per strategy and size (held-out ladder tasks)",
    )
    p.add_argument("--writebacks", type=int, default=5)
    p.add_argument(
        "--embed-sample",
        type=int,
        default=1000,
        help="cases ingested with and without embedding, side by side",
    )
    p.add_argument(
        "--hnsw-grid",
        default="16:100,32:200,48:400",
        help="HNSW (M:ef_construction) pairs swept with ef_search at each size; the cheapest that reaches the "
        "recall target is the banks'",
    )
    p.add_argument("--embedder-texts", type=int, default=512)
    p.add_argument("--agent-episodes", type=int, default=5)
    p.add_argument("--api-chats", type=int, default=40)
    p.add_argument("--api-concurrency", type=int, default=16)
    p.add_argument("--seed", type=int, default=0, help="of the synthetic cases")
    return p.parse_args(argv)


def section(
    results: dict[str, Any], name: str, console: Console, fn: Callable[[], Any]
) -> None:
    """Run one section; a failure is recorded as that section's error and the others still run."""
    console.rule(f"[bold]{name}")
    started = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as e:  # noqa: BLE001  (one broken section must not cost the others' figures)
        console.print(f"[red]{name} failed: {e}")
        results[name] = {
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc()[-3000:],
        }
    results["meta"]["section_s"][name] = round(time.perf_counter() - started, 1)


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    import chromadb

    from benchmarks.bench import agent_overhead, api, embedder, llm

    args.bench_dir = args.bench_dir.resolve()
    args.bench_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"meta": {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "chromadb": chromadb.__version__, "load_avg_before": os.getloadavg(),
        "args": {k: str(v) for k, v in vars(args).items()}, "section_s": {},
    }}  # fmt: skip
    bank: dict[str, Any] = {}
    for size in args.sizes:
        opts = BankOptions(
            size=size,
            seed=args.seed,
            queries=args.queries,
            embed_sample=args.embed_sample,
            writebacks=args.writebacks,
            hnsw_grid=[tuple(int(v) for v in pair.split(":")) for pair in args.hnsw_grid.split(",")],
            server=not args.no_server,
            bench_dir=args.bench_dir,
        )
        holder: dict[str, Any] = {"meta": {"section_s": {}}}
        section(
            holder,
            "bank",
            console,
            lambda o=opts: run_child(
                o, args.bench_dir / f"result-{o.size}.json", console
            ),
        )
        results["meta"]["section_s"][f"bank {size}"] = holder["meta"]["section_s"][
            "bank"
        ]
        if "error" in holder["bank"]:
            results.setdefault("errors", {})[f"bank {size}"] = holder["bank"]["error"]
        else:
            bank[str(size)] = holder["bank"]
    results["bank"] = bank
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=args.bench_dir))  # the sections' temporary banks and workspaces
    try:
        section(results, "embedder", console, lambda: embedder.measure(args.embedder_texts, seed=args.seed, work=scratch))
        section(results, "agent", console, lambda: agent_overhead.measure(args.agent_episodes, args.episodes, work=scratch))
        if not args.no_server:
            section(results, "api", console, lambda: api.measure(args.api_chats, args.api_concurrency, work=scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.skip_llm:
        results["llm"] = {"skipped": "--skip-llm"}
    else:
        concurrency = tuple(int(c) for c in args.llm_concurrency.split(","))
        section(
            results,
            "llm",
            console,
            lambda: llm.measure(
                args.llm_url,
                concurrency,
                args.llm_max_tokens,
                args.llm_dtype,
                args.llm_model_dir,
            ),
        )
    results["meta"]["load_avg_after"] = os.getloadavg()
    results["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = (
        Console() if sys.stdout.isatty() else Console(width=220)
    )  # a log keeps the wide bank table whole
    results = run(args, console)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=1, default=str))
    report.print_tables(results, console)
    if results["bank"]:
        report.plot(results, args.out / "latency.png")
    console.print(f"wrote {args.out / 'bench.json'} and {args.out / 'latency.png'}")
    failed = [
        k
        for k in ("embedder", "agent", "api", "llm")
        if isinstance(results.get(k), dict) and "error" in results[k]
    ]
    failed += list(results.get("errors", {}))
    if failed:
        console.print(f"[red]sections that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
