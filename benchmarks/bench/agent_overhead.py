"""The agent's own cost per step: retrieval, rendering and the graph's bookkeeping (state updates,
checkpoints, prompt building, the harness), as a share of a real step's wall time.

Measured here with the real graph, the real bank (the 78 seeds), the real sandbox and a scripted model
(`agent.testing.ScriptedChatModel`), timing each outside call; bookkeeping is what is left of an episode's
wall time after the model, the tools, the checker, retrieval, rendering and write-back. The real step time
comes from a real-model ablation run's records (`episodes.jsonl`: wall_s / model_calls), so no LLM runs here.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.testing import ScriptedChatModel, tool_call
from benchmarks.bench.timing import summary

SCRIPT = [
    ("list_files", {}),
    ("run", {"command": "ls -la && python3 --version"}),
    ("run", {"command": "python3 -c 'print(sum(range(10)))'"}),
    ("write_file", {"path": "notes.txt", "content": "checked\n"}),
    ("submit", {"summary": "looked at the workspace and wrote notes.txt"}),
]


class Clock:
    """Accumulated ms per label for one episode."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.ms[label] = (
                    self.ms.get(label, 0.0) + (time.perf_counter() - started) * 1000
                )

        return wrapper


class TimedBank:
    def __init__(self, bank: Any, clock: Clock):
        self.retrieve = clock.timed("retrieval", bank.retrieve)
        self.write_back = clock.timed("write_back", bank.write_back)
        self.record_usage = clock.timed("write_back", bank.record_usage)


class TimedEnv:
    def __init__(self, env: Any, clock: Clock):
        self.execute = clock.timed("tools", env.execute)
        self.check = clock.timed("checker", env.check)


class TimedModel:
    def __init__(self, model: ScriptedChatModel, clock: Clock):
        self._invoke = clock.timed("model", model.invoke)

    def invoke(self, messages: Sequence[Any], /, **kwargs: Any) -> Any:
        return self._invoke(messages, **kwargs)


def real_step_time(episodes: Path | None) -> dict[str, Any] | None:
    """Seconds per model call of a real-model run, and its retrieval ms per step, from its records."""
    if episodes is None or not episodes.is_file():
        return None
    from lab.ablate.records import EpisodeRecord

    records = [
        EpisodeRecord.model_validate_json(line)
        for line in episodes.read_text().splitlines()
        if line.strip()
    ]
    done = [r for r in records if r.status != "error" and r.model_calls > 0]
    if not done:
        return None
    calls = sum(r.model_calls for r in done)
    return {
        "file": str(episodes),
        "episodes": len(done),
        "model_calls": calls,
        "step_wall_ms": round(sum(r.wall_s for r in done) * 1000 / calls, 3),
        "retrieval_ms_per_step": round(sum(r.retrieval_ms for r in done) / calls, 3),
    }


def measure(
    episodes: int = 5, episodes_file: Path | None = None, work: Path | None = None
) -> dict[str, Any]:
    import agent.graph as graph_module
    import seeds
    from agent.config import AgentConfig
    from agent.env import SandboxEnvironment
    from agent.runner import Agent
    from benchmarks.bench.synth import seed_cases
    from lab.ablate.runner import _memory_saver
    from casebank.bank import CaseBank
    from casebank.config import Settings
    from casebank.tasks import load_tasks

    work = Path(tempfile.mkdtemp(prefix="agent-", dir=work))
    bank = CaseBank(Settings(data_dir=work / "bank"))
    bank.upsert(seed_cases())
    task = next(t for t in load_tasks(seeds.EVAL_DIR) if t.split == "dev")
    config = AgentConfig(data_dir=work, strategy="hybrid", k=4)
    render = graph_module.render_cases
    per_episode: list[dict[str, float]] = []
    try:
        for _ in range(
            episodes + 1
        ):  # the first one warms caches (BM25 index, imports) and is dropped
            clock = Clock()
            graph_module.render_cases = clock.timed("render", render)
            model = ScriptedChatModel(
                [tool_call(n, a) for n, a in SCRIPT]
                + [tool_call("submit", {"summary": "done"})] * config.max_steps
            )
            agent = Agent(
                config,
                TimedBank(bank, clock),
                TimedModel(model, clock),
                checkpointer=_memory_saver(),
                make_env=lambda path, c=clock: TimedEnv(SandboxEnvironment(path), c),
            )
            result = agent.run_task(task)
            agent.close()
            wall = result.elapsed_s * 1000
            outside = sum(
                clock.ms.get(k, 0.0)
                for k in (
                    "model",
                    "tools",
                    "checker",
                    "retrieval",
                    "render",
                    "write_back",
                )
            )
            per_episode.append(
                {
                    **clock.ms,
                    "wall": wall,
                    "graph": wall - outside,
                    "steps": result.model_calls,
                }
            )
    finally:
        graph_module.render_cases = render
    per_episode = per_episode[1:]
    steps = [e["steps"] for e in per_episode]

    def per_step(label: str) -> dict[str, float]:
        return summary([e.get(label, 0.0) / e["steps"] for e in per_episode])

    overhead = [
        (e.get("retrieval", 0.0) + e.get("render", 0.0) + e["graph"]) / e["steps"]
        for e in per_episode
    ]
    out: dict[str, Any] = {
        "episodes": len(per_episode),
        "task": task.id,
        "model_calls_per_episode": summary([float(s) for s in steps]),
        "per_step_ms": {
            label: per_step(label)
            for label in (
                "retrieval",
                "render",
                "graph",
                "tools",
                "checker",
                "write_back",
                "model",
            )
        },
        "overhead_per_step_ms": summary(overhead),
        "bank_cases": bank.count(),
    }
    real = real_step_time(episodes_file)
    out["real_run"] = real
    if real:
        out["overhead_share"] = round(
            out["overhead_per_step_ms"]["p50"] / real["step_wall_ms"], 5
        )
    else:
        out["overhead_share"] = None
        out["note"] = (
            "no real-model records given (--episodes RUN_DIR/episodes.jsonl): the share needs a real step time"
        )
    return out
