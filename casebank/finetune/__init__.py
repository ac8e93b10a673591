"""Fine-tuning the bundled model on the bank's demonstrations: the second road beside in-context cases.

- `config`: FinetuneConfig and the `cpu` / `gpu` presets (`presets/*.yaml`).
- `data`: case files -> chat+tools records -> token ids and the assistant-only loss mask.
- `train`: TRL's SFTTrainer + PEFT LoRA, resumable checkpoints, bf16 adapter, loss curve.
- `manifest`: the manifest beside an adapter, its sha256 check, where an adapter to serve is found.

Only `train` needs the `.[finetune]` extra (trl, peft); the rest is light and used by serving.
"""
