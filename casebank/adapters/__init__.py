"""LoRA adapters bundled with the package, so a fresh machine serves the fine-tuned profiles without training.

`casebank-ft/` (when present): the adapter `casebank finetune --preset cpu` trains on the 78 seeds with the
preset's fixed seed: adapter_model.safetensors (bf16, at most 20 MB), adapter_config.json, loss.png and
casebank-manifest.json, whose sha256 of each file is checked before vLLM loads it
(casebank.llm.adapters.verify_adapter). A data dir's own DATA_DIR/adapters/casebank-ft wins over it.
Without either, the API does not offer the casebank-ft profiles and says why.
"""
