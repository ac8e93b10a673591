"""The pool (issue 30): the volume side of "78 curated demonstrations vs 10,000", as verified trajectories
drawn from the generators' `pool` seed range (lab.generators.SEED_RANGES), which is never evaluated on.

- `lab.pool.build`: `build_pool` walks the seeds, drops leaks of the eval ladders and duplicates, replays each
  reference in the sandbox and appends the verified successes to DIR/pool.jsonl (resumable, DIR/manifest.json).
- `lab.pool.cli`: `casebank pool build`.

`lab.curate` picks N of them (or of any case file) for a seed file.
"""
