"""From the measured figures to what the bench shows: ratios (each kept with the two figures it divides, as
paths into the same JSON, so anyone can recompute it), targets met or not, a rich table and the PNG."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

STRATEGIES = ("none", "random", "bm25", "dense", "hybrid", "mmr")


def at(results: dict[str, Any], path: str) -> Any:
    """The value at a dotted path ("bank.1000.modes.embedded.query_ms.dense.p95"; a number indexes a list)."""
    node: Any = results
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _ratio(
    results: dict[str, Any], numerator: str, denominator: str
) -> dict[str, Any] | None:
    try:
        a, b = float(at(results, numerator)), float(at(results, denominator))
    except (KeyError, TypeError, IndexError, ValueError):
        return None
    value = a / b if b else math.nan
    return {
        "value": round(value, 4),
        "numerator": numerator,
        "denominator": denominator,
    }


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def add(name: str, numerator: str, denominator: str) -> None:
        if (r := _ratio(results, numerator, denominator)) is not None:
            out[name] = r

    add("embedder_bank_vs_raw", "embedder.bank.per_s", "embedder.raw.per_s")
    add(
        "api_two_vs_one_replica",
        "api.two_replicas.chats_per_s",
        "api.one_replica.chats_per_s",
    )
    sizes = sorted(results.get("bank", {}), key=int)
    for size in sizes:
        for mode in results["bank"][size]["modes"]:
            base = f"bank.{size}.modes.{mode}"
            add(
                f"ingest_store_vs_embed.{mode}.{size}",
                f"{base}.ingest.store_only_same_cases.per_s",
                f"{base}.ingest.with_embedding.per_s",
            )
        if "server" in results["bank"][size]["modes"]:
            for s in ("dense", "hybrid", "bm25"):
                add(
                    f"server_vs_embedded_p50.{s}.{size}",
                    f"bank.{size}.modes.server.query_ms.{s}.p50",
                    f"bank.{size}.modes.embedded.query_ms.{s}.p50",
                )
        add(
            f"dense_vs_query_embedding_p50.{size}",
            f"bank.{size}.modes.embedded.query_ms.dense.p50",
            f"bank.{size}.query_embed_ms.p50",
        )
    if len(sizes) > 1:
        for s in STRATEGIES[1:]:
            add(
                f"latency_growth_p50.{s}.{sizes[-1]}_vs_{sizes[0]}",
                f"bank.{sizes[-1]}.modes.embedded.query_ms.{s}.p50",
                f"bank.{sizes[0]}.modes.embedded.query_ms.{s}.p50",
            )
    if results.get("agent", {}).get("real_run"):
        add(
            "agent_overhead_share",
            "agent.overhead_per_step_ms.p50",
            "agent.real_run.step_wall_ms",
        )
    for i, batch in enumerate(results.get("llm", {}).get("batches", [])):
        add(
            f"llm_decode_vs_bandwidth_bound.c{batch['concurrency']}",
            f"llm.batches.{i}.aggregate_tok_s",
            f"llm.batches.{i}.bound_tok_s",
        )
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, at the largest size measured (they are stated for 100k)."""
    sizes = sorted(results.get("bank", {}), key=int)
    rows: list[dict[str, Any]] = []

    def check(name: str, path: str, op: str, target: float) -> None:
        try:
            value = float(at(results, path))
        except (KeyError, TypeError, IndexError, ValueError):
            return
        met = value < target if op == "<" else value >= target
        rows.append(
            {
                "name": name,
                "path": path,
                "value": round(value, 4),
                "op": op,
                "target": target,
                "met": met,
            }
        )

    if sizes:
        big = sizes[-1]
        for mode in results["bank"][big]["modes"]:
            base = f"bank.{big}.modes.{mode}"
            check(
                f"dense p95 at {big} ({mode}), ms",
                f"{base}.query_ms.dense.p95",
                "<",
                10,
            )
            check(
                f"hybrid p95 at {big} ({mode}), ms",
                f"{base}.query_ms.hybrid.p95",
                "<",
                50,
            )
            check(
                f"write-back then query p95 at {big} ({mode}), ms",
                f"{base}.writeback.total_ms.p95",
                "<",
                200,
            )
        for size in sizes:
            for mode in results["bank"][size]["modes"]:
                check(
                    f"recall@4 at {size} ({mode})",
                    f"bank.{size}.modes.{mode}.recall_at_k",
                    ">=",
                    0.95,
                )
    if "embedder_bank_vs_raw" in results.get("ratios", {}):
        check(
            "embedder through the bank / raw",
            "ratios.embedder_bank_vs_raw.value",
            ">=",
            0.9,
        )
    if "agent_overhead_share" in results.get("ratios", {}):
        check(
            "agent overhead share of a step",
            "ratios.agent_overhead_share.value",
            "<",
            0.05,
        )
    return rows


def _ms(summary: dict[str, Any]) -> str:
    return f"{summary['p50']:.1f} / {summary['p95']:.1f}"


def print_tables(results: dict[str, Any], console: Console) -> None:
    bank = Table(
        title="case bank (ms: p50 / p95, query embedding excluded; k=4)",
        show_lines=False,
    )
    for col in (
        "size",
        "mode",
        "ingest/s embed | store",
        *STRATEGIES,
        "recall@4 (ef)",
        "write+query",
        "RSS MiB",
        "disk MiB",
    ):
        bank.add_column(col, overflow="fold")
    for size in sorted(results.get("bank", {}), key=int):
        entry = results["bank"][size]
        for mode, f in entry["modes"].items():
            ing = f["ingest"]
            mem = f["memory"]
            bank.add_row(
                size,
                mode,
                f"{ing['with_embedding']['per_s']:.0f} | {ing['store_only_full']['per_s']:.0f}",
                *(_ms(f["query_ms"][s]) for s in STRATEGIES),
                f"{f['recall_at_k']:.3f} (M {entry['hnsw'].get('max_neighbors')}, efc {entry['hnsw'].get('ef_construction')}, "
                f"ef {entry['hnsw']['ef_search']})",
                _ms(f["writeback"]["total_ms"]),
                f"{mem.get('bank_rss_mib', mem.get('server_rss_mib'))}",
                f"{mem['disk_mib']}",
            )
        bank.add_row(
            size,
            "query embed",
            "",
            *([""] * 3),
            _ms(entry["query_embed_ms"]),
            *([""] * 6),
        )
    console.print(bank)
    other = Table(title="embedder, agent, API, LLM")
    other.add_column("figure")
    other.add_column("value")
    for name in ("embedder", "agent", "api", "llm"):
        if "error" in results.get(name, {}):
            other.add_row(name, f"[red]failed: {results[name]['error'][:300]}")
    if (e := results.get("embedder")) and "error" not in e:
        other.add_row(
            "embedder texts/s: raw | through the bank",
            f"{e['raw']['per_s']:.0f} | {e['bank']['per_s']:.0f}",
        )
        other.add_row("ONNX/int8", str(e["onnx_int8"].get("skipped", e["onnx_int8"])))
        for name, v in (e.get("query_path") or {}).items():
            if isinstance(v, dict):
                other.add_row(f"query embedding, {name}: ms p50 | x float32 | recall@4 | 4 batched, x per query",
                              f"{v['one_query_ms']['p50']:.1f} | {v['speedup_vs_float32']} | {v['recall_at_4_vs_float32']} | "
                              f"{v['batched_speedup_per_query']}")
        if verdict := (e.get("query_path") or {}).get("verdict"):
            other.add_row("query embedding verdict", verdict)
    if (a := results.get("agent")) and "error" not in a:
        other.add_row(
            "agent overhead per step, ms (retrieval+render+graph)",
            _ms(a["overhead_per_step_ms"]),
        )
        for label, s in a["per_step_ms"].items():
            other.add_row(f"  {label} per step, ms", _ms(s))
        other.add_row(
            "real step wall time, ms",
            str(a["real_run"]["step_wall_ms"])
            if a.get("real_run")
            else a.get("note", ""),
        )
    if (api := results.get("api")) and "error" not in api:
        for key in ("one_replica", "two_replicas"):
            r = api[key]
            other.add_row(
                f"API chats/s, {r['replicas']} replica(s)",
                f"{r['chats_per_s']:.2f} ({r['ok']}/{r['chats']} ok, latency {_ms(r['latency_ms'])} ms)",
            )
    if (llm := results.get("llm")) and "batches" in llm:
        other.add_row(
            "LLM bound (bandwidth / weight bytes)",
            f"{llm['bound_tok_s_per_request']} tok/s per request, {llm['bandwidth']['gib_per_s']} GiB/s",
        )
        for b in llm["batches"]:
            other.add_row(
                f"LLM decode, {b['concurrency']} concurrent",
                f"{b['aggregate_tok_s']} tok/s ({b['ratio_to_bound']:.0%} of bound)",
            )
    elif llm and "skipped" in llm:
        other.add_row("LLM", llm["skipped"])
    console.print(other)
    ratio_table = Table(title="ratios (measured side by side in this run)")
    ratio_table.add_column("ratio")
    ratio_table.add_column("value", justify="right")
    for name, r in results.get("ratios", {}).items():
        ratio_table.add_row(name, f"{r['value']:.3f}")
    console.print(ratio_table)
    target_table = Table(
        title="targets (stated for 100k; checked at the largest size measured)"
    )
    for col in ("target", "value", "goal", "met"):
        target_table.add_column(col)
    for t in results.get("targets", []):
        target_table.add_row(
            t["name"],
            f"{t['value']:g}",
            f"{t['op']} {t['target']:g}",
            "[green]yes" if t["met"] else "[red]no",
        )
    console.print(target_table)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results["bank"], key=int)
    xs = [int(s) for s in sizes]
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, strategy in enumerate(STRATEGIES):
        for mode, style in (("embedded", "-"), ("server", "--")):
            ys = [
                results["bank"][s]["modes"]
                .get(mode, {})
                .get("query_ms", {})
                .get(strategy, {})
                .get("p50")
                for s in sizes
            ]
            if any(y is not None for y in ys):
                ax.plot(
                    xs,
                    ys,
                    style,
                    marker="o",
                    color=colors[i % len(colors)],
                    label=f"{strategy} ({mode})",
                )
    embed = [results["bank"][s]["query_embed_ms"]["p50"] for s in sizes]
    ax.plot(
        xs,
        embed,
        ":",
        marker="x",
        color="gray",
        label="query embedding (excluded above)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cases in the bank (log scale)")
    ax.set_ylabel("query latency p50, ms (log scale)")
    load = results["meta"].get("load_avg_before", [float("nan")])[0]
    ax.set_title(f"casebank retrieval latency vs bank size (k=4, {results['meta']['cpus']} CPUs, load avg {load:.1f} at start)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
