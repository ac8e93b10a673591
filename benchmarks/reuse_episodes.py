"""Copy finished episodes from one ablation run into another, so a grid that shares configs with an
earlier run (the four-way table's base/none and base/in-context, from the ladder) does not run them again.

    python benchmarks/reuse_episodes.py benchmarks/results/ladder benchmarks/results/fourway \\
        -c benchmarks/grids/fourway.yaml [--level 1 --level 2]

An episode is copied when it finished (an infrastructure `error` is left to run again), its config hash is
one of the grid's configs, its task passes the grid's filters (and the --level/--split options), and the
destination does not have it yet; its step log comes along. The
source must have run on one harness (one fingerprint in its server.jsonl), and the destination's earlier
invocations, if any, on the same one: episodes of two harnesses in one table would compare nothing. The copy
is recorded in the destination's server.jsonl (source, harness, count), so `casebank ablate` resuming there
sees the fingerprint and the report's reader knows where the episodes came from.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from agent.harness import Harness
from lab.ablate.grid import ADDED_LATER, AblationConfig, AblationGrid
from lab.ablate.records import append_record, read_records
from lab.ablate.runner import SERVER_FILE, step_file
from lab.ablate.runner import run_fingerprints as fingerprints


def as_recorded_before(config: AblationConfig) -> AblationConfig:
    """The config as an agent from before a later lever's default changed recorded it: each such lever that is at
    its new default set to its value from before it existed (copy_guard_short: the ladder's agent had none). The
    harness-fingerprint check keeps source and destination on one agent, so either hash names the same runs."""
    changed = {key: before for key, before in ADDED_LATER.items()
               if Harness.model_fields[key].default != before and getattr(config.harness, key) == Harness.model_fields[key].default}
    return config.model_copy(update={"harness": config.harness.model_copy(update=changed)})


def reuse(src: Path, dst: Path, grid: AblationGrid, levels: list[int], splits: list[str]) -> int:
    """Copy the matching episodes; returns how many. Raises ValueError when the harnesses differ."""
    harness = fingerprints(src)
    if len(harness) != 1:
        raise ValueError(f"{src} ran on {len(harness)} harness fingerprints ({', '.join(sorted(harness)) or 'none'}); need exactly one")
    if (earlier := fingerprints(dst)) and earlier != harness:
        raise ValueError(f"{dst} ran on harness {', '.join(sorted(earlier))}, {src} on {', '.join(harness)}")
    hashes = {h for c in grid.expand() for h in (c.content_hash, as_recorded_before(c).content_hash)}
    have = {r.key for r in read_records(dst)}
    copied = 0
    dst.mkdir(parents=True, exist_ok=True)
    for record in read_records(src):
        task = SimpleNamespace(id=record.task_id, split=record.split, level=record.level, family=record.family)
        if (
            record.config_hash not in hashes
            or record.status == "error"  # infrastructure: the destination runs it again
            or record.key in have
            or not grid.filters.keep(task)
            or (levels and record.level not in levels)
            or (splits and record.split not in splits)
        ):
            continue
        append_record(dst, record)
        if (step := step_file(src, record)).exists():
            step_file(dst, record).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(step, step_file(dst, record))
        have.add(record.key)
        copied += 1
    if copied:  # a rerun that copies nothing leaves the run dir as it was
        with (dst / SERVER_FILE).open("a", encoding="utf-8") as f:
            f.write(json.dumps({"reused_from": str(src), "at": time.time(), "harness": next(iter(harness)), "episodes": copied}) + "\n")
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path, help="The run dir to copy from.")
    parser.add_argument("dst", type=Path, help="The run dir to copy into.")
    parser.add_argument("-c", "--config", type=Path, required=True, help="The destination's grid file.")
    parser.add_argument("--level", type=int, action="append", default=[], help="Copy only this level (repeatable).")
    parser.add_argument("--split", action="append", default=[], help="Copy only this split (repeatable).")
    args = parser.parse_args()
    try:
        n = reuse(args.src, args.dst, AblationGrid.load(args.config), args.level, args.split)
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(f"copied {n} episode(s) from {args.src} into {args.dst}")


if __name__ == "__main__":
    main()
