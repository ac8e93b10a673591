"""Curation (issue 30): N cases of a pool (`casebank pool build`, or any case file such as a `casebank export`)
for a seed file, by one of a few methods, deterministic by seed.

- `lab.curate.methods`: the methods (`METHODS`) and `curate`, which picks.
- `lab.curate.cli`: `casebank curate`.
"""
