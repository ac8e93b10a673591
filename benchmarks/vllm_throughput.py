"""Measure a vLLM OpenAI server: time-to-ready, time-to-first-token and decode tokens/s.

Against a running server:

    python benchmarks/vllm_throughput.py --base-url http://127.0.0.1:8000/v1

Or start one (the bundled model, CPU flags from casebank.llm.server), measure it and stop it:

    python benchmarks/vllm_throughput.py --start [--port 8011] [--data-dir .casebank] [--bundled NAME] [--dtype D]

Or several bundled models and dtypes side by side, one server at a time, in one run (a table, and --out JSON):

    python benchmarks/vllm_throughput.py --runs qwen2.5-coder-0.5b-instruct:float32,qwen2.5-coder-0.5b-instruct:bfloat16

With ``ENGINE`` ``llama.cpp`` in place of a dtype, the same GGUF is served by llama.cpp instead
(``llama_cpp.server`` from llama-cpp-python, in the Python named by ``--llamacpp-python``: a throwaway venv,
built from its sdist; it is not a project dependency), measured the same way in the same run, and the table
gives each row's ratio to vLLM on that model:

    python benchmarks/vllm_throughput.py --runs NAME:bfloat16,NAME:llama.cpp --llamacpp-python /tmp/llcpp/bin/python

Each request streams a fixed number of tokens (``ignore_eos`` + ``min_tokens``, greedy), so
runs compare. Decode tokens/s of a request = (tokens - 1) / (last token - first token);
aggregate tokens/s = all tokens of a batch / wall time of the batch. Resident memory is the
summed RSS of the server's processes (``--pid``, or the server this script started).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from casebank.config import data_dir

PROMPT = (
    "Write a Python module that implements a small LRU cache class with get, put and "
    "delete methods, type hints, docstrings and a few doctest examples."
)


def rss_of_group(pid: int) -> int:
    """Summed RSS (bytes) of every process in ``pid``'s process group (Linux /proc)."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return 0
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:  # field 5 of stat: pgrp
                total += int((entry / "statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def one_request(client, model: str, max_tokens: int, prompt: str) -> dict:
    t0 = time.perf_counter()
    first = last = None
    n_chunks = 0
    usage = None
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True, "min_tokens": max_tokens},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            now = time.perf_counter()
            first = first or now
            last = now
            n_chunks += 1
    end = time.perf_counter()
    tokens = usage.completion_tokens if usage else n_chunks
    decode_s = (last - first) if (first and last and last > first) else None
    return {
        "tokens": tokens,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "ttft_s": (first - t0) if first else None,
        "total_s": end - t0,
        "decode_tok_s": (tokens - 1) / decode_s if decode_s else None,
    }


def prefill(client, model: str, tokens: int) -> dict:
    """One prompt of about `tokens` tokens (words that tokenize one to a token, behind a nonce so no cached
    prefix serves it), one token generated: the seconds to the first token over the prompt's tokens."""
    words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]
    text = f"[{time.time_ns()}] " + " ".join(words[i % len(words)] for i in range(tokens)) + "\nSay ok."
    t0 = time.perf_counter()
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], max_tokens=1,
                                           temperature=0)
    seconds = time.perf_counter() - t0
    n = reply.usage.prompt_tokens if reply.usage else tokens
    return {"prompt_tokens": n, "seconds": round(seconds, 2), "prefill_tok_s": round(n / seconds, 1)}


def run_batch(client, model: str, concurrency: int, max_tokens: int, prompt: str) -> dict:
    # Distinct prompts per slot so prefix caching doesn't make later requests free.
    prompts = [f"[{i}] {prompt}" for i in range(concurrency)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda p: one_request(client, model, max_tokens, p), prompts))
    wall = time.perf_counter() - t0
    total_tokens = sum(r["tokens"] for r in results)
    rates = [r["decode_tok_s"] for r in results if r["decode_tok_s"]]
    ttfts = [r["ttft_s"] for r in results if r["ttft_s"] is not None]
    return {
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "tokens": total_tokens,
        "aggregate_tok_s": round(total_tokens / wall, 2),
        "per_request_decode_tok_s": round(statistics.mean(rates), 2) if rates else None,
        "ttft_s_mean": round(statistics.mean(ttfts), 2) if ttfts else None,
        "ttft_s_max": round(max(ttfts), 2) if ttfts else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    ap.add_argument("--model", default=None, help="served model name (default: the first the server lists)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--concurrency", default="1,4", help="comma-separated batch sizes")
    ap.add_argument("--prompt", default=PROMPT)
    ap.add_argument("--prefill-tokens", type=int, default=0, help="also time one prompt of about this many tokens "
                    "(one token generated): prefill tok/s, what an agent's long prompts cost")
    ap.add_argument("--pid", type=int, default=None, help="server pid, for resident memory")
    ap.add_argument("--start", action="store_true", help="start the bundled model's server, measure, stop it")
    ap.add_argument("--port", type=int, default=8011, help="with --start")
    ap.add_argument("--data-dir", default=str(data_dir()), help="with --start")
    ap.add_argument("--dtype", default=None, help="with --start: vLLM --dtype (default: the CPU's, casebank.llm.cpu)")
    ap.add_argument("--bundled", default=None, help="with --start: the bundled model (default: the default model)")
    ap.add_argument("--runs", default=None, help="NAME:DTYPE,...: --start each in turn, one table")
    ap.add_argument("--out", type=Path, default=None, help="with --runs: write the reports as JSON here")
    ap.add_argument("--llamacpp-python", default=None, help="a Python with llama-cpp-python[server], for ENGINE llama.cpp")
    ap.add_argument("--llamacpp-threads", type=int, default=os.cpu_count(), help="llama.cpp --n_threads")
    ap.add_argument("--engine", default="vllm", choices=["vllm", "llama.cpp"], help="with --start")
    ap.add_argument("--ready-timeout", type=float, default=900)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)
    if args.runs:
        return _runs(args)

    from openai import OpenAI

    report: dict = {"load_avg_before": os.getloadavg()}
    proc = None
    base_url = args.base_url
    try:
        if args.start and args.engine == "llama.cpp":
            proc, base_url, ready_s = _start_llamacpp(args, report)
            report["time_to_ready_s"] = round(ready_s, 1)
            args.pid = proc.pid
        elif args.start:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from casebank.llm.cpu import cpu_dtype, dtype_record
            from casebank.llm.model_files import DEFAULT_MODEL_NAME, ensure_model
            from casebank.llm.server import ServerConfig, start_vllm, wait_ready

            name = args.bundled or DEFAULT_MODEL_NAME
            model_dir = ensure_model(name, args.data_dir, progress=lambda m: print(f"  {m}", file=sys.stderr))
            report.update(dtype_record(args.dtype or cpu_dtype(), chosen=args.dtype is None))
            cfg = ServerConfig(model=model_dir, served_model_name=name, port=args.port, data_dir=args.data_dir,
                               dtype=report["dtype"])
            proc = start_vllm(cfg)
            print(f"started vLLM pid {proc.pid}, log {proc.log_path}", file=sys.stderr)
            report["time_to_ready_s"] = round(wait_ready(cfg.base_url, args.ready_timeout, proc=proc), 1)
            base_url = cfg.openai_url
            args.pid = proc.pid

        client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"), timeout=1800)
        model = args.model or client.models.list().data[0].id
        report["model"] = model
        one_request(client, model, 8, "warm-up")  # first request pays for lazy init
        report["batches"] = []
        for n in (int(x) for x in args.concurrency.split(",") if x.strip()):
            batch = run_batch(client, model, n, args.max_tokens, args.prompt)
            report["batches"].append(batch)
            if not args.json:
                print(
                    f"concurrency {n}: {batch['aggregate_tok_s']} tok/s aggregate, "
                    f"{batch['per_request_decode_tok_s']} tok/s per request (decode), "
                    f"TTFT mean {batch['ttft_s_mean']} s, {batch['tokens']} tokens in {batch['wall_s']} s",
                    flush=True,
                )
        if args.prefill_tokens:
            report["prefill"] = prefill(client, model, args.prefill_tokens)
            if not args.json:
                print(f"prefill: {report['prefill']['prompt_tokens']} tokens in {report['prefill']['seconds']} s, "
                      f"{report['prefill']['prefill_tok_s']} tok/s", flush=True)
        if args.pid:
            report["server_rss_mib"] = round(rss_of_group(args.pid) / 2**20)
        report["load_avg_after"] = os.getloadavg()
    finally:
        if proc is not None:
            from casebank.llm.server import stop_vllm

            stop_vllm(proc)  # SIGINT, SIGTERM, SIGKILL to the process group: llama.cpp's server too
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key in ("model", "time_to_ready_s", "server_rss_mib", "load_avg_before", "load_avg_after"):
            if key in report:
                print(f"{key}: {report[key]}")
    return 0


def _start_llamacpp(args: argparse.Namespace, report: dict):
    """llama.cpp's OpenAI server on the bundled model's GGUF (assembled from its chunks, kept under
    DATA_DIR/models/gguf), in its own process group; returns (process, base URL, seconds to ready)."""
    import subprocess
    import urllib.request

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from casebank.llm.cpu import dtype_record
    from casebank.llm.model_files import DEFAULT_MODEL_NAME, assemble_gguf, model_spec, models_dir

    if not args.llamacpp_python:
        raise SystemExit("ENGINE llama.cpp needs --llamacpp-python (a venv with llama-cpp-python[server])")
    name = args.bundled or DEFAULT_MODEL_NAME
    spec = model_spec(name)
    gguf = assemble_gguf(models_dir(args.data_dir) / "gguf" / f"{spec.name}.gguf", spec=spec)
    version = subprocess.run([args.llamacpp_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    report.update(dtype_record("gguf-q4_k_m", chosen=False))  # the weights as they come: llama.cpp runs them quantized
    report.update(engine="llama.cpp", engine_version=version, n_threads=args.llamacpp_threads)
    log = Path(args.data_dir) / "logs" / f"llamacpp-{args.port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.llamacpp_python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", name,
           "--host", "127.0.0.1", "--port", str(args.port), "--n_threads", str(args.llamacpp_threads),
           "--n_ctx", "4096", "--interrupt_requests", "False"]  # queued, not cut off: it serves one request at a time
    proc = subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.perf_counter()
    url = f"http://127.0.0.1:{args.port}/v1"
    while time.perf_counter() - t0 < args.ready_timeout:
        if proc.poll() is not None:
            raise SystemExit(f"llama.cpp server exited {proc.returncode}: {log}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"llama.cpp server not ready after {args.ready_timeout} s: {log}")


def _bounds(reports: list[dict], args: argparse.Namespace) -> list[float | None]:
    """Each row's memory-bandwidth bound on one request's decode (benchmarks.bench.llm): the bandwidth measured
    now, over the bytes a token reads (vLLM: parameters x the served dtype's bytes; llama.cpp: the GGUF's size,
    its quantized weights as they are read)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.bench.llm import DTYPE_BYTES, memory_bandwidth, safetensors_params
    from casebank.llm.model_files import model_dir, model_spec

    bandwidth = memory_bandwidth()["bytes_per_s"]
    out: list[float | None] = []
    for r in reports:
        name = r["model"]
        if r.get("engine") == "llama.cpp":
            per_token = model_spec(name).size
        else:
            params, _, unread = safetensors_params(model_dir(args.data_dir, name))
            per_token = (params - unread) * DTYPE_BYTES.get(r["dtype"], 4)
        out.append(bandwidth / per_token if per_token else None)
    return out


def _runs(args: argparse.Namespace) -> int:
    """Each NAME:DTYPE of --runs started, measured and stopped in turn, in this one process: figures that compare."""
    reports = []
    for item in args.runs.split(","):
        name, _, dtype = item.strip().partition(":")
        argv = ["--start", "--json", "--bundled", name, "--port", str(args.port), "--data-dir", str(args.data_dir),
                "--max-tokens", str(args.max_tokens), "--concurrency", args.concurrency,
                "--prefill-tokens", str(args.prefill_tokens)]
        if dtype == "llama.cpp":
            argv += ["--engine", "llama.cpp", "--llamacpp-threads", str(args.llamacpp_threads)]
            argv += ["--llamacpp-python", args.llamacpp_python] if args.llamacpp_python else []
        elif dtype:
            argv += ["--dtype", dtype]
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            main(argv)
        reports.append(json.loads(buf.getvalue()))
    bound_per_request = _bounds(reports, args)
    levels = args.concurrency.split(",")
    print("| model | engine | dtype | ready s | " + " | ".join(f"tok/s at {n} (per request)" for n in levels)
          + " | RSS MiB | " + " | ".join(f"x vLLM at {n}" for n in levels) + " | bound tok/s, 1 request | x bound at 1 | prefill tok/s |")
    print("|---|---|---|---|" + "---|" * len(levels) + "---|" + "---|" * len(levels) + "---|---|---|")
    for r in reports:
        r.setdefault("engine", "vllm")
        cells = [f"{b['aggregate_tok_s']} ({b['per_request_decode_tok_s']})" for b in r["batches"]]
        # the ratio to the fastest vLLM row of the same model, level by level (same machine, same run)
        peers = [p for p in reports if p["model"] == r["model"] and p.get("engine", "vllm") == "vllm"]
        ratios = []
        for i, b in enumerate(r["batches"]):
            best = max((p["batches"][i]["aggregate_tok_s"] for p in peers), default=None)
            ratios.append(f"{b['aggregate_tok_s'] / best:.2f}" if best else "")
        r["ratio_to_vllm"] = dict(zip(levels, ratios))
        bound = bound_per_request.pop(0)
        r["bound_tok_s_per_request"] = round(bound, 2) if bound else None
        at_one = r["batches"][0]["aggregate_tok_s"] / bound if bound and levels[0].strip() == "1" else None
        print(f"| {r['model']} | {r['engine']} | {r['dtype']} | {r.get('time_to_ready_s')} | " + " | ".join(cells)
              + f" | {r.get('server_rss_mib')} | " + " | ".join(ratios)
              + f" | {r['bound_tok_s_per_request']} | {f'{at_one:.2f}' if at_one else ''} | {(r.get('prefill') or {}).get('prefill_tok_s', '')} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
