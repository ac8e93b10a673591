"""The training run: TRL's SFTTrainer with a PEFT LoRA adapter (or a full fine-tune) on chat+tools records.

Layout of an output folder (default DATA_DIR/adapters/casebank-ft):

- `checkpoints/checkpoint-N/`: the Trainer's checkpoints (adapter, optimizer, scheduler, RNG) every
  `save_steps` optimizer steps, and `checkpoints/run.json`, the config and data hash they belong to.
  A rerun on the same folder resumes from the last complete checkpoint (one whose trainer_state.json,
  written last, exists) when the config and data are the same, and refuses otherwise.
- `adapter_model.safetensors` (bf16) and `adapter_config.json`: what vLLM loads (`--lora-modules`).
- `loss.png`: the training loss per optimizer step; `casebank-manifest.json` (casebank.llm.adapters).

The checkpoints are removed after a finished run (they are not part of the adapter), unless kept.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import resource
import shutil
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from casebank import envs
from casebank.casefile import CaseFileError
from casebank.errors import LabError
from casebank.llm.adapters import (
    LossPoint,
    Manifest,
    hash_files,
    machine_line,
    write_manifest,
)
from casebank.llm.model_files import sha256_file
from lab.finetune.config import FinetuneConfig, dump_config
from lab.finetune.data import encode_all, load_records

CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")
LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "safetensors")


class FinetuneError(LabError, RuntimeError):
    """The run cannot start or go on; the message says why and what to do."""


def missing_libraries() -> list[str]:
    import importlib.util

    return [m for m in ("torch", "transformers", "trl", "peft", "datasets") if importlib.util.find_spec(m) is None]


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def weights_sha256(model_dir: Path) -> dict[str, str]:
    """sha256 of each weights file of the base model. Cached beside them, keyed by size and mtime: hashing
    the 2.5 GB float32 folder costs seconds that every run would pay again."""
    cache_path = Path(model_dir) / ".casebank-sha256.json"
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    result, changed = {}, False
    for path in sorted(Path(model_dir).iterdir()):
        if not path.name.endswith(WEIGHT_SUFFIXES) or path.name.startswith("."):
            continue
        st = path.stat()
        key = f"{st.st_size}:{st.st_mtime_ns}"
        entry = cache.get(path.name)
        if not entry or entry.get("key") != key:
            entry, changed = {"key": key, "sha256": sha256_file(path)}, True
            cache[path.name] = entry
        result[path.name] = entry["sha256"]
    if not result:
        raise FinetuneError(f"{model_dir}: no weights files (*.safetensors): not a Hugging Face model folder")
    if changed:
        try:
            cache_path.write_text(json.dumps(cache, indent=1))
        except OSError:
            pass  # a read-only model folder: hash again next time
    return result


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the highest step whose trainer_state.json (the Trainer writes it last) exists:
    a run killed while writing checkpoint-N resumes from the one before."""
    if not folder.is_dir():
        return None
    done = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _run_identity(config: FinetuneConfig, data_sha: str, base_sha: dict[str, str]) -> dict[str, Any]:
    # Everything that changes what checkpoint-N means; the checkpoint cadence and threads do not.
    settings = config.model_dump(mode="json", exclude={"save_steps", "save_total_limit", "logging_steps", "threads", "preset"})
    return {"config": settings, "data_sha256": data_sha, "base_model_sha256": base_sha}


def _check_resume(ckpt_dir: Path, identity: dict[str, Any], restart: bool) -> Path | None:
    run_file = ckpt_dir / RUN_FILE
    if restart and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    ckpt = last_complete_checkpoint(ckpt_dir)
    if ckpt is not None:
        try:
            previous = json.loads(run_file.read_text())
        except (OSError, ValueError):
            previous = None
        if previous != identity:
            changed = sorted(k for k in identity if (previous or {}).get(k) != identity[k])
            if previous and "config" in changed:
                changed = [f"config.{k}" for k in identity["config"] if previous["config"].get(k) != identity["config"][k]] + \
                          [k for k in changed if k != "config"]
            raise FinetuneError(f"{ckpt_dir} holds checkpoints of another run (differs in: {', '.join(changed) or 'run.json'}); "
                                "pass --restart to discard them, or another --out")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(identity, indent=1))
    return ckpt


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def short_overview(config: FinetuneConfig) -> str:
    if config.method == "full":
        return f"full fine-tune, lr {config.learning_rate:g}, max length {config.max_length}"
    layers = f"last {config.top_layers} layers" if config.top_layers else "all layers"
    return (f"LoRA r={config.rank} alpha={config.alpha}, {len(config.target_modules)} projections x {layers}, "
            f"lr {config.learning_rate:g}, max length {config.max_length}")


def plot_losses(losses: list[LossPoint], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot([p.step for p in losses], [p.loss for p in losses], marker="o", markersize=3, linewidth=1.2)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (nats per loss token)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


class _Callbacks:
    """Rich progress with ETA over optimizer steps, and the loss log; a TrainerCallback built lazily
    (transformers is imported only when training)."""

    @staticmethod
    def make(console: Any, on_loss: Callable[[int, float], None]) -> Any:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from transformers import TrainerCallback

        class RichProgress(TrainerCallback):
            def __init__(self) -> None:
                self.progress: Progress | None = None
                self.task: Any = None
                self.loss = float("nan")

            def on_train_begin(self, args, state, control, **kwargs):
                self.progress = Progress(
                    TextColumn("[bold]fine-tuning"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                    TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=False,
                )
                self.progress.start()
                self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step, loss="-")

            def on_step_end(self, args, state, control, **kwargs):
                if self.progress is not None:
                    self.progress.update(self.task, completed=state.global_step)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    on_loss(state.global_step, float(logs["loss"]))
                    if self.progress is not None:
                        self.progress.update(self.task, loss=f"{logs['loss']:.4f}")

            def on_train_end(self, args, state, control, **kwargs):
                if self.progress is not None:
                    self.progress.update(self.task, completed=state.global_step)
                    self.progress.stop()

        return RichProgress()


def _save_lora_bf16(model: Any, out_dir: Path) -> list[str]:
    """adapter_model.safetensors in bf16 (half the float32 size; vLLM casts to the served dtype) and
    adapter_config.json, written under temporary names and renamed, so a crash leaves the old pair."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in get_peft_model_state_dict(model, save_embedding_layers=False).items()}
    tmp = out_dir / ".adapter.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(state, str(tmp / "adapter_model.safetensors"), metadata={"format": "pt"})
    # adapter_config.json names the base model: its folder name, not this machine's path (the adapter travels).
    config = copy.deepcopy(model.peft_config["default"])
    config.base_model_name_or_path = Path(str(config.base_model_name_or_path)).name
    config.save_pretrained(str(tmp))
    names = ["adapter_model.safetensors", "adapter_config.json"]
    for name in names:
        (tmp / name).replace(out_dir / name)
    tmp.rmdir()
    return names


def _save_full_bf16(model: Any, tokenizer: Any, out_dir: Path) -> list[str]:
    import torch

    model.to(torch.bfloat16).save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    return sorted(p.name for p in out_dir.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix != ".png"
                  and p.name != "casebank-manifest.json" and p.name != "finetune.yaml")


def resolve_dtype(config: FinetuneConfig, *, cuda: bool) -> tuple[FinetuneConfig, dict[str, object]]:
    """The config with its dtype decided (None: bfloat16 on GPU, the CPU's choice on CPU) and what to record of it."""
    from casebank.llm.cpu import cpu_dtype, dtype_record

    if config.dtype is not None:
        return config, dtype_record(config.dtype, chosen=False)
    dtype = "bfloat16" if cuda else cpu_dtype()
    return config.model_copy(update={"dtype": dtype}), dtype_record(dtype, chosen=True)


def finetune(
    config: FinetuneConfig,
    *,
    data_file: Path,
    data_format: Literal["casebank", "limi"],
    base_model: Path,
    out_dir: Path,
    console: Any,
    restart: bool = False,
    keep_checkpoints: bool = False,
) -> Manifest:
    """Train, save the adapter (bf16) with its loss curve and manifest into `out_dir`; resume if interrupted."""
    if missing := missing_libraries():
        raise FinetuneError(f"fine-tuning needs {', '.join(missing)}: pip install -e '.[finetune]' (with torch==2.13.0 pinned "
                            "in the same command, see the Makefile)")
    envs.offline_libraries()
    import datasets
    import torch
    import transformers
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    config, dtype_info = resolve_dtype(config, cuda=torch.cuda.is_available())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out_dir / CHECKPOINTS
    try:
        records = load_records(data_file, data_format, config.limit, config.subset, config.subset_seed)
    except CaseFileError:
        raise
    except ValueError as e:  # a subset larger than the file
        raise FinetuneError(str(e)) from None
    if not records:
        raise FinetuneError(f"{data_file}: no records to train on")
    data_sha = sha256_file(data_file)
    base_sha = weights_sha256(base_model)
    resume = _check_resume(ckpt_dir, _run_identity(config, data_sha, base_sha), restart)
    (out_dir / "finetune.yaml").write_text(dump_config(config))  # what this run used, reusable with --config

    if config.threads:
        torch.set_num_threads(config.threads)
    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if config.dtype == "bfloat16" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    encoded = encode_all(tokenizer, records)
    # Truncated here rather than by TRL (whose keep_end is deprecated); an example left without a loss token is dropped.
    cut = slice(None, config.max_length) if config.truncation == "keep_start" else slice(-config.max_length, None)
    rows = [{"input_ids": e["input_ids"][cut], "assistant_masks": e["assistant_masks"][cut]} for e in encoded]
    truncated = sum(len(e["input_ids"]) > config.max_length for e in encoded)
    dropped = sum(not any(r["assistant_masks"]) for r in rows)
    rows = [r for r in rows if any(r["assistant_masks"])]
    if not rows:
        raise FinetuneError(f"no example keeps an assistant token within max_length {config.max_length} ({config.truncation})")
    n_tokens = sum(len(r["input_ids"]) for r in rows)
    loss_fraction = sum(sum(r["assistant_masks"]) for r in rows) / n_tokens
    console.print(f"{len(records)} examples from {data_file} ({n_tokens:,} tokens after truncation to {config.max_length}, "
                  f"{truncated} truncated, {dropped} dropped without a loss token; {loss_fraction:.1%} carry loss); "
                  f"base model {base_model}", soft_wrap=True)

    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=dtype)
    if config.method == "lora":
        n_layers = model.config.num_hidden_layers
        if config.top_layers and config.top_layers > n_layers:
            raise FinetuneError(f"top_layers {config.top_layers} > the model's {n_layers} layers")
        layers = list(range(n_layers - config.top_layers, n_layers)) if config.top_layers else None
        peft_config = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                 target_modules=list(config.target_modules), layers_to_transform=layers,
                                 layers_pattern="layers" if layers else None, bias="none", task_type="CAUSAL_LM")
        model = get_peft_model(model, peft_config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    console.print(f"{config.train_overview()}: {trainable:,} of {total:,} parameters train", soft_wrap=True)

    args = SFTConfig(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        max_length=config.max_length,  # the rows are already cut to it; packing fills rows up to it
        packing=config.packing,
        gradient_checkpointing=config.gradient_checkpointing,
        # Non-reentrant checkpointing needs no input grads: frozen embeddings under a LoRA adapter stay frozen.
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        bf16=config.dtype == "bfloat16",
        use_cpu=not cuda,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataset_num_proc=None,
    )
    losses: dict[int, float] = {}
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         callbacks=[_Callbacks.make(console, lambda step, loss: losses.__setitem__(step, loss))])
    trainer.remove_callback(PrinterCallback)  # the rich bar shows the loss; no dict per step on the terminal
    resumed_from = int(resume.name.split("-")[-1]) if resume else None
    if resume:
        console.print(f"resuming from {resume} (step {resumed_from})", soft_wrap=True, markup=False)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu_started
    state = trainer.state
    # The restored log history holds the steps before the resume too.
    for entry in state.log_history:
        if "loss" in entry and "step" in entry:
            losses.setdefault(int(entry["step"]), float(entry["loss"]))
    history = [LossPoint(step=s, loss=loss) for s, loss in sorted(losses.items()) if math.isfinite(loss)]

    if config.method == "lora":
        files = _save_lora_bf16(trainer.model, out_dir)
    else:
        files = _save_full_bf16(trainer.model, tokenizer, out_dir)
    steps_run = state.global_step - (resumed_from or 0)
    plot_losses(history, out_dir / "loss.png", f"casebank finetune: {base_model.name}, {len(records)} examples, "
                f"{state.epoch or 0:.2f} epochs, {state.global_step} steps\n{short_overview(config)}")
    manifest = Manifest(
        method=config.method, name=out_dir.name, base_model=base_model.name, base_model_sha256=base_sha,
        data_file=str(data_file), data_format=data_format, data_sha256=data_sha, examples=len(rows),
        loss_token_fraction=round(loss_fraction, 4), config=config, trainable_parameters=trainable, total_parameters=total,
        steps=state.global_step, resumed_from_step=resumed_from,
        tokens_per_step=round(n_tokens * (state.epoch or 1) / max(1, state.global_step), 1),
        train_seconds=round(seconds, 1), seconds_per_step=round(seconds / max(1, steps_run), 2),
        cpu_seconds=round(cpu_seconds, 1), threads=torch.get_num_threads(),
        peak_rss_mb=round(_peak_rss_mb(), 1), final_loss=history[-1].loss if history else None, losses=history,
        files=hash_files(out_dir, files), versions=versions(),
        machine=f"{machine_line()}, {platform.processor() or platform.machine()}, cuda={cuda}",
        dtype_source=str(dtype_info["dtype_source"]), cpu_flags=list(dtype_info["cpu_flags"]),  # type: ignore[call-overload]
    )
    write_manifest(out_dir, manifest)
    if not keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return manifest
