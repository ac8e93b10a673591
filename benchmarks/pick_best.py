"""Pick the best in-context config of a finished ablation run on its `dev` split, for the grids that name
"base/best in-context" (the four-way table, the data-efficiency curve). Tuning happens on dev; the tables
that use the pick report both splits, and say the pick was made on dev.

    python benchmarks/pick_best.py benchmarks/results/ladder --candidate hybrid-k4 --candidate dense-k4 \\
        --candidate bm25-k4 [--rewrite benchmarks/grids/fourway.yaml --rewrite benchmarks/grids/data_efficiency.yaml]

The pick is the candidate with the most dev successes over the same tasks (every candidate must have
finished the same dev tasks, errors excluded); a tie goes to the candidate named first (list the project's
default first). `--rewrite` replaces, in each grid file, the first candidate's name and its `strategy: S,
k: K` with the pick's, text for text, so comments and layout stay; nothing changes when the first
candidate wins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.ablate.grid import AblationConfig
from lab.ablate.records import EpisodeRecord, read_configs, read_records


def dev_successes(records: list[EpisodeRecord], names: list[str], split: str = "dev") -> dict[str, tuple[int, int]]:
    """(successes, episodes) per candidate on `split`. Raises ValueError unless all ran the same finished tasks."""
    done: dict[str, dict[tuple[str, int], bool]] = {name: {} for name in names}
    for r in records:
        if r.config_name in done and r.split == split and r.status != "error":
            done[r.config_name][(r.task_id, r.repeat)] = r.status == "success"
    keys = {name: set(d) for name, d in done.items()}
    first = keys[names[0]]
    if not first or any(k != first for k in keys.values()):
        sizes = ", ".join(f"{n} {len(k)}" for n, k in keys.items())
        raise ValueError(f"the candidates did not finish the same {split} episodes ({sizes}); finish the run first")
    return {name: (sum(d.values()), len(d)) for name, d in done.items()}


def pick(counts: dict[str, tuple[int, int]]) -> str:
    """The most successes; the first-listed on a tie (dicts keep the order given)."""
    return max(counts, key=lambda name: counts[name][0])  # max keeps the first of equal keys


def run_configs(run_dir: Path) -> dict[str, AblationConfig]:
    """The run's configs by name, from the configs.json `casebank ablate` writes."""
    return {e["name"]: AblationConfig.model_validate(e["config"]) for e in read_configs(run_dir).values()}


def _setting(config: AblationConfig) -> str:
    return f"strategy: {config.strategy}, k: {config.k}"


def rewrite(path: Path, default: AblationConfig, best: AblationConfig) -> bool:
    """Swap the default candidate's name and setting for the pick's in one grid file; True when it changed."""
    text = path.read_text(encoding="utf-8")
    new = text.replace(default.name, best.name).replace(_setting(default), _setting(best))
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--candidate", action="append", required=True, help="config name (repeatable; the default first)")
    p.add_argument("--split", default="dev")
    p.add_argument("--rewrite", action="append", type=Path, default=[], help="grid file to point at the pick")
    args = p.parse_args(argv)
    try:
        counts = dev_successes(read_records(args.run_dir), args.candidate, args.split)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    best = pick(counts)
    for name, (ok, n) in counts.items():
        print(f"{'*' if name == best else ' '} {name}: {ok}/{n} on {args.split}")
    configs = run_configs(args.run_dir)
    for path in args.rewrite:
        changed = rewrite(path, configs[args.candidate[0]], configs[best])
        print(f"{path}: {'now uses ' + best if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
