"""`casebank finetune`: LoRA (or full) supervised fine-tuning on the bank's seeds, resumable, with a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from casebank.console import console, err
from casebank.console import fail as _fail

finetune_app = typer.Typer()


@finetune_app.command()
def finetune(
    preset: Annotated[str | None, typer.Option(help="cpu, cpu-1.5b or gpu (lab/finetune/presets/); default: gpu when CUDA is seen, else cpu.")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", "-c", help="YAML file of FinetuneConfig fields, over the preset.")] = None,
    from_: Annotated[Path | None, typer.Option("--from", help="Case file to train on; default: the 78 bundled seeds.")] = None,
    fmt: Annotated[Literal["casebank", "limi"], typer.Option("--format", help="Format of --from.")] = "casebank",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder; default: DATA_DIR/adapters/casebank-ft.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Bundled model to train (casebank llm prepare --model); default: the default model.")] = None,
    base_model: Annotated[Path | None, typer.Option(help="HF model folder, in place of --model.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="casebank data dir (default: CASEBANK_DATA_DIR or ./.casebank).")] = None,
    method: Annotated[Literal["lora", "full"] | None, typer.Option(help="lora or full.")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank.")] = None,
    alpha: Annotated[int | None, typer.Option(help="LoRA alpha.")] = None,
    dropout: Annotated[float | None, typer.Option(help="LoRA dropout.")] = None,
    target_module: Annotated[list[str] | None, typer.Option(help="LoRA target module (repeatable), e.g. q_proj.")] = None,
    top_layers: Annotated[int | None, typer.Option(help="LoRA on the last N layers only.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
    epochs: Annotated[float | None, typer.Option(help="Epochs.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps (overrides epochs).")] = None,
    max_length: Annotated[int | None, typer.Option(help="Tokens per example.")] = None,
    truncation: Annotated[Literal["keep_start", "keep_end"] | None, typer.Option(help="Which end of a long example to keep.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per micro-batch.")] = None,
    grad_accumulation: Annotated[int | None, typer.Option(help="Micro-batches per optimizer step.")] = None,
    packing: Annotated[bool | None, typer.Option("--packing/--no-packing", help="Pack examples (GPU, flash attention).")] = None,
    dtype: Annotated[Literal["float32", "bfloat16"] | None, typer.Option(help="Training dtype (default: bfloat16 where the CPU has bf16 units, else float32).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    limit: Annotated[int | None, typer.Option(help="Train on the first N records only.")] = None,
    subset: Annotated[int | None, typer.Option(help="Train on a fixed random subset of N cases (an ablation's seed_subset N "
                                               "banks the same ones with the same seed).")] = None,
    subset_seed: Annotated[int | None, typer.Option(help="Seed of --subset's draw (default 0, as an ablation's seed).")] = None,
    save_steps: Annotated[int | None, typer.Option(help="Checkpoint every N optimizer steps.")] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads (CPU).")] = None,
    restart: Annotated[bool, typer.Option(help="Discard the output folder's checkpoints and start at step 0.")] = False,
    keep_checkpoints: Annotated[bool, typer.Option(help="Keep checkpoints/ after a finished run.")] = False,
    print_config: Annotated[bool, typer.Option(help="Print the resolved config and exit.")] = False,
) -> None:
    """Fine-tune the bundled model on demonstrations (TRL SFTTrainer, PEFT LoRA; loss on assistant turns only).

    Rerun the same command on the same --out to resume an interrupted run from its last checkpoint.
    Writes the bf16 adapter, loss.png and casebank-manifest.json into --out; serve it with
    `casebank llm serve --lora casebank-ft=OUT`."""
    from casebank.config import data_dir as resolve_data_dir
    from lab.finetune.config import ConfigError, dump_config, load_config

    if preset is None:
        preset = _default_preset()
    flags = {"method": method, "rank": rank, "alpha": alpha, "dropout": dropout, "target_modules": target_module or None,
             "top_layers": top_layers, "learning_rate": learning_rate, "epochs": epochs, "max_steps": max_steps,
             "max_length": max_length, "truncation": truncation, "batch_size": batch_size, "grad_accumulation": grad_accumulation,
             "packing": packing, "dtype": dtype, "seed": seed, "limit": limit, "subset": subset, "subset_seed": subset_seed, "save_steps": save_steps, "threads": threads}
    try:
        config = load_config(preset, config_file, flags)
    except ConfigError as e:
        raise _fail(str(e)) from None
    if print_config:
        console.print(dump_config(config), end="", markup=False, highlight=False)
        return
    if model is not None and base_model is not None:
        raise _fail("--model and --base-model: give one")
    _train(config, from_, fmt, out, model, base_model, resolve_data_dir(data_dir), restart, keep_checkpoints)


def _default_preset() -> str:
    try:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _train(config, from_, fmt, out, model, base_model, data_dir, restart, keep_checkpoints) -> None:
    from casebank.casefile import CaseFileError
    from casebank.llm.adapters import ADAPTER_NAME
    from casebank.llm.cli import _prepare
    from lab.finetune.train import FinetuneError, finetune
    from seeds import default_seed_file

    data_file = from_ or default_seed_file()
    if not data_file.is_file():
        raise _fail(f"--from: no such file: {data_file}")
    if base_model is None:
        base_model = _prepare(data_dir, None, keep_gguf=False, name=model)  # the folder vLLM serves, in any dtype
    elif not (base_model / "config.json").is_file():
        raise _fail(f"--base-model: {base_model} is not a Hugging Face model folder (no config.json)")
    out = out or Path(data_dir) / "adapters" / ADAPTER_NAME
    try:
        manifest = finetune(config, data_file=data_file, data_format=fmt, base_model=base_model, out_dir=out, console=err,
                            restart=restart, keep_checkpoints=keep_checkpoints)
    except (CaseFileError, FinetuneError) as e:
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        err.print(f"interrupted; rerun the same command to resume from the last checkpoint in {out / 'checkpoints'}")
        raise typer.Exit(130) from None
    console.print(f"[green]done[/green]: {manifest.steps} steps in {manifest.train_seconds:.0f}s "
                  f"({manifest.seconds_per_step:.1f} s/step, {manifest.tokens_per_step:.0f} tokens/step), final loss "
                  f"{manifest.final_loss if manifest.final_loss is not None else 'n/a'}, peak RSS {manifest.peak_rss_mb:.0f} MB")
    console.print(f"adapter: {out} (loss curve {out / 'loss.png'}); serve it with "
                  f"`casebank llm serve --lora {ADAPTER_NAME}={out}`", highlight=False)
