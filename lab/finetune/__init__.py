"""Fine-tuning the bundled model on the bank's demonstrations: the second road beside in-context cases.

- `config`: the `cpu` / `gpu` presets (`presets/*.yaml`), a YAML file and flags -> FinetuneConfig.
- `data`: case files -> chat+tools records -> token ids and the assistant-only loss mask.
- `train`: TRL's SFTTrainer + PEFT LoRA, resumable checkpoints, bf16 adapter, loss curve.

The manifest beside an adapter (its sha256 check, where an adapter to serve is found) and FinetuneConfig live
below the lab, in casebank.llm.adapters and casebank.llm.recipe: `serving/` and `casebank llm serve` read them
without importing the lab.
Only `train` needs the `.[finetune]` extra (trl, peft).
"""
