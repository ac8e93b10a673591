"""The cpu preset's optimizer step in float32 and in bfloat16, side by side in one run, on the seeds.

    python benchmarks/finetune_dtype.py [--model qwen2.5-coder-0.5b-instruct] [--steps 3] [--out FILE.json]

Each dtype trains `--steps` optimizer steps of the cpu preset (4 whole seeds a step, as in the real run) from
scratch into a temp folder; the figures are the manifest's: wall seconds per step, CPU seconds per step, peak
RSS, and the loss at each step. The ratio is float32 / bfloat16 seconds per step. Nothing else should run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    import seeds
    from casebank.llm.cpu import cpu_dtype, dtype_record
    from casebank.llm.model_files import DEFAULT_MODEL_NAME, ensure_model
    from lab.finetune.config import load_config
    from lab.finetune.train import finetune

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL_NAME)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--data-dir", default=".casebank")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    base = ensure_model(args.model, args.data_dir)
    console = Console(stderr=True)
    rows = {}
    for dtype in ("float32", "bfloat16"):
        config = load_config("cpu", overrides={"dtype": dtype, "max_steps": args.steps, "save_steps": 1000})
        with tempfile.TemporaryDirectory() as d:
            m = finetune(config, data_file=seeds.SEEDS_FILE, data_format="casebank", base_model=base, out_dir=Path(d) / "ft",
                         console=console)
        rows[dtype] = {"seconds_per_step": m.seconds_per_step, "cpu_seconds_per_step": round(m.cpu_seconds / max(1, m.steps), 1),
                       "tokens_per_step": m.tokens_per_step, "peak_rss_mb": m.peak_rss_mb, "losses": [p.loss for p in m.losses]}
        print(f"{dtype}: {m.seconds_per_step:.1f} s/step wall, {rows[dtype]['cpu_seconds_per_step']} CPU-s/step, "
              f"peak RSS {m.peak_rss_mb:.0f} MB, losses {rows[dtype]['losses']}", flush=True)
    ratio = rows["float32"]["seconds_per_step"] / max(1e-9, rows["bfloat16"]["seconds_per_step"])
    report = {"model": args.model, "steps": args.steps, "machine": dtype_record(cpu_dtype(), chosen=True), "runs": rows,
              "float32_over_bfloat16": round(ratio, 2)}
    print(f"float32 / bfloat16 seconds per step: {ratio:.2f}x (the machine picks {cpu_dtype()})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
